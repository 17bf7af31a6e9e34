package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/genericcorp/baton/pkg/api"
)

func TestUsageMethods(t *testing.T) {
	at := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	cet := time.FixedZone("CET", 3600)
	series := api.UsageSeries{WorkspaceID: "ws_1", From: at, To: at.Add(48 * time.Hour), Granularity: api.GranularityHour,
		Series: map[string][]api.UsagePoint{api.MetricAPICalls: {{Start: at, Value: 3}}}, Totals: map[string]int64{api.MetricAPICalls: 3}}
	quota := api.Quota{WorkspaceID: "ws_1", Tier: "pro", Period: "2025-03", At: at,
		Metrics:  []api.QuotaMetric{{Name: api.QuotaTaskExecutions, Used: 8, Limit: 10, Remaining: 2, Percent: 80, Enforced: true}},
		Exceeded: []string{}}
	alert := api.Alert{ID: "alrt_1", WorkspaceID: "ws_1", Kind: api.AlertThreshold, Metric: api.QuotaTaskExecutions,
		Threshold: 80, Period: "2025-03", Value: 8, Limit: 10, Message: "80 %", CreatedAt: at}
	acked := alert
	acked.AckedAt = &at
	margin := 12.5
	costs := api.CostReport{Period: "2025-02", Data: []api.WorkspaceCost{{WorkspaceID: "ws_1", RevenueMicros: 8e6,
		CostMicros: 7e6, MarginMicros: 1e6, MarginPercent: &margin}}, Totals: api.WorkspaceCost{RevenueMicros: 8e6}}
	next := "c2"

	for _, tc := range []struct {
		name   string
		call   func(context.Context, *Client) (any, error)
		method string
		path   string
		query  url.Values
		resp   any
		want   any
	}{
		{"Usage", func(ctx context.Context, c *Client) (any, error) {
			// Times in another zone are sent in UTC, to the second.
			return c.Usage(ctx, UsageOptions{From: at.In(cet), To: at.Add(48*time.Hour + 500*time.Millisecond).In(cet), Granularity: api.GranularityHour})
		}, "GET", "/v1/usage",
			url.Values{"from": {"2025-03-04T05:06:07Z"}, "to": {"2025-03-06T05:06:07Z"}, "granularity": {"hour"}}, series, series},
		{"UsageOnlyFrom", func(ctx context.Context, c *Client) (any, error) {
			return c.Usage(ctx, UsageOptions{From: at})
		}, "GET", "/v1/usage", url.Values{"from": {"2025-03-04T05:06:07Z"}}, series, series},
		{"UsageDefaults", func(ctx context.Context, c *Client) (any, error) { return c.Usage(ctx, UsageOptions{}) },
			"GET", "/v1/usage", url.Values{}, series, series},
		{"Quota", func(ctx context.Context, c *Client) (any, error) { return c.Quota(ctx) },
			"GET", "/v1/usage/quota", url.Values{}, quota, quota},
		{"ListAlertsOpen", func(ctx context.Context, c *Client) (any, error) { return c.ListAlerts(ctx, AlertListOptions{}) },
			"GET", "/v1/alerts", url.Values{}, api.List[api.Alert]{Data: []api.Alert{alert}}, api.List[api.Alert]{Data: []api.Alert{alert}}},
		{"ListAlertsAll", func(ctx context.Context, c *Client) (any, error) {
			return c.ListAlerts(ctx, AlertListOptions{All: true, ListOptions: ListOptions{Limit: 5, Cursor: "c1"}})
		}, "GET", "/v1/alerts", url.Values{"state": {"all"}, "limit": {"5"}, "cursor": {"c1"}},
			api.List[api.Alert]{Data: []api.Alert{acked, alert}, NextCursor: &next}, api.List[api.Alert]{Data: []api.Alert{acked, alert}, NextCursor: &next}},
		{"AckAlert", func(ctx context.Context, c *Client) (any, error) { return c.AckAlert(ctx, "alrt_1") },
			"POST", "/v1/alerts/alrt_1/ack", url.Values{}, acked, acked},
		{"AckAlertEscapes", func(ctx context.Context, c *Client) (any, error) { return c.AckAlert(ctx, "a/b") },
			"POST", "/v1/alerts/a%2Fb/ack", url.Values{}, acked, acked},
		{"AdminCosts", func(ctx context.Context, c *Client) (any, error) { return c.AdminCosts(ctx, "2025-02") },
			"GET", "/v1/admin/costs", url.Values{"period": {"2025-02"}}, costs, costs},
		{"AdminCostsCurrent", func(ctx context.Context, c *Client) (any, error) { return c.AdminCosts(ctx, "") },
			"GET", "/v1/admin/costs", url.Values{}, costs, costs},
		{"AdminUsage", func(ctx context.Context, c *Client) (any, error) { return c.AdminUsage(ctx) },
			"GET", "/v1/admin/usage", url.Values{}, api.List[api.Quota]{Data: []api.Quota{quota, quota}}, []api.Quota{quota, quota}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := setup(t, func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, tc.resp) })
			got, err := tc.call(context.Background(), b.c)
			if err != nil {
				t.Fatal(err)
			}
			reqs := b.requests()
			if len(reqs) != 1 {
				t.Fatalf("%d requests, want 1", len(reqs))
			}
			r := reqs[0]
			q, err := url.ParseQuery(r.RawQuery)
			if err != nil {
				t.Fatal(err)
			}
			if r.Method != tc.method || r.Path != tc.path || !reflect.DeepEqual(q, tc.query) {
				t.Errorf("request = %s %s?%s, want %s %s?%s", r.Method, r.Path, r.RawQuery, tc.method, tc.path, tc.query.Encode())
			}
			if r.Body != "" || r.Header.Get("Content-Type") != "" {
				t.Errorf("unexpected body %q (Content-Type %q)", r.Body, r.Header.Get("Content-Type"))
			}
			if a := r.Header.Get("Authorization"); a != "Bearer "+testKey {
				t.Errorf("Authorization = %q", a)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestUsageMethodsReturnAPIError(t *testing.T) {
	ctx := context.Background()
	for name, call := range map[string]func(*Client) error{
		"Usage": func(c *Client) error {
			_, err := c.Usage(ctx, UsageOptions{Granularity: "week"})
			return err
		},
		"Quota":      func(c *Client) error { _, err := c.Quota(ctx); return err },
		"ListAlerts": func(c *Client) error { _, err := c.ListAlerts(ctx, AlertListOptions{}); return err },
		"AllAlerts": func(c *Client) error {
			for _, err := range c.AllAlerts(ctx, AlertListOptions{}) {
				if err != nil {
					return err
				}
			}
			return nil
		},
		"AckAlert":   func(c *Client) error { _, err := c.AckAlert(ctx, "alrt_1"); return err },
		"AdminCosts": func(c *Client) error { _, err := c.AdminCosts(ctx, "2025-13"); return err },
		"AdminUsage": func(c *Client) error { _, err := c.AdminUsage(ctx); return err },
	} {
		t.Run(name, func(t *testing.T) {
			b := setup(t, func(w http.ResponseWriter, r *http.Request) {
				writeProblem(w, api.CodeForbidden, "missing scope usage:read")
			})
			err := call(b.c)
			ae, ok := err.(*APIError)
			if !ok || ae.Status != 403 || ae.Code != api.CodeForbidden || ae.Detail != "missing scope usage:read" {
				t.Fatalf("err = %#v, want the *APIError unwrapped", err)
			}
			if n := len(b.requests()); n != 1 {
				t.Errorf("%d requests, want 1", n)
			}
		})
	}
}

func TestAckAlertEmptyIDSendsNothing(t *testing.T) {
	b := setup(t, func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, api.Alert{}) })
	for _, id := range []string{"", "  "} {
		_, err := b.c.AckAlert(context.Background(), id)
		if err == nil || !strings.Contains(err.Error(), "empty id") {
			t.Errorf("AckAlert(%q) err = %v, want empty id", id, err)
		}
		var ae *APIError
		if errors.As(err, &ae) {
			t.Errorf("AckAlert(%q) err is an *APIError: %v", id, err)
		}
	}
	if n := len(b.requests()); n != 0 {
		t.Errorf("%d requests sent", n)
	}
}

// A POST ack creates nothing, so it is retried like an idempotent request.
func TestAckAlertRetried(t *testing.T) {
	b := setup(t, sequence(unavailable, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, api.Alert{ID: "alrt_1"})
	}))
	a, err := b.c.AckAlert(context.Background(), "alrt_1")
	if err != nil || a.ID != "alrt_1" {
		t.Fatalf("AckAlert = %+v, %v", a, err)
	}
	if n := len(b.requests()); n != 2 {
		t.Errorf("%d requests, want 2", n)
	}
}

func TestAllAlertsFollowsCursors(t *testing.T) {
	b := setup(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Query().Get("cursor") {
		case "":
			writeJSON(w, 200, api.List[api.Alert]{Data: []api.Alert{{ID: "alrt_3"}, {ID: "alrt_2"}}, NextCursor: ptr("c1")})
		case "c1":
			writeJSON(w, 200, api.List[api.Alert]{Data: []api.Alert{{ID: "alrt_1"}}})
		default:
			writeProblem(w, api.CodeInvalidRequest, "bad cursor")
		}
	})
	var ids []string
	for a, err := range b.c.AllAlerts(context.Background(), AlertListOptions{All: true, ListOptions: ListOptions{Limit: 2}}) {
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, a.ID)
	}
	if want := []string{"alrt_3", "alrt_2", "alrt_1"}; !slices.Equal(ids, want) {
		t.Errorf("ids = %v, want %v", ids, want)
	}
	var queries []string
	for _, r := range b.requests() {
		if r.Method != "GET" || r.Path != "/v1/alerts" {
			t.Errorf("request %s %s", r.Method, r.Path)
		}
		queries = append(queries, r.RawQuery)
	}
	if want := []string{"limit=2&state=all", "cursor=c1&limit=2&state=all"}; !slices.Equal(queries, want) {
		t.Errorf("queries = %v, want %v", queries, want)
	}
}

// ---- WatchQuota ----

var quotaBase = time.Date(2025, 3, 4, 5, 0, 0, 0, time.UTC)

// snap is snapshot number n: taken n seconds after quotaBase, with Running
// n so that the tests can tell snapshots apart.
func snap(n int) api.Quota {
	return api.Quota{WorkspaceID: "ws_1", Period: "2025-03", Running: int64(n), At: quotaBase.Add(time.Duration(n) * time.Second),
		Metrics: []api.QuotaMetric{{Name: api.QuotaConcurrency, Used: int64(n), Limit: 10}}}
}

func snapID(n int) string { return strconv.FormatInt(snap(n).At.UnixNano(), 10) }

// writeSnaps writes snapshots n… as SSE "quota" events and flushes them.
func writeSnaps(w http.ResponseWriter, n ...int) {
	for _, i := range n {
		data, _ := json.Marshal(snap(i))
		fmt.Fprintf(w, "id: %s\nevent: quota\ndata: %s\n\n", snapID(i), data)
	}
	w.(http.Flusher).Flush()
}

func startStream(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(200)
	fmt.Fprint(w, ": hello\n\n")
}

// hold keeps the stream open until the client goes away.
func hold(r *http.Request) { <-r.Context().Done() }

// usageServer answers /v1/usage/stream with the n-th handler of stream
// (the last one repeating) and /v1/usage/quota with quota.
func usageServer(quota http.HandlerFunc, stream ...http.HandlerFunc) http.HandlerFunc {
	s := sequence(stream...)
	return func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1/usage/stream":
			s(w, r)
		case "/v1/usage/quota":
			if quota == nil {
				writeProblem(w, api.CodeInternal, "no polling in this test")
				return
			}
			quota(w, r)
		default:
			writeProblem(w, api.CodeNotFound, "no route "+r.URL.Path)
		}
	}
}

// pollFrom answers GET /v1/usage/quota with snapshot first, then first+1, …
func pollFrom(first int) http.HandlerFunc {
	var n atomic.Int32
	n.Store(int32(first) - 1)
	return func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, snap(int(n.Add(1)))) }
}

// pollSeq answers GET /v1/usage/quota with the given snapshots, repeating
// the last one.
func pollSeq(n ...int) http.HandlerFunc {
	var mu sync.Mutex
	i := 0
	return func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		k := n[min(i, len(n)-1)]
		i++
		mu.Unlock()
		writeJSON(w, 200, snap(k))
	}
}

// describe renders an update: "q3/live" for snapshot 3 sent while live,
// "state:polling" for a change of state, "err:403" for the final error.
func describe(u QuotaUpdate) string {
	switch {
	case u.Err != nil:
		var ae *APIError
		if errors.As(u.Err, &ae) {
			return fmt.Sprintf("err:%d", ae.Status)
		}
		return "err:" + u.Err.Error()
	case u.Quota != nil:
		return fmt.Sprintf("q%d/%s", u.Quota.Running, u.State)
	default:
		return "state:" + u.State
	}
}

const watchDeadline = 10 * time.Second

// take reads n updates, failing if they do not come in time or the channel
// closes first.
func take(t *testing.T, ch <-chan QuotaUpdate, n int) []string {
	t.Helper()
	var got []string
	timeout := time.After(watchDeadline)
	for len(got) < n {
		select {
		case u, ok := <-ch:
			if !ok {
				t.Fatalf("channel closed after %v, want %d updates", got, n)
			}
			got = append(got, describe(u))
		case <-timeout:
			t.Fatalf("got %v within %s, want %d updates", got, watchDeadline, n)
		}
	}
	return got
}

// next reads one update.
func next(t *testing.T, ch <-chan QuotaUpdate) QuotaUpdate {
	t.Helper()
	select {
	case u, ok := <-ch:
		if !ok {
			t.Fatal("channel closed")
		}
		return u
	case <-time.After(watchDeadline):
		t.Fatalf("no update within %s", watchDeadline)
	}
	return QuotaUpdate{}
}

// drain reads until the channel closes and returns what came.
func drain(t *testing.T, ch <-chan QuotaUpdate) []string {
	t.Helper()
	var got []string
	timeout := time.After(watchDeadline)
	for {
		select {
		case u, ok := <-ch:
			if !ok {
				return got
			}
			got = append(got, describe(u))
		case <-timeout:
			t.Fatalf("channel not closed within %s (read %v)", watchDeadline, got)
		}
	}
}

func checkUpdates(t *testing.T, got []string, want ...string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("updates = %v\n      want %v", got, want)
	}
}

// streamRequests returns the Last-Event-ID of every stream request, and
// the number of quota polls.
func streamRequests(t *testing.T, b *bundle) (lastIDs []string, polls int) {
	t.Helper()
	for _, r := range b.requests() {
		switch r.Path {
		case "/v1/usage/stream":
			if r.Method != "GET" || r.Header.Get("Accept") != "text/event-stream" || r.Header.Get("Authorization") != "Bearer "+testKey {
				t.Errorf("stream request %s %s, headers %v", r.Method, r.Path, r.Header)
			}
			lastIDs = append(lastIDs, r.Header.Get("Last-Event-ID"))
		case "/v1/usage/quota":
			if r.Method != "GET" {
				t.Errorf("poll request %s %s", r.Method, r.Path)
			}
			polls++
		}
	}
	return lastIDs, polls
}

func TestWatchQuotaLive(t *testing.T) {
	b := setup(t, usageServer(nil, func(w http.ResponseWriter, r *http.Request) {
		startStream(w)
		writeSnaps(w, 1, 2)
		fmt.Fprint(w, ": keep-alive\n\nevent: other\ndata: {}\n\n")
		writeSnaps(w, 3)
		hold(r)
	}))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch := b.c.WatchQuota(ctx, WatchOptions{})
	checkUpdates(t, take(t, ch, 4), "state:live", "q1/live", "q2/live", "q3/live")
	cancel()
	checkUpdates(t, drain(t, ch))
	ids, polls := streamRequests(t, b)
	if len(ids) != 1 || polls != 0 {
		t.Errorf("%d stream requests and %d polls, want 1 and 0", len(ids), polls)
	}
	if w := b.recordedWaits(); len(w) != 0 {
		t.Errorf("waits = %v", w)
	}
}

func TestWatchQuotaSnapshotFields(t *testing.T) {
	b := setup(t, usageServer(nil, func(w http.ResponseWriter, r *http.Request) {
		startStream(w)
		writeSnaps(w, 7)
		hold(r)
	}))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch := b.c.WatchQuota(ctx, WatchOptions{})
	take(t, ch, 1) // state:live
	u := next(t, ch)
	if u.Quota == nil || u.Err != nil || !reflect.DeepEqual(*u.Quota, snap(7)) {
		t.Errorf("update = %+v, want snapshot %+v", u, snap(7))
	}
	cancel()
	drain(t, ch)
}

// The stream drops after two snapshots; the reconnect carries the last id,
// and what the server repeats (older or the same snapshot) is not sent
// again. A stream that sends only stale snapshots does not move the resume
// point back.
func TestWatchQuotaResumesWithoutDuplicates(t *testing.T) {
	b := setup(t, usageServer(nil,
		func(w http.ResponseWriter, r *http.Request) { startStream(w); writeSnaps(w, 1, 2) },
		func(w http.ResponseWriter, r *http.Request) { startStream(w); writeSnaps(w, 1) },
		func(w http.ResponseWriter, r *http.Request) { startStream(w); writeSnaps(w, 2, 1, 3, 3); hold(r) },
	))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch := b.c.WatchQuota(ctx, WatchOptions{})
	checkUpdates(t, take(t, ch, 8), "state:live", "q1/live", "q2/live",
		"state:reconnecting", "state:live", "state:reconnecting", "state:live", "q3/live")
	cancel()
	checkUpdates(t, drain(t, ch))
	ids, polls := streamRequests(t, b)
	if len(ids) > 0 && ids[0] == "0" {
		ids[0] = "" // nothing to resume from: either is fine
	}
	if want := []string{"", snapID(2), snapID(2)}; !slices.Equal(ids, want) {
		t.Errorf("Last-Event-ID = %v, want %v", ids, want)
	}
	if polls != 0 {
		t.Errorf("%d polls", polls)
	}
	// Every drop came after the stream had opened: the backoff starts over.
	if got := b.recordedWaits(); !slices.Equal(got, ms(250, 250)) {
		t.Errorf("waits = %v, want [250ms 250ms]", got)
	}
}

// A server without the stream is polled at once.
func TestWatchQuotaPollsWithoutStream(t *testing.T) {
	for _, status := range []int{404, 405} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			b := setup(t, usageServer(pollFrom(1), func(w http.ResponseWriter, r *http.Request) {
				if status == 404 {
					writeProblem(w, api.CodeNotFound, "no route")
				} else {
					w.Header().Set("Allow", "POST")
					w.WriteHeader(405)
				}
			}))
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			ch := b.c.WatchQuota(ctx, WatchOptions{PollInterval: 7 * time.Second})
			checkUpdates(t, take(t, ch, 4), "state:polling", "q1/polling", "q2/polling", "q3/polling")
			cancel()
			drain(t, ch)
			ids, polls := streamRequests(t, b)
			if len(ids) != 1 || polls < 3 {
				t.Errorf("%d stream requests and %d polls, want 1 and ≥ 3", len(ids), polls)
			}
			// No backoff before polling; the poll interval between polls.
			if w := b.recordedWaits(); len(w) < 2 || w[0] != 7*time.Second || w[1] != 7*time.Second {
				t.Errorf("waits = %v, want the poll interval", w)
			}
		})
	}
}

// StreamFailures failed attempts in a row turn to polling; fewer reconnect.
func TestWatchQuotaPollsAfterStreamFailures(t *testing.T) {
	for _, tc := range []struct {
		failures int // WatchOptions.StreamFailures
		attempts int // stream attempts before polling
		waits    []time.Duration
	}{
		{0, 3, ms(250, 500)}, // the default
		{1, 1, nil},
		{2, 2, ms(250)},
		{4, 4, ms(250, 500, 1000)},
	} {
		t.Run(strconv.Itoa(tc.failures), func(t *testing.T) {
			b := setup(t, usageServer(pollFrom(1), unavailable))
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			ch := b.c.WatchQuota(ctx, WatchOptions{StreamFailures: tc.failures, PollInterval: time.Minute})
			var want []string
			if tc.attempts > 1 {
				want = append(want, "state:reconnecting")
			}
			want = append(want, "state:polling", "q1/polling", "q2/polling")
			checkUpdates(t, take(t, ch, len(want)), want...)
			ids, polls := streamRequests(t, b)
			if len(ids) != tc.attempts || polls < 1 {
				t.Errorf("%d stream attempts, %d polls; want %d attempts then polls", len(ids), polls, tc.attempts)
			}
			if w := b.recordedWaits(); len(w) <= len(tc.waits) || !slices.Equal(w[:len(tc.waits)], tc.waits) || w[len(tc.waits)] != time.Minute {
				t.Errorf("waits = %v, want %v then the poll interval", w, tc.waits)
			}
			cancel()
			drain(t, ch)
		})
	}
}

// A snapshot older than one the stream delivered is not sent by polling.
func TestWatchQuotaNeverGoesBackInTime(t *testing.T) {
	b := setup(t, usageServer(pollSeq(3, 5, 6),
		func(w http.ResponseWriter, r *http.Request) { startStream(w); writeSnaps(w, 5) },
	))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch := b.c.WatchQuota(ctx, WatchOptions{StreamFailures: 1})
	checkUpdates(t, take(t, ch, 4), "state:live", "q5/live", "state:polling", "q6/polling")
	cancel()
	drain(t, ch)
}

// A 401 or 403 ends the watch: one update with Err, then the channel closes.
func TestWatchQuotaFatalErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		h      http.HandlerFunc
		want   []string
		status int
		polls  bool
	}{
		{"stream401", usageServer(nil, func(w http.ResponseWriter, r *http.Request) {
			writeProblem(w, api.CodeUnauthenticated, "bad key")
		}), []string{"err:401"}, 401, false},
		{"stream403", usageServer(nil, func(w http.ResponseWriter, r *http.Request) {
			writeProblem(w, api.CodeForbidden, "missing scope usage:read")
		}), []string{"err:403"}, 403, false},
		{"streamAfterDrop401", usageServer(nil,
			func(w http.ResponseWriter, r *http.Request) { startStream(w); writeSnaps(w, 1) },
			func(w http.ResponseWriter, r *http.Request) { writeProblem(w, api.CodeUnauthenticated, "revoked") },
		), []string{"state:live", "q1/live", "state:reconnecting", "err:401"}, 401, false},
		{"poll401", usageServer(func(w http.ResponseWriter, r *http.Request) {
			writeProblem(w, api.CodeUnauthenticated, "revoked")
		}, func(w http.ResponseWriter, r *http.Request) { writeProblem(w, api.CodeNotFound, "no route") }),
			[]string{"state:polling", "err:401"}, 401, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := setup(t, tc.h)
			ch := b.c.WatchQuota(context.Background(), WatchOptions{})
			got := drain(t, ch)
			checkUpdates(t, got, tc.want...)
			_, polls := streamRequests(t, b)
			if (polls > 0) != tc.polls {
				t.Errorf("%d polls", polls)
			}
		})
	}
}

func TestWatchQuotaFatalErrorIsAPIError(t *testing.T) {
	b := setup(t, usageServer(nil, func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, api.CodeUnauthenticated, "bad key")
	}))
	var last QuotaUpdate
	n := 0
	for u := range b.c.WatchQuota(context.Background(), WatchOptions{}) {
		last = u
		n++
	}
	ae, ok := last.Err.(*APIError)
	if n != 1 || !ok || ae.Code != api.CodeUnauthenticated || ae.Detail != "bad key" || last.Quota != nil {
		t.Fatalf("%d updates, last %+v", n, last)
	}
}

// Cancelling ctx closes the channel, whatever the watch is doing.
func TestWatchQuotaCancel(t *testing.T) {
	for _, tc := range []struct {
		name string
		h    http.HandlerFunc
		want []string // updates to read before cancelling
	}{
		{"live", usageServer(nil, func(w http.ResponseWriter, r *http.Request) { startStream(w); writeSnaps(w, 1); hold(r) }),
			[]string{"state:live", "q1/live"}},
		{"liveUnread", usageServer(nil, func(w http.ResponseWriter, r *http.Request) {
			startStream(w)
			writeSnaps(w, 1, 2, 3, 4, 5) // more than the channel holds: the watch blocks sending
			hold(r)
		}), []string{"state:live"}},
		{"polling", usageServer(pollFrom(1), func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(404) }),
			[]string{"state:polling", "q1/polling"}},
		{"reconnecting", usageServer(nil, unavailable), []string{"state:reconnecting"}},
		{"nothingYet", usageServer(nil, func(w http.ResponseWriter, r *http.Request) { startStream(w); w.(http.Flusher).Flush(); hold(r) }),
			nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := setup(t, tc.h)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			ch := b.c.WatchQuota(ctx, WatchOptions{StreamFailures: 1000})
			checkUpdates(t, take(t, ch, len(tc.want)), tc.want...)
			cancel()
			for _, u := range drain(t, ch) {
				if strings.HasPrefix(u, "err") {
					t.Errorf("update %s after cancel", u)
				}
			}
		})
	}
}

// A ctx that is already done closes the channel without a request.
func TestWatchQuotaCancelledBeforeStart(t *testing.T) {
	b := setup(t, usageServer(nil, unavailable))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	checkUpdates(t, drain(t, b.c.WatchQuota(ctx, WatchOptions{})))
	if n := len(b.requests()); n != 0 {
		t.Errorf("%d requests", n)
	}
}

// PollRounds bounds the polling fallback: after that many polls the stream
// is tried again, and once it is back the state is live again.
func TestWatchQuotaPollRoundsThenLiveAgain(t *testing.T) {
	b := setup(t, usageServer(pollFrom(1), unavailable, func(w http.ResponseWriter, r *http.Request) {
		startStream(w)
		writeSnaps(w, 10)
		hold(r)
	}))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch := b.c.WatchQuota(ctx, WatchOptions{StreamFailures: 1, PollRounds: 2, PollInterval: time.Minute})
	checkUpdates(t, take(t, ch, 5), "state:polling", "q1/polling", "q2/polling", "state:live", "q10/live")
	cancel()
	drain(t, ch)
	if ids, polls := streamRequests(t, b); len(ids) != 2 || polls != 2 {
		t.Errorf("%d stream requests, %d polls; want 2 and 2", len(ids), polls)
	}
}
