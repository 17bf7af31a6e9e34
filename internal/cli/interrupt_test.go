package cli

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/genericcorp/baton/internal/cli/cmdutil"
	"github.com/genericcorp/baton/internal/iostreams"
)

// TestInterruptIsSilent (issue 16 row 10): a command stopped by Ctrl-C
// (its context cancelled mid-request) exits 130 and prints no
// "error: interrupted" on a terminal or piped; with -o json the envelope
// still says interrupted, for scripts that parse stderr.
func TestInterruptIsSilent(t *testing.T) {
	arrived := make(chan struct{}, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-r.Context().Done()
	}))
	t.Cleanup(srv.Close)
	for _, c := range []struct {
		name string
		tty  bool
		args []string
		want string // on stderr; "" means nothing at all
	}{
		{"terminal", true, nil, ""},
		{"piped", false, nil, ""},
		{"json", false, []string{"-o", "json"}, `"code":"interrupted"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			ios, _, out, errOut := iostreams.Test()
			ios.SetStdoutTTY(c.tty)
			ios.SetStderrTTY(c.tty)
			env := map[string]string{"XDG_CONFIG_HOME": t.TempDir(), "BATON_SERVER": srv.URL, "BATON_API_KEY": "bk_test"}
			f := cmdutil.New(ios, func(k string) string { return env[k] })
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go func() { <-arrived; cancel() }() // Ctrl-C while the request is in flight
			code := Run(ctx, f, append([]string{"tasks", "get", "task_1"}, c.args...))
			if code != 130 {
				t.Fatalf("exit %d, want 130; stderr %q", code, errOut.String())
			}
			if out.Len() != 0 {
				t.Errorf("stdout %q", out.String())
			}
			switch {
			case c.want == "" && errOut.Len() != 0:
				t.Errorf("stderr %q, want nothing", errOut.String())
			case c.want != "" && !strings.Contains(errOut.String(), c.want):
				t.Errorf("stderr %q lacks %s", errOut.String(), c.want)
			}
		})
	}
}
