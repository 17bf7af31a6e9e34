package clitest

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/genericcorp/baton/pkg/api"
)

// JSON decodes the standard output of r, which must be exactly one JSON
// document.
func JSON[T any](t *testing.T, r Result) T {
	t.Helper()
	var v T
	dec := json.NewDecoder(strings.NewReader(r.Stdout))
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, r.Stdout)
	}
	if dec.More() {
		t.Fatalf("stdout holds more than one JSON document:\n%s", r.Stdout)
	}
	return v
}

// NewTenant creates a workspace with the operator key (`workspaces create
// NAME -o json`) and returns it with the secret of its first key (scope "*").
func (e *Env) NewTenant(t *testing.T, name string) (api.Workspace, string) {
	t.Helper()
	res := JSON[api.CreateWorkspaceResponse](t, e.Run("workspaces", "create", name, "-o", "json").Want(t, 0))
	return res.Workspace, res.Key.Secret
}
