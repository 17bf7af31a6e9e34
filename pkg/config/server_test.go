package config

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/genericcorp/baton/pkg/api"
	"github.com/spf13/pflag"
)

const sampleServerConfig = `# baton server config
listen: 0.0.0.0:8080
database_url: postgres://baton@db/baton
data_dir: /srv/baton
log_format: json
alert_webhook_url: https://hooks.example.com/baton
default_tier: pro
db_max_conns: 20
shutdown_timeout: 1m
cost:
  execution_second_usd: 0.000012
  api_call_usd: "0.0002"
tiers:
  pro:
    price_usd: 59.5
    requests_per_minute: 900
    max_queued_tasks: 20_000
  enterprise:
    price_usd: 999
    max_concurrent_tasks: 200
    monthly_spend_usd: 10000.25
`

func flags(t *testing.T, args ...string) *pflag.FlagSet {
	t.Helper()
	fs := pflag.NewFlagSet("server", pflag.ContinueOnError)
	ServerFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return fs
}

func TestLoadServerDefaults(t *testing.T) {
	s, err := LoadServer(flags(t), env(map[string]string{"HOME": "/home/u"}))
	if err != nil {
		t.Fatal(err)
	}
	want := Server{
		Listen: "127.0.0.1:7070", DataDir: "/home/u/.local/share/baton", LogFormat: "auto",
		DefaultTier: "free", Tiers: DefaultTiers(), ShutdownTimeout: 30 * time.Second, Lease: DefaultLease, HeartbeatInterval: DefaultHeartbeatInterval,
		Cost: Cost{ExecutionSecondMicros: 20, APICallMicros: 100},
	}
	if !reflect.DeepEqual(s, want) {
		t.Fatalf("LoadServer =\n %+v\nwant\n %+v", s, want)
	}
}

func TestLoadServerSampleFile(t *testing.T) {
	p := writeFile(t, t.TempDir(), "server.yaml", sampleServerConfig, 0o600)
	s, err := LoadServer(flags(t, "--config", p), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if s.Listen != "0.0.0.0:8080" || s.DatabaseURL != "postgres://baton@db/baton" || s.DataDir != "/srv/baton" ||
		s.LogFormat != "json" || s.AlertWebhookURL != "https://hooks.example.com/baton" || s.DefaultTier != "pro" ||
		s.DBMaxConns != 20 || s.ShutdownTimeout != time.Minute {
		t.Fatalf("scalars: %+v", s)
	}
	if s.Cost != (Cost{ExecutionSecondMicros: 12, APICallMicros: 200}) {
		t.Fatalf("cost = %+v", s.Cost)
	}
	// pro: given fields replace, the rest from the default pro tier.
	pro := DefaultTiers()["pro"]
	pro.PriceMonthlyMicro = 59_500_000
	pro.Limits.RequestsPerMinute = 900
	pro.Limits.MaxQueuedTasks = 20_000
	if !reflect.DeepEqual(s.Tiers["pro"], pro) {
		t.Errorf("pro = %+v, want %+v", s.Tiers["pro"], pro)
	}
	// enterprise: a new tier, the rest from free.
	ent := DefaultTiers()["free"]
	ent.Name, ent.PriceMonthlyMicro = "enterprise", 999_000_000
	ent.Limits.MaxConcurrentTasks, ent.Limits.MonthlySpendMicros = 200, 10_000_250_000
	if !reflect.DeepEqual(s.Tiers["enterprise"], ent) {
		t.Errorf("enterprise = %+v, want %+v", s.Tiers["enterprise"], ent)
	}
	// Tiers not in the file stay.
	if !reflect.DeepEqual(s.Tiers["free"], DefaultTiers()["free"]) || !reflect.DeepEqual(s.Tiers["team"], DefaultTiers()["team"]) {
		t.Error("default tiers not kept")
	}
}

func TestLoadServerPrecedence(t *testing.T) {
	file := writeFile(t, t.TempDir(), "server.yaml", "listen: file:1\ndata_dir: /file\ndb_max_conns: 5\nlog_format: json\n", 0o600)
	tests := []struct {
		name  string
		args  []string
		env   map[string]string
		check func(Server) bool
	}{
		{"default", nil, map[string]string{"XDG_DATA_HOME": "/xdg"},
			func(s Server) bool {
				return s.Listen == DefaultListen && s.DataDir == "/xdg/baton" && s.DBMaxConns == 0
			}},
		{"file", []string{"--config", file}, nil,
			func(s Server) bool {
				return s.Listen == "file:1" && s.DataDir == "/file" && s.DBMaxConns == 5 && s.LogFormat == "json"
			}},
		{"file via BATON_CONFIG", nil, map[string]string{"BATON_CONFIG": file},
			func(s Server) bool { return s.Listen == "file:1" }},
		{"env over file", []string{"--config", file},
			map[string]string{"BATON_LISTEN": "env:2", "BATON_DATA_DIR": "/env", "BATON_DB_MAX_CONNS": "7", "BATON_LOG_FORMAT": "text"},
			func(s Server) bool {
				return s.Listen == "env:2" && s.DataDir == "/env" && s.DBMaxConns == 7 && s.LogFormat == "text"
			}},
		{"flag over env", []string{"--config", file, "--listen", "flag:3", "--data-dir", "/flag", "--db-max-conns", "9", "--log-format", "json"},
			map[string]string{"BATON_LISTEN": "env:2", "BATON_DATA_DIR": "/env", "BATON_DB_MAX_CONNS": "7", "BATON_LOG_FORMAT": "text"},
			func(s Server) bool {
				return s.Listen == "flag:3" && s.DataDir == "/flag" && s.DBMaxConns == 9 && s.LogFormat == "json"
			}},
		{"--config over BATON_CONFIG", []string{"--config", file}, map[string]string{"BATON_CONFIG": "/does/not/exist"},
			func(s Server) bool { return s.Listen == "file:1" }},
		{"env only", nil, map[string]string{"BATON_DATABASE_URL": "postgres://x", "BATON_REDIS_URL": "redis://r",
			"BATON_SECRET": "s3cret", "BATON_ADMIN_KEY": "bak_x", "BATON_ALERT_WEBHOOK_URL": "https://h", "SENTRY_DSN": "https://k@sentry/1"},
			func(s Server) bool {
				return s.DatabaseURL == "postgres://x" && s.RedisURL == "redis://r" && s.Secret == "s3cret" &&
					s.AdminKey == "bak_x" && s.AlertWebhookURL == "https://h" && s.SentryDSN == "https://k@sentry/1"
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := LoadServer(flags(t, tt.args...), env(tt.env))
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(s) {
				t.Fatalf("unexpected %+v", s)
			}
		})
	}
}

func TestLoadServerIgnoresProcessEnv(t *testing.T) {
	t.Setenv("BATON_LISTEN", "process:1")
	t.Setenv("BATON_LOG_FORMAT", "xml")
	t.Setenv("BATON_CONFIG", "/does/not/exist")
	t.Setenv("LISTEN", "process:2")
	s, err := LoadServer(nil, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if s.Listen != DefaultListen || s.LogFormat != "auto" {
		t.Fatalf("process env leaked: %+v", s)
	}
}

// `baton dev` registers only some of the flags.
func TestLoadServerPartialFlagSet(t *testing.T) {
	fs := pflag.NewFlagSet("dev", pflag.ContinueOnError)
	fs.String("listen", "", "")
	fs.String("data-dir", "", "")
	if err := fs.Parse([]string{"--data-dir", "/d"}); err != nil {
		t.Fatal(err)
	}
	s, err := LoadServer(fs, env(map[string]string{"BATON_LISTEN": "env:1"}))
	if err != nil || s.DataDir != "/d" || s.Listen != "env:1" {
		t.Fatalf("%+v, %v", s, err)
	}
}

func TestLoadServerErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, file string
		env        map[string]string
		want       []string // substrings of the error
	}{
		{"log format env", "", map[string]string{"BATON_LOG_FORMAT": "xml"}, []string{"log_format", "BATON_LOG_FORMAT"}},
		{"log format file", "log_format: pretty\n", nil, []string{"log_format", "server.yaml"}},
		{"db max conns", "", map[string]string{"BATON_DB_MAX_CONNS": "ten"}, []string{"db_max_conns", "BATON_DB_MAX_CONNS"}},
		{"db max conns negative", "db_max_conns: -1\n", nil, []string{"db_max_conns"}},
		{"listen", "", map[string]string{"BATON_LISTEN": "7070"}, []string{"listen", "BATON_LISTEN"}},
		{"shutdown", "shutdown_timeout: 30\n", nil, []string{"shutdown_timeout"}},
		{"default tier", "default_tier: gold\n", nil, []string{"default_tier", "gold", "free, pro, team"}},
		{"negative limit", "tiers:\n  pro:\n    burst: -1\n", nil, []string{"tiers.pro.burst", ">= 0"}},
		{"bad spend", "tiers:\n  pro:\n    monthly_spend_usd: 1e3\n", nil, []string{"tiers.pro.monthly_spend_usd"}},
		{"bad price", "tiers:\n  pro:\n    price_usd: -1\n", nil, []string{"tiers.pro.price_usd"}},
		{"bad tier name", "tiers:\n  Gold:\n    burst: 1\n", nil, []string{"tiers.Gold"}},
		{"float limit", "tiers:\n  pro:\n    burst: 1.5\n", nil, []string{"burst"}},
		{"exponent limit", "tiers:\n  pro:\n    max_queued_tasks: 1e3\n", nil, []string{"tiers.pro.max_queued_tasks", "whole number"}},
		{"bad cost", "cost:\n  api_call_usd: 0.0000001\n", nil, []string{"cost.api_call_usd", "6 decimal"}},
		{"bad cost string", "cost:\n  execution_second_usd: abc\n", nil, []string{"cost.execution_second_usd"}},
		{"unknown key", "listne: x\n", nil, []string{"listne"}},
		{"unknown tier key", "tiers:\n  pro:\n    monthly_spend_micros: 5\n", nil, []string{"monthly_spend_micros"}},
		{"not yaml", "tiers: [", nil, []string{"server.yaml"}},
		{"missing file", "-", map[string]string{"BATON_CONFIG": "/does/not/exist.yaml"}, []string{"/does/not/exist.yaml"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := map[string]string{}
			for k, v := range tt.env {
				e[k] = v
			}
			if tt.file != "" && tt.file != "-" {
				e["BATON_CONFIG"] = writeFile(t, dir, "server.yaml", tt.file, 0o600)
			}
			_, err := LoadServer(nil, env(e))
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestDefaultTiers(t *testing.T) {
	tiers := DefaultTiers()
	want := map[string]struct {
		price int64
		l     api.Limits
	}{
		"free": {0, api.Limits{RequestsPerMinute: 60, Burst: 20, MaxConcurrentTasks: 2, MaxTaskDurationSeconds: 300,
			MaxQueuedTasks: 100, MonthlyTaskExecutions: 1000, MonthlyExecutionSeconds: 3600, MonthlySpendMicros: 5_000_000,
			MaxLogBytesPerTask: 1 << 20, EventRetentionDays: 7, MaxOpenStreams: 10}},
		"pro": {49_000_000, api.Limits{RequestsPerMinute: 600, Burst: 100, MaxConcurrentTasks: 10, MaxTaskDurationSeconds: 3600,
			MaxQueuedTasks: 10000, MonthlyTaskExecutions: 50000, MonthlyExecutionSeconds: 180000, MonthlySpendMicros: 200_000_000,
			MaxLogBytesPerTask: 16 << 20, EventRetentionDays: 30, MaxOpenStreams: 100}},
		"team": {99_000_000, api.Limits{RequestsPerMinute: 3000, Burst: 500, MaxConcurrentTasks: 50, MaxTaskDurationSeconds: 21600,
			MaxQueuedTasks: 100000, MonthlyTaskExecutions: 500000, MonthlyExecutionSeconds: 1800000, MonthlySpendMicros: 2_000_000_000,
			MaxLogBytesPerTask: 64 << 20, EventRetentionDays: 90, MaxOpenStreams: 500}},
	}
	if len(tiers) != len(want) {
		t.Fatalf("%d tiers, want %d", len(tiers), len(want))
	}
	for name, w := range want {
		got := tiers[name]
		if got.Name != name || got.PriceMonthlyMicro != w.price || got.Limits != w.l {
			t.Errorf("%s = %+v, want price %d limits %+v", name, got, w.price, w.l)
		}
	}
	tiers["free"] = api.Tier{}
	if DefaultTiers()["free"].Limits.Burst != 20 {
		t.Error("DefaultTiers returns shared state")
	}
}

func TestDefaultDataDir(t *testing.T) {
	for _, tt := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"BATON_DATA_DIR": "/d", "XDG_DATA_HOME": "/x", "HOME": "/h"}, "/d"},
		{map[string]string{"XDG_DATA_HOME": "/x", "HOME": "/h"}, "/x/baton"},
		{map[string]string{"XDG_DATA_HOME": "rel", "HOME": "/h"}, "/h/.local/share/baton"},
		{nil, ""},
	} {
		if got := DefaultDataDir(env(tt.env)); got != tt.want {
			t.Errorf("DefaultDataDir(%v) = %q, want %q", tt.env, got, tt.want)
		}
	}
}

func TestServerFlagsUsageNamesEnv(t *testing.T) {
	fs := flags(t)
	for flag, envName := range map[string]string{
		"listen": "BATON_LISTEN", "database-url": "BATON_DATABASE_URL", "redis-url": "BATON_REDIS_URL",
		"config": "BATON_CONFIG", "data-dir": "BATON_DATA_DIR", "db-max-conns": "BATON_DB_MAX_CONNS",
		"log-format": "BATON_LOG_FORMAT",
	} {
		f := fs.Lookup(flag)
		if f == nil || !strings.Contains(f.Usage, envName) {
			t.Errorf("--%s: missing, or usage does not name %s", flag, envName)
		}
	}
}

func TestLoadServerLeaseTimings(t *testing.T) {
	env := map[string]string{"HOME": "/home/u", "BATON_LEASE": "4s", "BATON_HEARTBEAT_INTERVAL": "1s"}
	s, err := LoadServer(nil, func(k string) string { return env[k] })
	if err != nil || s.Lease != 4*time.Second || s.HeartbeatInterval != time.Second {
		t.Fatalf("LoadServer = %v %v, %v", s.Lease, s.HeartbeatInterval, err)
	}
	env["BATON_HEARTBEAT_INTERVAL"] = "3s" // more than half the lease
	if _, err := LoadServer(nil, func(k string) string { return env[k] }); err == nil || !strings.Contains(err.Error(), "heartbeat_interval") {
		t.Fatalf("err = %v, want a heartbeat_interval error", err)
	}
	env["BATON_LEASE"] = "soon"
	if _, err := LoadServer(nil, func(k string) string { return env[k] }); err == nil || !strings.Contains(err.Error(), "BATON_LEASE") {
		t.Fatalf("err = %v, want a lease error naming BATON_LEASE", err)
	}
}

func TestLoadServerPprof(t *testing.T) {
	fs := pflag.NewFlagSet("server", pflag.ContinueOnError)
	ServerFlags(fs)
	PprofFlags(fs)
	env := map[string]string{"BATON_PPROF_LISTEN": "127.0.0.1:6060"}
	getenv := func(k string) string { return env[k] }

	s, err := LoadServer(fs, nil)
	if err != nil || s.PprofListen != "" || s.PprofAllowRemote {
		t.Fatalf("default: %+v, %v; want pprof off", s.PprofListen, err)
	}
	if s, err = LoadServer(fs, getenv); err != nil || s.PprofListen != "127.0.0.1:6060" {
		t.Fatalf("env: %q, %v", s.PprofListen, err)
	}
	if err := fs.Parse([]string{"--pprof-listen", "0.0.0.0:7000", "--pprof-allow-remote"}); err != nil {
		t.Fatal(err)
	}
	if s, err = LoadServer(fs, getenv); err != nil || s.PprofListen != "0.0.0.0:7000" || !s.PprofAllowRemote {
		t.Fatalf("flag over env: %q %v, %v", s.PprofListen, s.PprofAllowRemote, err)
	}
	for _, bad := range []map[string]string{{"BATON_PPROF_LISTEN": "6060"}, {"BATON_PPROF_ALLOW_REMOTE": "maybe"}} {
		_, err := LoadServer(nil, func(k string) string { return bad[k] })
		if err == nil || !strings.Contains(err.Error(), "pprof_") || !strings.Contains(err.Error(), "BATON_PPROF_") {
			t.Errorf("LoadServer(%v) = %v, want an error naming the key and its origin", bad, err)
		}
	}
}

func TestLoadServerMetrics(t *testing.T) {
	fs := pflag.NewFlagSet("server", pflag.ContinueOnError)
	ServerFlags(fs)
	env := map[string]string{"BATON_METRICS_LISTEN": "127.0.0.1:9090", "BATON_METRICS_TOKEN": "scrape-token-0123456789"}
	getenv := func(k string) string { return env[k] }

	s, err := LoadServer(fs, nil)
	if err != nil || s.MetricsListen != "" || s.MetricsToken != "" {
		t.Fatalf("default: %q %q, %v; want /metrics on the API's listener, open", s.MetricsListen, s.MetricsToken, err)
	}
	if s, err = LoadServer(fs, getenv); err != nil || s.MetricsListen != "127.0.0.1:9090" || s.MetricsToken != env["BATON_METRICS_TOKEN"] {
		t.Fatalf("env: %q %q, %v", s.MetricsListen, s.MetricsToken, err)
	}
	if strings.Contains(fmt.Sprint(s.LogValue()), env["BATON_METRICS_TOKEN"]) {
		t.Errorf("LogValue shows the metrics token: %v", s.LogValue())
	}
	if fs.Lookup("metrics-token") != nil {
		t.Error("--metrics-token exists: a secret must not be a flag (ps, shell history)")
	}
	if err := fs.Parse([]string{"--metrics-listen", "127.0.0.1:9100"}); err != nil {
		t.Fatal(err)
	}
	if s, err = LoadServer(fs, getenv); err != nil || s.MetricsListen != "127.0.0.1:9100" {
		t.Fatalf("flag over env: %q, %v", s.MetricsListen, err)
	}
	for _, bad := range []map[string]string{{"BATON_METRICS_LISTEN": "9090"}, {"BATON_METRICS_TOKEN": "short"}} {
		_, err := LoadServer(nil, func(k string) string { return bad[k] })
		if err == nil || !strings.Contains(err.Error(), "metrics_") || !strings.Contains(err.Error(), "BATON_METRICS_") {
			t.Errorf("LoadServer(%v) = %v, want an error naming the key and its origin", bad, err)
		}
	}
}
