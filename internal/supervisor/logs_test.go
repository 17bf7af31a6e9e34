package supervisor

import (
	"context"
	"errors"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/genericcorp/baton/internal/testutil"
	"github.com/genericcorp/baton/pkg/api"
)

func TestParseUsage(t *testing.T) {
	good := map[string]api.UsageReport{
		"::baton usage tokens=1200 cost_usd=0.0031":       {Tokens: 1200, CostMicros: 3100},
		"::baton usage tokens=5":                          {Tokens: 5},
		"::baton usage cost_usd=1":                        {CostMicros: 1_000_000},
		"::baton usage cost_usd=.5":                       {CostMicros: 500_000},
		"::baton usage cost_usd=12.000001":                {CostMicros: 12_000_001},
		"::baton usage cost_usd=0.1234560000":             {CostMicros: 123_456},
		"::baton usage cost_usd=0.0000001":                {CostMicros: 1}, // rounds up
		"::baton usage cost_usd=999999999999.999999":      {CostMicros: 999_999_999_999_999_999},
		"::baton usage  cost_usd=2.5\ttokens=0 ":          {CostMicros: 2_500_000},
		"::baton usage tokens=9223372036854775807":        {Tokens: 9223372036854775807},
		"::baton usage cost_usd=0.000000 tokens=00000042": {Tokens: 42},
	}
	for line, want := range good {
		got, ok := parseUsage(line)
		if !ok || got != want {
			t.Errorf("parseUsage(%q) = %+v, %v; want %+v", line, got, ok, want)
		}
	}
	bad := []string{
		"::baton usage", "::baton usage ", "::baton usagetokens=1", "::baton usage tokens", "::baton usage tokens=",
		"::baton usage tokens=-1", "::baton usage tokens=+1", "::baton usage tokens=1.5", "::baton usage tokens=1e3",
		"::baton usage tokens=99999999999999999999", "::baton usage cost_usd=abc", "::baton usage cost_usd=1.",
		"::baton usage cost_usd=-1", "::baton usage cost_usd=1e3", "::baton usage cost_usd=1,5", "::baton usage cost_usd=$1",
		"::baton usage cost_usd=1234567890123", "::baton usage tokens=1 tokens=2", "::baton usage foo=1",
		"::baton usage tokens=1 cost_usd=1 extra=1", " ::baton usage tokens=1", "x ::baton usage tokens=1", "tokens=1",
	}
	for _, line := range bad {
		if got, ok := parseUsage(line); ok {
			t.Errorf("parseUsage(%q) = %+v, want malformed", line, got)
		}
	}
	if !isUsageLine("::baton usage cost_usd=abc") || isUsageLine("::baton usages") || isUsageLine("::baton other") {
		t.Error("isUsageLine")
	}
}

func TestOutputJSON(t *testing.T) {
	for in, want := range map[string]string{
		"":                   `null`,
		" \n\t":              `null`,
		`{"a":1}`:            `{"a":1}`,
		"\n [1, 2] \n":       `[1, 2]`,
		`"quoted"`:           `"quoted"`,
		"true":               `true`,
		"hello\nworld\n":     `"hello\nworld"`,
		`{"a":`:              `"{\"a\":"`,
		"tab\tand \"quote\"": `"tab\tand \"quote\""`,
	} {
		if got := string(outputJSON([]byte(in))); got != want {
			t.Errorf("outputJSON(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestReadLines(t *testing.T) {
	long := strings.Repeat("x", 50)
	var got []string
	readLines(strings.NewReader("a\r\nb\n\n"+long+"\nlast"), 20, func(s string) { got = append(got, s) })
	want := []string{"a", "b", "", strings.Repeat("x", 20) + " …[line truncated]", "last"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("lines = %q, want %q", got, want)
	}
}

func TestCapBuffer(t *testing.T) {
	c := &capBuffer{max: 5}
	for _, s := range []string{"abc", "def", "ghi"} {
		if n, err := c.Write([]byte(s)); n != 3 || err != nil {
			t.Fatal(n, err)
		}
	}
	if c.buf.String() != "abcde" || !c.over {
		t.Errorf("buf = %q, over = %v", c.buf.String(), c.over)
	}
}

// A full buffer drops lines and puts a count in their place, in order.
func TestLogShipperDrops(t *testing.T) {
	f := newFake()
	down := true
	f.onLogs = func(context.Context, []string) error {
		if down {
			return errors.New("connection refused")
		}
		return nil
	}
	cfg, err := Config{API: f, Runner: EchoRunner, logCapacity: 3}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	s := newLogShipper(cfg, api.Task{ID: "t", Attempt: 1}, slog.New(slog.DiscardHandler))
	for _, l := range []string{"l1", "l2", "l3", "l4", "l5", "l6", "l7", "l8"} {
		s.add(l)
	}
	if err := s.flush(context.Background()); err == nil {
		t.Fatal("flush to a down server succeeded")
	}
	s.add("l9")
	down = false
	if err := s.flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	s.add("l10")
	if err := s.flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := []string{"l1", "l2", "l3", "[6 lines dropped]", "l10"}
	if got := f.allLogs(); !reflect.DeepEqual(got, want) {
		t.Errorf("logs = %q, want %q", got, want)
	}

	// A stale attempt's logs are dropped for good.
	f.onLogs = func(context.Context, []string) error { return conflict }
	s.add("l11")
	if err := s.flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	s.add("l12")
	if len(s.pending) != 0 || !s.fenced {
		t.Errorf("pending after a conflict = %v", s.pending)
	}
}

// Stream lines go in requests of their own, one channel each, in the
// order the lines came; the dropped marker stays a log line.
func TestLogShipperStreams(t *testing.T) {
	f := newFake()
	cfg, err := Config{API: f, Runner: EchoRunner, logCapacity: 6}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	s := newLogShipper(cfg, api.Task{ID: "t", Attempt: 2}, slog.New(slog.DiscardHandler))
	s.add("log 1")
	s.addStream("tokens", "tok 1", "tok 2")
	s.addStream("", "plain")
	s.add("log 2")
	s.addStream("tokens", "tok 3", "tok 4", "tok 5") // tok 4 and 5 do not fit
	if err := s.flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	s.addStream("tokens", "tok 6")
	if err := s.flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := []api.LogsRequest{
		{Attempt: 2, Lines: []string{"log 1"}},
		{Attempt: 2, Lines: []string{"tok 1", "tok 2"}, Stream: true, Channel: "tokens"},
		{Attempt: 2, Lines: []string{"plain"}, Stream: true},
		{Attempt: 2, Lines: []string{"log 2"}},
		{Attempt: 2, Lines: []string{"tok 3"}, Stream: true, Channel: "tokens"},
		{Attempt: 2, Lines: []string{"[2 lines dropped]"}},
		{Attempt: 2, Lines: []string{"tok 6"}, Stream: true, Channel: "tokens"},
	}
	if got := f.logRequests(); !reflect.DeepEqual(got, want) {
		t.Errorf("requests =\n%+v\nwant\n%+v", got, want)
	}
}

// A stream line is sent within streamFlush, long before the log flush
// interval, so tokens reach followers live.
func TestLogShipperSendsStreamsSoon(t *testing.T) {
	f := newFake()
	cfg, err := Config{API: f, Runner: EchoRunner, logFlush: time.Hour}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	s := newLogShipper(cfg, api.Task{ID: "t", Attempt: 1}, slog.New(slog.DiscardHandler))
	go s.loop()
	defer s.close()
	s.add("a log line waits for the hourly flush")
	start := time.Now()
	s.addStream("tokens", "hello")
	// With an hourly flush, only the stream's timer sends within 5 s (the
	// log line goes along).
	testutil.Eventually(t, 5*time.Second, "stream line sent", func() bool { return len(f.logRequests()) == 2 })
	t.Logf("a stream line was sent %v after it was emitted (streamFlush %v)", time.Since(start).Round(time.Millisecond), streamFlush)
	if got := f.logRequests(); !got[1].Stream || got[1].Channel != "tokens" || got[1].Lines[0] != "hello" {
		t.Errorf("requests = %+v", got)
	}
}
