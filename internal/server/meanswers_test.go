package server

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/genericcorp/baton/pkg/api"
)

// TestMeEqualSeesEveryField: meEqual compares every field of api.Me and
// of the types it holds; when one of them gains a field, this fails until
// meEqual (and this count) is updated, so a kept answer can never be served
// for a caller that differs in a field meEqual does not know.
func TestMeEqualSeesEveryField(t *testing.T) {
	for typ, n := range map[reflect.Type]int{
		reflect.TypeFor[api.Me](): 3, reflect.TypeFor[api.MeKey](): 5,
		reflect.TypeFor[api.Workspace](): 8, reflect.TypeFor[api.Tier](): 3,
	} {
		if typ.NumField() != n {
			t.Errorf("%s has %d fields, meEqual knows %d: update meEqual, meCopy and this test", typ, typ.NumField(), n)
		}
	}
	if !reflect.TypeFor[api.Limits]().Comparable() || !reflect.TypeFor[api.Tier]().Comparable() {
		t.Error("meEqual compares api.Limits and api.Tier with ==")
	}
}

// TestMeAnswersAreEncodeBytes: the kept answer is encode's bytes for the
// principal at hand, and any change of a field gives a fresh encoding,
// never the kept one.
func TestMeAnswersAreEncodeBytes(t *testing.T) {
	exp := time.Date(2027, 1, 2, 3, 4, 5, 6, time.UTC)
	created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	base := func() api.Me {
		e := exp
		return api.Me{
			Key:       api.MeKey{ID: "key_1", Name: "ci <main>", Scopes: []string{"tasks:read"}, ExpiresAt: &e},
			Workspace: &api.Workspace{ID: "ws_1", Name: "w", Tier: "team", Status: "active", Overrides: api.Overrides{"burst": 5}, Limits: api.Limits{Burst: 5}, CreatedAt: created, UpdatedAt: created},
			Tier:      &api.Tier{Name: "team", PriceMonthlyMicro: 1, Limits: api.Limits{Burst: 3}},
		}
	}
	changes := map[string]func(*api.Me){
		"same":          func(*api.Me) {},
		"key name":      func(m *api.Me) { m.Key.Name = "other" },
		"no scopes":     func(m *api.Me) { m.Key.Scopes = nil },
		"empty scopes":  func(m *api.Me) { m.Key.Scopes = []string{} },
		"scope":         func(m *api.Me) { m.Key.Scopes = []string{"tasks:write"} },
		"no expiry":     func(m *api.Me) { m.Key.ExpiresAt = nil },
		"expiry":        func(m *api.Me) { e := exp.Add(time.Nanosecond); m.Key.ExpiresAt = &e },
		"expiry zone":   func(m *api.Me) { e := exp.In(time.FixedZone("x", 3600)); m.Key.ExpiresAt = &e },
		"session":       func(m *api.Me) { m.Key.Session = true },
		"status":        func(m *api.Me) { m.Workspace.Status = "suspended" },
		"ws name":       func(m *api.Me) { m.Workspace.Name = "v" },
		"ws tier":       func(m *api.Me) { m.Workspace.Tier = "free" },
		"override":      func(m *api.Me) { m.Workspace.Overrides = api.Overrides{"burst": 6} },
		"no overrides":  func(m *api.Me) { m.Workspace.Overrides = nil },
		"limits":        func(m *api.Me) { m.Workspace.Limits.MaxOpenStreams = 1 },
		"updated":       func(m *api.Me) { m.Workspace.UpdatedAt = created.Add(time.Second) },
		"created":       func(m *api.Me) { m.Workspace.CreatedAt = created.Add(time.Second) },
		"tier limits":   func(m *api.Me) { m.Tier.Limits.Burst = 4 },
		"tier price":    func(m *api.Me) { m.Tier.PriceMonthlyMicro = 2 },
		"no workspace":  func(m *api.Me) { m.Workspace, m.Tier = nil, nil },
		"another id":    func(m *api.Me) { m.Key.ID = "key_2" },
		"ws id":         func(m *api.Me) { m.Workspace.ID = "ws_2" },
		"tier name":     func(m *api.Me) { m.Tier.Name = "free" },
		"long html-ish": func(m *api.Me) { m.Key.Name = "<&>" },
	}
	var answers meAnswers
	for name, change := range changes {
		answers.body(base()) // kept
		me := base()
		change(&me)
		got := answers.body(me)
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(me); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want.Bytes()) {
			t.Errorf("%s: body %s, want %s", name, got, want.Bytes())
		}
		if name != "same" && meEqual(base(), me) {
			t.Errorf("%s: meEqual took the changed answer for the kept one", name)
		}
	}
	// The kept answer owns its copies: changing the caller's values after
	// the fact does not change what is compared.
	me := base()
	answers.body(me)
	me.Key.Scopes[0], me.Workspace.Overrides["burst"] = "changed", 7
	if got := answers.body(base()); !bytes.Contains(got, []byte(`"tasks:read"`)) || !bytes.Contains(got, []byte(`"burst":5`)) {
		t.Errorf("kept answer changed with its caller's values: %s", got)
	}
}
