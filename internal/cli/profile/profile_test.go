package profile_test

import (
	"context"
	"strings"
	"testing"

	"github.com/genericcorp/baton/internal/cli/clitest"
	"github.com/genericcorp/baton/internal/cli/profile"
	"github.com/genericcorp/baton/pkg/config"
)

const (
	prodKey = "bk_AbCd1234" + "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz"
	opsKey  = "bak_WxYz9876" + "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz"
)

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		prodKey: "bk_AbCd1234…", opsKey: "bak_WxYz9876…", "": "",
		"eyJhbGciOiJIUzI1NiJ9.e30.x": "eyJh…", "bk_short": "…", "bk_AbCd1234": "bk_A…",
	} {
		if got := profile.Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFlags(t *testing.T) {
	f := clitest.Factory(false)
	var use *profile.UseOptions
	if err := clitest.Parse(profile.NewCmdUse(f, func(_ context.Context, o *profile.UseOptions) error { use = o; return nil }), "prod"); err != nil || use.Name != "prod" {
		t.Fatalf("use: err %v, options %+v", err, use)
	}
	clitest.WantFlagError(t, clitest.Parse(profile.NewCmdUse(f, nil)))
	clitest.WantFlagError(t, clitest.Parse(profile.NewCmdUse(f, nil), "a", "b"))

	var show *profile.ShowOptions
	runShow := func(_ context.Context, o *profile.ShowOptions) error { show = o; return nil }
	if err := clitest.Parse(profile.NewCmdShow(f, runShow)); err != nil || show.Name != "" {
		t.Fatalf("show: err %v, options %+v", err, show)
	}
	if err := clitest.Parse(profile.NewCmdShow(f, runShow), "prod"); err != nil || show.Name != "prod" {
		t.Fatalf("show prod: err %v, options %+v", err, show)
	}
	clitest.WantFlagError(t, clitest.Parse(profile.NewCmdShow(f, runShow), "a", "b"))
	clitest.WantFlagError(t, clitest.Parse(profile.NewCmdList(f, nil), "a"))
}

// setup returns an Env whose config file has three profiles, "prod" current.
func setup(t *testing.T) *clitest.Env {
	t.Helper()
	e := clitest.NewStub(t, nil)
	file := &config.File{CurrentProfile: "prod", Profiles: map[string]config.Profile{
		"prod":    {Name: "prod", Server: "https://baton.example.com", APIKey: prodKey},
		"ops":     {Name: "ops", Server: "https://baton.example.com", APIKey: opsKey, Workspace: "ws_01jd0000000000000000000001"},
		"staging": {Name: "staging", Server: "http://127.0.0.1:7070"},
	}}
	if err := file.Save(e.ConfigPath); err != nil {
		t.Fatal(err)
	}
	return e
}

func TestListAndShow(t *testing.T) {
	t.Parallel()
	e := setup(t)
	// The data is fixed: only the temporary directory varies.
	dir := strings.NewReplacer(strings.TrimSuffix(e.ConfigPath, "/config/baton/config.yaml"), "DIR")
	for name, args := range map[string][]string{"list": {"profile", "list"}, "show": {"profile", "show"}, "show_ops": {"profile", "show", "ops"}} {
		tty := e.TTY(args...).Want(t, 0)
		clitest.Golden(t, name+"_tty", dir.Replace(tty.Stdout+"--- stderr\n"+tty.Stderr))
		clitest.Golden(t, name+"_piped", dir.Replace(e.Run(args...).Want(t, 0).Stdout))
		js := e.Run(append(args, "-o", "json")...).Want(t, 0)
		clitest.Golden(t, name+"_json", dir.Replace(js.Stdout))
		for _, out := range []string{tty.Stdout, js.Stdout} {
			if strings.Contains(out, prodKey) || strings.Contains(out, opsKey) {
				t.Fatalf("%s prints a whole key:\n%s", name, out)
			}
		}
	}

	// CURRENT follows --profile and BATON_PROFILE.
	r := e.Exec(clitest.Invocation{Args: []string{"profile", "list", "--profile", "ops"}})
	if !strings.Contains(r.Stdout, "ops\thttps://baton.example.com\t*\t") || strings.Contains(r.Stdout, "prod\thttps://baton.example.com\t*") {
		t.Fatalf("--profile ops:\n%s", r.Stdout)
	}
	r = e.Exec(clitest.Invocation{Args: []string{"profile", "show"}, Env: map[string]string{config.EnvProfile: "staging"}}).Want(t, 0)
	if !strings.HasPrefix(r.Stdout, "name\tstaging\n") {
		t.Fatalf("BATON_PROFILE=staging:\n%s", r.Stdout)
	}

	r = e.Run("profile", "show", "nope").Want(t, 1)
	if !strings.Contains(r.Stderr, `no profile named "nope"`) || !strings.Contains(r.Stderr, "hint: known profiles: ops, prod, staging") {
		t.Fatalf("stderr: %s", r.Stderr)
	}
}

func TestUse(t *testing.T) {
	t.Parallel()
	e := setup(t)
	r := e.Run("profile", "use", "ops").Want(t, 0)
	if r.Stdout != "" || !strings.Contains(r.Stderr, `Now using profile "ops" (https://baton.example.com)`) {
		t.Fatalf("stdout %q stderr %q", r.Stdout, r.Stderr)
	}
	if got := e.Config().CurrentProfile; got != "ops" {
		t.Fatalf("current profile = %q", got)
	}
	r = e.Exec(clitest.Invocation{Args: []string{"profile", "use", "staging"}, Env: map[string]string{config.EnvProfile: "prod"}}).Want(t, 0)
	if !strings.Contains(r.Stderr, "BATON_PROFILE=prod is set") {
		t.Fatalf("no warning: %s", r.Stderr)
	}
	r = e.Run("profile", "use", "nope").Want(t, 1)
	if !strings.Contains(r.Stderr, "hint: known profiles: ops, prod, staging; or create it with `baton login --profile nope`") {
		t.Fatalf("stderr: %s", r.Stderr)
	}
	if got := e.Config().CurrentProfile; got != "staging" {
		t.Fatalf("current profile = %q after a failed use", got)
	}
	e.Run("profile", "use").Want(t, 2)
}

// TestWidths: `profile list` at 80 and 120 columns (issue 16 row 1).
func TestWidths(t *testing.T) {
	t.Parallel()
	setup(t).GoldenWidths(t, "profile_list", "profile", "list")
}

func TestEmpty(t *testing.T) {
	t.Parallel()
	e := clitest.NewStub(t, nil)
	r := e.Run("profile", "list").Want(t, 0)
	if r.Stdout != "name\tserver\tcurrent\tkey\tworkspace\n" || !strings.Contains(r.Stderr, "baton login") {
		t.Fatalf("stdout %q stderr %q", r.Stdout, r.Stderr)
	}
	if r := e.Run("profile", "list", "-o", "json").Want(t, 0); r.Stdout != "[]\n" {
		t.Fatalf("json: %q", r.Stdout)
	}
	r = e.Run("profile", "show").Want(t, 1)
	if !strings.Contains(r.Stderr, "create it with `baton login --profile default`") {
		t.Fatalf("stderr: %s", r.Stderr)
	}
}

func TestCompletion(t *testing.T) {
	t.Parallel()
	e := setup(t)
	for _, args := range [][]string{{"__complete", "profile", "use", "s"}, {"__complete", "profile", "show", "s"}, {"__complete", "tiers", "list", "--profile", "s"}} {
		r := e.Run(args...).Want(t, 0)
		if !strings.HasPrefix(r.Stdout, "staging\n:4\n") {
			t.Errorf("%v: %q", args, r.Stdout)
		}
	}
	if r := e.Run("__complete", "profile", "use", "ops", ""); !strings.HasPrefix(r.Stdout, ":4\n") {
		t.Errorf("second argument completed: %q", r.Stdout)
	}
}
