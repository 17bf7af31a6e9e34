package tui

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/genericcorp/baton/pkg/api"
	"github.com/genericcorp/baton/pkg/client"
)

func feed(us ...client.QuotaUpdate) <-chan client.QuotaUpdate {
	ch := make(chan client.QuotaUpdate, len(us))
	for _, u := range us {
		ch <- u
	}
	close(ch)
	return ch
}

func TestWriteLines(t *testing.T) {
	q1, q2 := quotaAt(t0, 81.25), quotaAt(t0.Add(250e6), 112)
	q2.Held, q2.Exceeded = 3, []string{api.QuotaTaskExecutions}
	q2.Metrics[3] = api.QuotaMetric{Name: api.QuotaAPIRate, Used: 7, Unlimited: true}
	updates := func() <-chan client.QuotaUpdate {
		return feed(client.QuotaUpdate{State: client.WatchPolling},
			client.QuotaUpdate{Quota: &q1, State: client.WatchPolling},
			client.QuotaUpdate{State: client.WatchLive},
			client.QuotaUpdate{Quota: &q2, State: client.WatchLive})
	}

	var out, status bytes.Buffer
	if err := WriteLines(updates(), &out, LineOptions{Status: &status}); err != nil {
		t.Fatal(err)
	}
	want := "2026-11-28T22:00:00Z ws_01jdq7k3x9m2v5n8p4r6t0w2y4 executions 40625/50000 81.2% exec-time 131625/180000s 73.1% spend $130.00/$200.00 65.0% api-rate 42/600 7.0% running 3/10 30.0% queued 12/10000 0.1% state=polling\n" +
		"2026-11-28T22:00:00Z ws_01jdq7k3x9m2v5n8p4r6t0w2y4 executions 56000/50000 112.0% exec-time 181440/180000s 100.8% spend $179.20/$200.00 89.6% api-rate 7/unlimited - running 3/10 30.0% queued 12/10000 0.1% held=3 exceeded=task_executions state=live\n"
	if out.String() != want {
		t.Errorf("lines:\n%s\nwant:\n%s", out.String(), want)
	}
	if status.String() != "state=polling\nstate=live\n" {
		t.Errorf("status %q", status.String())
	}

	// JSON lines: one api.Quota per line, nothing else.
	out.Reset()
	if err := WriteLines(updates(), &out, LineOptions{JSON: true}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines:\n%s", len(lines), out.String())
	}
	for i, l := range lines {
		var q api.Quota
		if err := json.Unmarshal([]byte(l), &q); err != nil {
			t.Fatalf("line %d: %v", i, err)
		}
		if q.WorkspaceID != q1.WorkspaceID || len(q.Metrics) != 6 {
			t.Fatalf("line %d: %+v", i, q)
		}
	}

	// The error that ends a watch is returned, after the lines before it.
	out.Reset()
	boom := errors.New("unauthenticated")
	err := WriteLines(feed(client.QuotaUpdate{Quota: &q1}, client.QuotaUpdate{Err: boom}), &out, LineOptions{})
	if !errors.Is(err, boom) || strings.Count(out.String(), "\n") != 1 || strings.Contains(out.String(), "state=") {
		t.Fatalf("err %v, out %q", err, out.String())
	}
}
