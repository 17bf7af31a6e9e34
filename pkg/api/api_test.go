package api

import (
	"net/http"
	"testing"
	"time"
)

func TestParseDuration(t *testing.T) {
	good := map[string]time.Duration{"90d": 90 * 24 * time.Hour, "0d": 0, "24h": 24 * time.Hour, "30m": 30 * time.Minute, "1h30m": 90 * time.Minute, "0s": 0}
	for in, want := range good {
		got, err := ParseDuration(in)
		if err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "d", "1.5d", "-1d", "-5m", "abc", "90 days", "99999999d"} {
		if _, err := ParseDuration(in); err == nil {
			t.Errorf("ParseDuration(%q) = nil error, want an error", in)
		}
	}
}

func TestCodesHaveStatusAndTitle(t *testing.T) {
	for _, c := range Codes() {
		if c.Status() < 400 || c.Title() == "Error" {
			t.Errorf("code %s: status %d title %q", c, c.Status(), c.Title())
		}
		p := NewProblem(c, "x")
		if p.Type != "/docs/errors#"+string(c) || p.Status != c.Status() {
			t.Errorf("problem for %s: %+v", c, p)
		}
	}
	if CodeForStatus(http.StatusBadGateway) != CodeUnavailable || CodeForStatus(418) != CodeInternal {
		t.Error("CodeForStatus mapping")
	}
}

func TestLimitsApplyAndValidate(t *testing.T) {
	base := Limits{MaxConcurrentTasks: 2, Burst: 20}
	got := base.Apply(Overrides{LimitMaxConcurrentTasks: 20})
	if got.MaxConcurrentTasks != 20 || got.Burst != 20 || base.MaxConcurrentTasks != 2 {
		t.Fatalf("Apply: %+v (base %+v)", got, base)
	}
	for _, k := range LimitKeys() {
		var l Limits
		if err := l.Set(k, 7); err != nil {
			t.Fatal(err)
		}
		if v, ok := l.Get(k); !ok || v != 7 {
			t.Errorf("Get(%s) = %d, %v", k, v, ok)
		}
	}
	errs := Overrides{"nope": 1, LimitBurst: -1, LimitMaxQueuedTasks: 5}.Validate()
	if len(errs) != 2 || errs[0].Field != "overrides.burst" || errs[1].Field != "overrides.nope" {
		t.Fatalf("Validate: %+v", errs)
	}
}
