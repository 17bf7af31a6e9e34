package authcmd_test

import (
	"context"
	"strings"
	"testing"

	"github.com/genericcorp/baton/internal/cli/authcmd"
	"github.com/genericcorp/baton/internal/cli/clitest"
)

func TestLoginFlags(t *testing.T) {
	var got *authcmd.LoginOptions
	run := func(_ context.Context, o *authcmd.LoginOptions) error { got = o; return nil }

	f := clitest.Factory(false)
	f.IOStreams.In = strings.NewReader("  bk_key  \nnext line\n")
	if err := clitest.Parse(authcmd.NewCmdLogin(f, run), "--with-token"); err != nil || got.Key != "bk_key" || !got.WithToken {
		t.Fatalf("err %v, options %+v", err, got)
	}

	// Without a terminal the key must come with --with-token.
	err := clitest.Parse(authcmd.NewCmdLogin(clitest.Factory(false), run))
	clitest.WantFlagError(t, err)
	// An empty standard input is a usage error too.
	clitest.WantFlagError(t, clitest.Parse(authcmd.NewCmdLogin(clitest.Factory(false), run), "--with-token"))
	// On a terminal the run prompts.
	got = nil
	if err := clitest.Parse(authcmd.NewCmdLogin(clitest.Factory(true), run)); err != nil || got.Key != "" || got.WithToken {
		t.Fatalf("err %v, options %+v", err, got)
	}
	clitest.WantFlagError(t, clitest.Parse(authcmd.NewCmdLogin(clitest.Factory(true), run), "extra"))
}

func TestNoArgs(t *testing.T) {
	f := clitest.Factory(false)
	called := 0
	for _, c := range []struct {
		name string
		err  error
	}{
		{"logout", clitest.Parse(authcmd.NewCmdLogout(f, func(context.Context, *authcmd.LogoutOptions) error { called++; return nil }))},
		{"status", clitest.Parse(authcmd.NewCmdStatus(f, func(context.Context, *authcmd.StatusOptions) error { called++; return nil }))},
		{"token", clitest.Parse(authcmd.NewCmdToken(f, func(context.Context, *authcmd.TokenOptions) error { called++; return nil }))},
	} {
		if c.err != nil {
			t.Errorf("%s: %v", c.name, c.err)
		}
	}
	if called != 3 {
		t.Fatalf("run called %d times", called)
	}
	clitest.WantFlagError(t, clitest.Parse(authcmd.NewCmdLogout(f, nil), "x"))
	clitest.WantFlagError(t, clitest.Parse(authcmd.NewCmdStatus(f, nil), "x"))
	clitest.WantFlagError(t, clitest.Parse(authcmd.NewCmdToken(f, nil), "x"))
}
