package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/genericcorp/baton/internal/metering"
	"github.com/genericcorp/baton/internal/store"
	"github.com/genericcorp/baton/internal/testutil"
	"github.com/genericcorp/baton/pkg/api"
)

// receiver is a local webhook endpoint that keeps what it is sent.
type receiver struct {
	*httptest.Server
	mu  sync.Mutex
	got []api.Alert
}

func newReceiver(t *testing.T) *receiver {
	rc := &receiver{}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var a api.Alert
		if err := json.Unmarshal(body, &a); err != nil || r.Header.Get(metering.HeaderAlertID) != a.ID {
			http.Error(w, "bad alert", 400)
			return
		}
		rc.mu.Lock()
		rc.got = append(rc.got, a)
		rc.mu.Unlock()
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) alerts() []api.Alert {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]api.Alert(nil), rc.got...)
}

// runBackground runs the server's background work for the test (alert
// evaluation is called by the test itself: AlertEvery is long).
func (b *bundle) runBackground() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); b.srv.RunBackground(ctx) }()
	b.t.Cleanup(func() { cancel(); <-done })
}

func (b *bundle) evaluate() {
	b.t.Helper()
	if err := b.srv.EvaluateAlerts(context.Background()); err != nil {
		b.t.Fatal(err)
	}
}

func (b *bundle) alerts(cred, query string) []api.Alert {
	b.t.Helper()
	var l api.List[api.Alert]
	b.call("GET", "/v1/alerts"+query, cred, nil, 200, &l)
	return l.Data
}

func withWebhook(url string) func(*Config) {
	return func(c *Config) {
		c.AlertWebhooks = []string{url}
		c.AlertEvery = time.Hour
	}
}

// TestAnomalyAlert: a day of steady API traffic with noise raises no
// anomaly, hour after hour; a spike of 20× the baseline raises exactly one,
// however often it is evaluated, and the webhook receiver gets it.
func TestAnomalyAlert(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t)
	b := setupWith(t, withWebhook(rc.URL))
	b.runBackground()
	ws := b.newTenant("spiky")
	rng := rand.New(rand.NewPCG(1, 2))
	n := 0
	// 200 calls an hour ±25 %, spread over each hour, for 30 hours,
	// evaluated every 20 minutes.
	for h := 0; h < 30; h++ {
		calls := 150 + rng.IntN(101)
		for range 3 {
			var evs []store.UsageEvent
			for range calls / 3 {
				n++
				evs = append(evs, store.UsageEvent{ID: fmt.Sprint("e", n), WorkspaceID: ws.ws.ID,
					Metric: store.MetricAPICalls, Value: 1, At: b.clock()})
			}
			if _, err := b.store.RecordUsage(context.Background(), evs...); err != nil {
				t.Fatal(err)
			}
			b.evaluate()
			b.advance(20 * time.Minute)
		}
	}
	if got := b.alerts(ws.key, "?state=all"); len(got) != 0 {
		t.Fatalf("steady traffic raised %d alerts: %+v", len(got), got)
	}
	// The spike: 20× the hourly baseline within the current hour.
	if _, err := b.store.RecordUsage(context.Background(), store.UsageEvent{ID: "spike", WorkspaceID: ws.ws.ID,
		Metric: store.MetricAPICalls, Value: 4000, At: b.clock()}); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		b.evaluate()
		b.advance(5 * time.Minute)
	}
	got := b.alerts(ws.key, "")
	if len(got) != 1 || got[0].Kind != api.AlertAnomaly || got[0].Metric != api.MetricAPICalls {
		t.Fatalf("after the spike: %+v, want one api_calls anomaly", got)
	}
	t.Logf("anomaly: %s", got[0].Message)
	testutil.Eventually(t, 10*time.Second, "the webhook receives the alert", func() bool { return len(rc.alerts()) > 0 })
	if sent := rc.alerts(); len(sent) != 1 || sent[0].ID != got[0].ID {
		t.Fatalf("webhook received %+v, want alert %s", sent, got[0].ID)
	}
	if v, _ := value(b.scrape(), "baton_alerts_total", "kind", "anomaly"); v != 1 {
		t.Errorf("baton_alerts_total{kind=anomaly} = %v, want 1", v)
	}
}

// TestThresholdAlerts: crossing 80 % and 100 % of a quota raises one alert
// per threshold per period; they list, acknowledge (idempotently) and stay
// in their workspace.
func TestThresholdAlerts(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t)
	b := setupWith(t, withWebhook(rc.URL))
	ws := b.newFreeTenant("busy", map[string]int64{api.LimitMonthlyTaskExecutions: 10})
	other := b.newTenant("other")
	record := func(id string, n int64) {
		if _, err := b.store.RecordUsage(context.Background(), store.UsageEvent{ID: id, WorkspaceID: ws.ws.ID,
			Metric: store.MetricTaskExecutions, Value: n, At: b.clock()}); err != nil {
			t.Fatal(err)
		}
	}
	record("a", 7)
	b.evaluate()
	if got := b.alerts(ws.key, ""); len(got) != 0 {
		t.Fatalf("70 %%: %+v", got)
	}
	record("b", 1)
	b.evaluate()
	b.evaluate()
	got := b.alerts(ws.key, "")
	if len(got) != 1 || got[0].Threshold != 80 || got[0].Metric != api.QuotaTaskExecutions || got[0].Period != "2026-11" {
		t.Fatalf("80 %%: %+v", got)
	}
	b.advance(time.Second) // alert ids, and so the list order, follow the clock
	record("c", 5)
	b.evaluate()
	got = b.alerts(ws.key, "")
	if len(got) != 2 || got[0].Threshold != 100 || got[0].Value != 13 || got[0].Limit != 10 {
		t.Fatalf("130 %%: %+v", got)
	}

	var acked api.Alert
	b.call("POST", "/v1/alerts/"+got[1].ID+"/ack", ws.key, nil, 200, &acked)
	if acked.AckedAt == nil {
		t.Fatal("ack did not set acked_at")
	}
	b.advance(time.Minute)
	var again api.Alert
	b.call("POST", "/v1/alerts/"+got[1].ID+"/ack", ws.key, nil, 200, &again)
	if !again.AckedAt.Equal(*acked.AckedAt) {
		t.Errorf("second ack moved acked_at from %s to %s", acked.AckedAt, again.AckedAt)
	}
	if open := b.alerts(ws.key, ""); len(open) != 1 || open[0].Threshold != 100 {
		t.Errorf("open alerts after ack: %+v", open)
	}
	if all := b.alerts(ws.key, "?state=all"); len(all) != 2 {
		t.Errorf("all alerts: %+v", all)
	}
	// Another workspace neither sees nor acks them.
	if theirs := b.alerts(other.key, "?state=all"); len(theirs) != 0 {
		t.Errorf("other workspace sees %+v", theirs)
	}
	wantProblem(t, b.req("POST", "/v1/alerts/"+got[0].ID+"/ack", other.key, ""), 404, api.CodeNotFound)
	wantProblem(t, b.req("GET", "/v1/alerts?state=closed", ws.key, ""), 400, api.CodeInvalidRequest)

	// Next month the thresholds start over.
	b.advance(3 * 24 * time.Hour)
	record("d", 9)
	b.evaluate()
	if got := b.alerts(ws.key, "?state=all"); len(got) != 3 || got[0].Period != "2026-12" {
		t.Fatalf("December: %+v", got)
	}
	b.runBackground()
	testutil.Eventually(t, 10*time.Second, "the webhook receives 3 alerts", func() bool { return len(rc.alerts()) >= 3 })
	if n := len(rc.alerts()); n != 3 {
		t.Errorf("webhook received %d alerts, want 3", n)
	}
}

// TestWebhookFailureNeverBlocks: a receiver that hangs delays nothing:
// requests and evaluation go on, and the alert is still stored and listed.
func TestWebhookFailureNeverBlocks(t *testing.T) {
	t.Parallel()
	hang := make(chan struct{})
	arrived := make(chan struct{}, 16)
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case arrived <- struct{}{}:
		default:
		}
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	defer close(hang)
	// A webhook attempt may take an hour: work that waited for a delivery
	// would not finish before the receiver lets go, at the end of the test.
	b := setupWith(t, func(c *Config) {
		withWebhook(slow.URL)(c)
		c.Webhook.Timeout, c.Webhook.DrainGrace = time.Hour, 100*time.Millisecond
	})
	b.runBackground()
	ws := b.newFreeTenant("blocked", map[string]int64{api.LimitMonthlyTaskExecutions: 1})
	if _, err := b.store.RecordUsage(context.Background(), store.UsageEvent{ID: "x", WorkspaceID: ws.ws.ID,
		Metric: store.MetricTaskExecutions, Value: 1, At: b.clock()}); err != nil {
		t.Fatal(err)
	}
	done := make(chan []api.Alert)
	go func() {
		for range 3 {
			if err := b.srv.EvaluateAlerts(context.Background()); err != nil {
				t.Error(err)
			}
		}
		var l api.List[api.Alert]
		b.call("GET", "/v1/alerts", ws.key, nil, 200, &l)
		done <- l.Data
	}()
	// The receiver holds a delivery, and meanwhile evaluation and requests
	// finish.
	select {
	case <-arrived:
	case <-time.After(30 * time.Second):
		t.Fatal("no delivery reached the webhook receiver")
	}
	select {
	case got := <-done:
		if len(got) != 2 {
			t.Fatalf("alerts = %+v, want 80 %% and 100 %%", got)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("evaluation or a request waited for the hanging webhook receiver")
	}
	if len(arrived) == cap(arrived) {
		t.Fatal("the receiver was not held")
	}
}
