package deploy

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/redis/go-redis/v9"
	"gopkg.in/yaml.v3"

	"github.com/genericcorp/baton/internal/ratelimit"
	"github.com/genericcorp/baton/internal/server"
	"github.com/genericcorp/baton/internal/store/sqlite"
	"github.com/genericcorp/baton/pkg/config"
)

// metricRef matches the metric names a PromQL expression can mention:
// baton's own, the Go runtime's and the process's, and Prometheus's up.
var metricRef = regexp.MustCompile(`\b(?:(?:baton|go|process)_[a-zA-Z0-9_]+|up)\b`)

// exportedMetrics builds a server as `baton server` does (SQLite store,
// its own registry, the Redis fallback's counter), runs a small workload
// and returns the names a query can use: each family, and a histogram's
// _bucket, _sum and _count series; plus up, which Prometheus adds.
func exportedMetrics(t *testing.T) (names map[string]bool, baton []string) {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "baton.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}) // never dialled
	t.Cleanup(func() { rdb.Close() })
	if _, err := ratelimit.NewFallback(ratelimit.NewRedis(rdb, ""), ratelimit.NewMemory(ratelimit.MemoryOptions{}),
		ratelimit.FallbackOptions{Registerer: reg}); err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Config{Store: st, Secret: []byte("deploy-test-secret-0123456789abcdef"),
		Tiers: config.DefaultTiers(), DefaultTier: "free", Metrics: reg, Version: "test", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	for _, path := range []string{"/healthz", "/v1/me", "/metrics"} {
		res, err := http.Get(hs.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	names = map[string]bool{"up": true}
	for _, mf := range mfs {
		n := mf.GetName()
		names[n] = true
		if mf.GetType() == dto.MetricType_HISTOGRAM {
			names[n+"_bucket"], names[n+"_sum"], names[n+"_count"] = true, true, true
		}
		if strings.HasPrefix(n, "baton_") {
			baton = append(baton, n)
		}
	}
	return names, baton
}

// dashboardExprs returns every query expression of the Grafana dashboard.
func dashboardExprs(t *testing.T) []string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("grafana", "baton-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Title  string `json:"title"`
		UID    string `json:"uid"`
		Panels []struct {
			Type    string `json:"type"`
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("baton-dashboard.json: %v", err)
	}
	if dash.Title == "" || dash.UID == "" || len(dash.Panels) == 0 {
		t.Fatalf("baton-dashboard.json: no title, uid or panels")
	}
	var exprs []string
	for _, p := range dash.Panels {
		if p.Type != "row" && len(p.Targets) == 0 {
			t.Errorf("dashboard panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			exprs = append(exprs, tg.Expr)
		}
	}
	return exprs
}

// alertExprs returns every rule expression of the alert rules, checking
// that each rule has a name, a severity and a summary.
func alertExprs(t *testing.T) []string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("prometheus", "baton-alerts.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var rules struct {
		Groups []struct {
			Name  string `yaml:"name"`
			Rules []struct {
				Alert       string            `yaml:"alert"`
				Expr        string            `yaml:"expr"`
				For         string            `yaml:"for"`
				Labels      map[string]string `yaml:"labels"`
				Annotations map[string]string `yaml:"annotations"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(raw, &rules); err != nil {
		t.Fatalf("baton-alerts.yaml: %v", err)
	}
	var exprs []string
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" || r.Expr == "" || r.Labels["severity"] == "" || r.Annotations["summary"] == "" {
				t.Errorf("alert rule %+v: want alert, expr, labels.severity and annotations.summary", r)
			}
			exprs = append(exprs, r.Expr)
		}
	}
	if len(exprs) == 0 {
		t.Fatal("baton-alerts.yaml has no rules")
	}
	return exprs
}

// TestDashboardAndAlertsUseExportedMetrics: every metric the dashboard and
// the alert rules query is one the server exports, and every baton_ metric
// the server exports appears in one of them.
func TestDashboardAndAlertsUseExportedMetrics(t *testing.T) {
	exported, baton := exportedMetrics(t)
	used := map[string]bool{}
	for file, exprs := range map[string][]string{"dashboard": dashboardExprs(t), "alerts": alertExprs(t)} {
		for _, e := range exprs {
			for _, name := range metricRef.FindAllString(e, -1) {
				used[name] = true
				if !exported[name] {
					t.Errorf("%s: %s is not a metric the server exports (in %q)", file, name, e)
				}
			}
		}
	}
	sort.Strings(baton)
	for _, name := range baton {
		if !used[name] && !used[name+"_bucket"] {
			t.Errorf("%s is exported but neither charted nor alerted on", name)
		}
	}
}
