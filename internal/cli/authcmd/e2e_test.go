package authcmd_test

import (
	"os"
	"strings"
	"testing"

	"github.com/genericcorp/baton/internal/cli/clitest"
	"github.com/genericcorp/baton/pkg/api"
	"github.com/genericcorp/baton/pkg/config"
)

// noKey is an environment without BATON_API_KEY: the config file's key applies.
var noKey = map[string]string{config.EnvAPIKey: ""}

func login(e *clitest.Env, key string, args ...string) clitest.Result {
	return e.Exec(clitest.Invocation{Args: append([]string{"login", "--with-token"}, args...), Stdin: key + "\n", Env: noKey})
}

func TestLoginStatusLogout(t *testing.T) {
	t.Parallel()
	e := clitest.NewServer(t)
	ws, owner := e.NewTenant(t, "acme")

	r := login(e, owner).Want(t, 0)
	want := "Logged in to " + e.URL + " as default (key_"
	if r.Stdout != "" || !strings.Contains(r.Stderr, want) || !strings.Contains(r.Stderr, "in workspace acme ("+ws.ID+")") {
		t.Fatalf("stdout %q stderr %q", r.Stdout, r.Stderr)
	}
	file := e.Config()
	if p := file.Profiles["default"]; file.CurrentProfile != "default" || p.Server != e.URL || p.APIKey != owner {
		t.Fatalf("config = %+v", file)
	}
	if st, err := os.Stat(e.ConfigPath); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("config file: %v %v", st.Mode(), err)
	}

	st := clitest.JSON[map[string]any](t, e.Exec(clitest.Invocation{Args: []string{"auth", "status", "-o", "json"}, Env: noKey}).Want(t, 0))
	me, _ := st["me"].(map[string]any)
	if st["server"] != e.URL || st["profile"] != "default" || st["source"] != "config" || me == nil || me["workspace"].(map[string]any)["id"] != ws.ID {
		t.Fatalf("status = %v", st)
	}
	if st := clitest.JSON[map[string]any](t, e.Run("auth", "status", "-o", "json").Want(t, 0)); st["source"] != "env" || st["me"].(map[string]any)["workspace"] != nil {
		t.Fatalf("status with BATON_API_KEY = %v", st)
	}
	flag := e.Exec(clitest.Invocation{Args: []string{"auth", "status", "--api-key", owner}, Env: noKey}).Want(t, 0)
	if !strings.Contains(flag.Stdout, "key_source\tflag (--api-key)\n") {
		t.Fatalf("status --api-key:\n%s", flag.Stdout)
	}

	r = e.Exec(clitest.Invocation{Args: []string{"logout"}, Env: noKey}).Want(t, 0)
	if !strings.Contains(r.Stderr, `Logged out of profile "default"`) {
		t.Fatalf("logout: %s", r.Stderr)
	}
	if p := e.Config().Profiles["default"]; p.APIKey != "" || p.Server != e.URL {
		t.Fatalf("after logout: %+v", p)
	}
	r = e.Exec(clitest.Invocation{Args: []string{"logout", "-o", "json"}, Env: noKey}).Want(t, 0)
	if !strings.Contains(r.Stderr, "Not logged in") || clitest.JSON[map[string]any](t, r)["logged_out"] != false {
		t.Fatalf("second logout: stdout %q stderr %q", r.Stdout, r.Stderr)
	}
	r = e.Exec(clitest.Invocation{Args: []string{"auth", "status"}, Env: noKey}).Want(t, 4)
	if !strings.Contains(r.Stderr, "not logged in") || !strings.Contains(r.Stderr, "hint: run `baton login`") {
		t.Fatalf("status after logout: %s", r.Stderr)
	}
	e.Exec(clitest.Invocation{Args: []string{"auth", "status", "-o", "json"}, Env: noKey}).Want(t, 4)
}

func TestLoginOperatorProfileAndPrompt(t *testing.T) {
	t.Parallel()
	e := clitest.NewServer(t)

	r := login(e, e.Key, "--profile", "ops", "-o", "json").Want(t, 0)
	me := clitest.JSON[api.Me](t, r)
	if me.Workspace != nil || me.Key.Scopes[0] != api.ScopeAdmin || !strings.Contains(r.Stderr, "as operator") {
		t.Fatalf("me %+v, stderr %s", me, r.Stderr)
	}
	if f := e.Config(); f.CurrentProfile != "ops" || f.Profiles["ops"].APIKey != e.Key {
		t.Fatalf("config = %+v", f)
	}

	// On a terminal the key is asked for; the env key draws a warning.
	_, owner := e.NewTenant(t, "acme")
	r = e.Exec(clitest.Invocation{Args: []string{"login", "--profile", "acme"}, TTY: true, Stdin: owner + "\n",
		Env: map[string]string{config.EnvAPIKey: e.Key}}).Want(t, 0)
	if !strings.Contains(r.Stderr, "Paste your API key") || !strings.Contains(r.Stderr, "BATON_API_KEY is set") {
		t.Fatalf("stderr: %s", r.Stderr)
	}
	if f := e.Config(); f.CurrentProfile != "acme" || len(f.Profiles) != 2 {
		t.Fatalf("config = %+v", f)
	}
}

func TestLoginRefused(t *testing.T) {
	t.Parallel()
	e := clitest.NewServer(t)
	bad := "bk_" + strings.Repeat("A", 49)
	r := login(e, bad).Want(t, 4)
	if r.Stdout != "" || !strings.Contains(r.Stderr, "nothing was saved") {
		t.Fatalf("stdout %q stderr %q", r.Stdout, r.Stderr)
	}
	if _, err := os.Stat(e.ConfigPath); !os.IsNotExist(err) {
		t.Fatalf("config written: %v", err)
	}
	// A revoked key is refused too.
	_, owner := e.NewTenant(t, "acme")
	k := clitest.JSON[api.Key](t, e.RunAs(owner, "keys", "create", "--scope", "worker", "-o", "json").Want(t, 0))
	e.RunAs(owner, "keys", "revoke", k.ID, "--yes").Want(t, 0)
	login(e, k.Secret).Want(t, 4)

	e.Exec(clitest.Invocation{Args: []string{"login"}, Env: noKey}).Want(t, 2) // no terminal, no --with-token
	e.Exec(clitest.Invocation{Args: []string{"login", "--with-token"}, Env: noKey}).Want(t, 2)
	login(e, owner, "--server", "ftp://x").Want(t, 2) // a bad --server is a usage error
}

func TestToken(t *testing.T) {
	t.Parallel()
	e := clitest.NewServer(t)
	_, owner := e.NewTenant(t, "acme")
	r := e.RunAs(owner, "auth", "token").Want(t, 0)
	tok := strings.TrimSuffix(r.Stdout, "\n")
	if strings.Count(tok, ".") != 2 || strings.Contains(tok, "\n") || r.Stderr != "" {
		t.Fatalf("stdout %q stderr %q", r.Stdout, r.Stderr)
	}
	st := e.RunAs(tok, "auth", "status").Want(t, 0)
	if !strings.Contains(st.Stdout, "session\tyes\n") {
		t.Fatalf("status with the token:\n%s", st.Stdout)
	}
	e.RunAs(tok, "auth", "token").Want(t, 4) // a session cannot mint another

	js := clitest.JSON[api.TokenResponse](t, e.RunAs(owner, "auth", "token", "-o", "json").Want(t, 0))
	if js.Token == "" || js.ExpiresAt.IsZero() {
		t.Fatalf("token -o json = %+v", js)
	}
	e.RunAs("", "auth", "token").Want(t, 4)
}

// The real server's answers normalised: the values of an object view come
// last on each line, so normalising them does not disturb the alignment.
func TestStatusGolden(t *testing.T) {
	t.Parallel()
	e := clitest.NewServer(t)
	_, owner := e.NewTenant(t, "acme")
	run := func(args ...string) clitest.Result {
		return e.RunAs(owner, args...)
	}
	tty := e.Exec(clitest.Invocation{Args: []string{"auth", "status"}, TTY: true, Env: map[string]string{config.EnvAPIKey: owner}}).Want(t, 0)
	if tty.Stderr != "" {
		t.Fatalf("stderr: %s", tty.Stderr)
	}
	clitest.Golden(t, "status_tty", clitest.Normalize(tty.Stdout))
	clitest.Golden(t, "status_piped", clitest.Normalize(run("auth", "status").Want(t, 0).Stdout))
	clitest.Golden(t, "status_json", clitest.Normalize(run("auth", "status", "-o", "json").Want(t, 0).Stdout))
	clitest.Golden(t, "operator_status_piped", clitest.Normalize(e.Run("auth", "status").Want(t, 0).Stdout))
	clitest.Golden(t, "token_json", clitest.Normalize(run("auth", "token", "-o", "json").Want(t, 0).Stdout))
	lg := login(e, owner, "-o", "json").Want(t, 0)
	clitest.Golden(t, "login_json", clitest.Normalize(lg.Stdout))
	clitest.Golden(t, "login_stderr", clitest.NormalizePath(lg.Stderr, strings.TrimSuffix(e.ConfigPath, "/config/baton/config.yaml")))
}

// TestLoginDoesNotReplaceSilently (issue 16 row 2): a second login into the
// current profile with another key is refused without a terminal, asks on
// one, and goes through with --force; a login into a new profile keeps the
// current profile's server and names the way back.
func TestLoginDoesNotReplaceSilently(t *testing.T) {
	t.Parallel()
	e := clitest.NewServer(t)
	_, owner := e.NewTenant(t, "acme")
	noServer := map[string]string{config.EnvAPIKey: "", config.EnvServer: ""}
	in := func(key string, tty bool, stdin string, args ...string) clitest.Result {
		if !tty {
			stdin = key + "\n"
			args = append([]string{"login", "--with-token"}, args...)
		} else {
			args = append([]string{"login", "--with-token"}, args...)
			stdin = key + "\n" + stdin
		}
		return e.Exec(clitest.Invocation{Args: args, Stdin: stdin, TTY: tty, Env: noServer})
	}
	in(e.Key, false, "", "--server", e.URL).Want(t, 0)

	r := in(owner, false, "").Want(t, 2)
	if !strings.Contains(r.Stderr, `profile "default" already holds a key for `+e.URL+"; not replaced") ||
		!strings.Contains(r.Stderr, "hint: save this key in another profile with --profile NAME") || strings.Count(r.Stderr, "error:") != 1 {
		t.Fatalf("second login: %s", r.Stderr)
	}
	if got := e.Config().Profiles["default"].APIKey; got != e.Key {
		t.Fatalf("key replaced: %q", got)
	}
	r = in(owner, true, "n\n").Want(t, 1)
	if !strings.Contains(r.Stderr, "Replace it? [y/N]") || e.Config().Profiles["default"].APIKey != e.Key {
		t.Fatalf("declined prompt: %s", r.Stderr)
	}
	r = in(owner, false, "", "--force").Want(t, 0)
	if !strings.Contains(r.Stderr, `Replaced the key of profile "default"`) || e.Config().Profiles["default"].APIKey != owner {
		t.Fatalf("--force: %s", r.Stderr)
	}

	// A new profile, no --server: the current profile's server, not the default.
	r = in(e.Key, false, "", "--profile", "ops").Want(t, 0)
	f := e.Config()
	if f.Profiles["ops"].Server != e.URL || f.CurrentProfile != "ops" || f.Profiles["default"].APIKey != owner {
		t.Fatalf("config = %+v", f)
	}
	if !strings.Contains(r.Stderr, "Logged in to "+e.URL) || !strings.Contains(r.Stderr, "Switch back with `baton profile use default`") {
		t.Fatalf("new profile: %s", r.Stderr)
	}
}
