package keys_test

import (
	"testing"
	"time"

	"github.com/genericcorp/baton/internal/cli/clitest"
	"github.com/genericcorp/baton/pkg/api"
)

const day = 24 * time.Hour

func ptr[T any](v T) *T { return &v }

// stubKeys are fixed keys, with times relative to now so that the relative
// times of a terminal table do not change; one of each status.
func stubKeys() []api.Key {
	return []api.Key{
		{ID: "key_01jd0000000000000000000001", WorkspaceID: "ws_01jd0000000000000000000001", Name: "default", Prefix: "bk_AbCd1234",
			Scopes: []string{"*"}, CreatedAt: clitest.At(-40*day - time.Hour), LastUsedAt: ptr(clitest.At(-2*time.Hour - 10*time.Minute))},
		{ID: "key_01jd0000000000000000000002", WorkspaceID: "ws_01jd0000000000000000000001", Name: "ci", Prefix: "bk_EfGh5678",
			Scopes: []string{"tasks:read", "tasks:write"}, CreatedAt: clitest.At(-3*day - time.Hour), ExpiresAt: ptr(clitest.At(86*day + 12*time.Hour))},
		{ID: "key_01jd0000000000000000000003", WorkspaceID: "ws_01jd0000000000000000000001", Name: "old-worker", Prefix: "bk_IjKl9012",
			Scopes: []string{"worker"}, CreatedAt: clitest.At(-90*day - time.Hour), RevokedAt: ptr(clitest.At(-5*day - time.Hour))},
		{ID: "key_01jd0000000000000000000004", WorkspaceID: "ws_01jd0000000000000000000001", Name: "trial", Prefix: "bk_MnOp3456",
			Scopes: []string{"usage:read"}, CreatedAt: clitest.At(-31*day - time.Hour), ExpiresAt: ptr(clitest.At(-day - time.Hour))},
	}
}

func stub(t *testing.T) *clitest.Env {
	keys := stubKeys()
	created := keys[1]
	created.Secret = "bk_EfGh5678" + "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	rotated := created
	rotated.PreviousExpiresAt = ptr(clitest.At(day - time.Minute))
	next := "c2"
	return clitest.NewStub(t, clitest.Routes{
		"GET /v1/keys":              api.List[api.Key]{Data: keys, NextCursor: &next},
		"GET /v1/keys/{id}":         keys[2],
		"POST /v1/keys":             clitest.Reply{Status: 201, Body: created},
		"POST /v1/keys/{id}/rotate": rotated,
	}.Shared())
}

func TestGolden(t *testing.T) {
	t.Parallel()
	e := stub(t)
	for _, c := range []struct {
		name string
		args []string
	}{
		{"list", []string{"keys", "list"}},
		{"get", []string{"keys", "get", "key_01jd0000000000000000000003"}},
		{"create", []string{"keys", "create", "--name", "ci", "--scope", "tasks:read,tasks:write", "--expires-in", "90d"}},
		{"rotate", []string{"keys", "rotate", "key_01jd0000000000000000000002"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			tty := e.TTY(c.args...).Want(t, 0)
			clitest.Golden(t, c.name+"_tty", tty.Stdout+"--- stderr\n"+clitest.Normalize(tty.Stderr))
			piped := e.Run(c.args...).Want(t, 0)
			clitest.Golden(t, c.name+"_piped", clitest.Normalize(piped.Stdout))
			js := e.Run(append(c.args, "-o", "json")...).Want(t, 0)
			clitest.Golden(t, c.name+"_json", clitest.Normalize(js.Stdout))
		})
	}
}

// TestWidths: every table of `baton keys` at 80 and 120 columns, with its
// ids whole (issue 16 row 1).
func TestWidths(t *testing.T) {
	t.Parallel()
	e := stub(t)
	e.GoldenWidths(t, "keys_list", "keys", "list")
	e.GoldenWidths(t, "keys_get", "keys", "get", "key_01jd0000000000000000000003")
}
