package store

import (
	"context"
	"testing"
)

func TestScope(t *testing.T) {
	for _, c := range []struct {
		name   string
		s      Scope
		want   string
		system bool
	}{
		{"system", SystemScope(), "*", true},
		{"no ids is system", TenantScope(), "*", true},
		{"AnyWorkspace is system", TenantScope("ws_a", AnyWorkspace), "*", true},
		{"one", TenantScope("ws_a"), "ws_a", false},
		{"sorted and deduplicated", TenantScope("ws_b", "ws_a", "ws_b"), "ws_a,ws_b", false},
		{"the zero scope sees nothing", Scope{}, "", false},
	} {
		if got := c.s.Setting(); got != c.want || c.s.System() != c.system {
			t.Errorf("%s: Setting %q System %v; want %q %v", c.name, got, c.s.System(), c.want, c.system)
		}
	}

	ctx := context.Background()
	if _, ok := ScopeOf(ctx); ok {
		t.Error("a bare context has a scope")
	}
	a := Tenant(ctx, "ws_a")
	if s, _ := ScopeOf(a); s.Setting() != "ws_a" {
		t.Errorf("Tenant: %q", s.Setting())
	}
	// The outermost scope wins: a tenant's request cannot be re-scoped
	// further in.
	if s, _ := ScopeOf(Tenant(a, "ws_b")); s.Setting() != "ws_a" {
		t.Errorf("Tenant inside Tenant: %q, want ws_a", s.Setting())
	}
	// WithScope replaces (a group commit's own scope).
	if s, _ := ScopeOf(WithScope(a, TenantScope("ws_b", "ws_c"))); s.Setting() != "ws_b,ws_c" {
		t.Errorf("WithScope: %q", s.Setting())
	}
}
