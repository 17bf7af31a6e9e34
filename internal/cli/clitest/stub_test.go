package clitest

import (
	"fmt"
	"strings"
	"testing"
)

// recorder is a testing.TB that keeps its errors and runs its cleanups
// when told, so a test can watch NewStub fail another test.
type recorder struct {
	*testing.T
	errors   []string
	cleanups []func()
}

func (r *recorder) Errorf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}
func (r *recorder) Cleanup(f func()) { r.cleanups = append(r.cleanups, f) }
func (r *recorder) Failed() bool     { return len(r.errors) > 0 }
func (r *recorder) finish() {
	for i := len(r.cleanups) - 1; i >= 0; i-- {
		r.cleanups[i]()
	}
}

// TestStubVerifiesUse: a route the command never requests fails the test
// (as gh's httpmock Verify does); Optional and Shared routes may go unused.
func TestStubVerifiesUse(t *testing.T) {
	routes := Routes{
		"GET /v1/me":    map[string]any{"key": map[string]any{"id": "key_1", "name": "ci"}},
		"GET /v1/tasks": map[string]any{"data": []any{}},
		"GET /v1/tiers": Optional{Response: []any{}},
	}
	rec := &recorder{T: t}
	e := NewStub(rec, routes)
	e.Run("auth", "status").Want(t, 0)
	rec.finish()
	if len(rec.errors) != 1 || !strings.Contains(rec.errors[0], "stub routes never requested: GET /v1/tasks") || strings.Contains(rec.errors[0], "tiers") {
		t.Fatalf("errors = %q", rec.errors)
	}

	rec = &recorder{T: t}
	e = NewStub(rec, routes.Shared())
	e.Run("auth", "status").Want(t, 0)
	rec.finish()
	if len(rec.errors) != 0 {
		t.Fatalf("shared routes: errors = %q", rec.errors)
	}
}
