package keys_test

import (
	"context"
	"slices"
	"testing"

	"github.com/genericcorp/baton/internal/cli/clitest"
	"github.com/genericcorp/baton/internal/cli/keys"
)

func TestCreateFlags(t *testing.T) {
	var got *keys.CreateOptions
	run := func(_ context.Context, o *keys.CreateOptions) error { got = o; return nil }
	err := clitest.Parse(keys.NewCmdCreate(clitest.Factory(false), run),
		"--name", "ci", "--scope", "tasks:write", "--scope", "tasks:read,usage:read", "--expires-in", "90d")
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "ci" || got.ExpiresIn != "90d" || !slices.Equal(got.Scopes, []string{"tasks:write", "tasks:read", "usage:read"}) {
		t.Fatalf("options = %+v", got)
	}

	for name, args := range map[string][]string{
		"bad expiry":      {"--scope", "worker", "--expires-in", "soon"},
		"negative expiry": {"--scope", "worker", "--expires-in", "-5m"},
		"empty scope":     {"--scope", "tasks:read,"},
		"unknown scope":   {"--scope", "tasks:reed"},
		"argument":        {"extra"},
	} {
		t.Run(name, func(t *testing.T) {
			clitest.WantFlagError(t, clitest.Parse(keys.NewCmdCreate(clitest.Factory(false), run), args...))
		})
	}
}

func TestListFlags(t *testing.T) {
	var got *keys.ListOptions
	run := func(_ context.Context, o *keys.ListOptions) error { got = o; return nil }
	if err := clitest.Parse(keys.NewCmdList(clitest.Factory(false), run)); err != nil {
		t.Fatal(err)
	}
	if got.Limit != 20 || got.All {
		t.Fatalf("defaults = %+v", got)
	}
	if err := clitest.Parse(keys.NewCmdList(clitest.Factory(false), run), "--limit", "100", "--all"); err != nil {
		t.Fatal(err)
	}
	if got.Limit != 100 || !got.All {
		t.Fatalf("options = %+v", got)
	}
	for _, bad := range []string{"0", "101", "-1"} {
		clitest.WantFlagError(t, clitest.Parse(keys.NewCmdList(clitest.Factory(false), run), "--limit", bad))
	}
}

func TestGetFlags(t *testing.T) {
	var got *keys.GetOptions
	run := func(_ context.Context, o *keys.GetOptions) error { got = o; return nil }
	if err := clitest.Parse(keys.NewCmdGet(clitest.Factory(false), run), "key_1"); err != nil || got.ID != "key_1" {
		t.Fatalf("err %v, options %+v", err, got)
	}
	clitest.WantFlagError(t, clitest.Parse(keys.NewCmdGet(clitest.Factory(false), run)))
	clitest.WantFlagError(t, clitest.Parse(keys.NewCmdGet(clitest.Factory(false), run), "a", "b"))
}

func TestRevokeFlags(t *testing.T) {
	var got *keys.RevokeOptions
	run := func(_ context.Context, o *keys.RevokeOptions) error { got = o; return nil }

	// Without a terminal --yes is required.
	clitest.WantFlagError(t, clitest.Parse(keys.NewCmdRevoke(clitest.Factory(false), run), "key_1"))
	if err := clitest.Parse(keys.NewCmdRevoke(clitest.Factory(false), run), "key_1", "--yes"); err != nil || !got.Yes || got.ID != "key_1" {
		t.Fatalf("err %v, options %+v", err, got)
	}
	// On a terminal the run asks.
	if err := clitest.Parse(keys.NewCmdRevoke(clitest.Factory(true), run), "key_2"); err != nil || got.Yes || got.ID != "key_2" {
		t.Fatalf("err %v, options %+v", err, got)
	}
	clitest.WantFlagError(t, clitest.Parse(keys.NewCmdRevoke(clitest.Factory(true), run)))
}

func TestRotateFlags(t *testing.T) {
	var got *keys.RotateOptions
	run := func(_ context.Context, o *keys.RotateOptions) error { got = o; return nil }
	if err := clitest.Parse(keys.NewCmdRotate(clitest.Factory(false), run), "key_1"); err != nil || got.Grace != "" {
		t.Fatalf("err %v, options %+v", err, got)
	}
	for _, ok := range []string{"0s", "1h", "7d"} {
		if err := clitest.Parse(keys.NewCmdRotate(clitest.Factory(false), run), "key_1", "--grace", ok); err != nil || got.Grace != ok {
			t.Fatalf("--grace %s: err %v, options %+v", ok, err, got)
		}
	}
	for _, bad := range []string{"", "1.5d", "tomorrow", "-1h"} {
		clitest.WantFlagError(t, clitest.Parse(keys.NewCmdRotate(clitest.Factory(false), run), "key_1", "--grace", bad))
	}
}
