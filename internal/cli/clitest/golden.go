package clitest

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/olekukonko/tablewriter/pkg/twwidth"
)

var update = flag.Bool("update", false, "rewrite golden files")

// UpdateEnv, set to 1, rewrites golden files like -update. It works for
// package patterns that include packages without the -update flag, where
// `go test ./internal/cli/... -update` fails ("flag provided but not
// defined").
const UpdateEnv = "BATON_UPDATE_GOLDEN"

// Golden compares got with testdata/NAME.golden, or rewrites that file when
// the test runs with -update (or UpdateEnv=1).
func Golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update || os.Getenv(UpdateEnv) == "1" {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run the tests with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (run with -update to accept):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

var normalizers = []struct {
	re   *regexp.Regexp
	repl string
}{
	{regexp.MustCompile(`\b(ws|key|task|aud|alert)_[0-9a-z]{26}\b`), "${1}_ID"},
	{regexp.MustCompile(`\breq_[0-9a-zA-Z]+\b`), "req_ID"},
	{regexp.MustCompile(`\bbak_[0-9A-Za-z]{49}\b`), "bak_SECRET"},
	{regexp.MustCompile(`\bbk_[0-9A-Za-z]{49}\b`), "bk_SECRET"},
	{regexp.MustCompile(`\b(bak|bk)_[0-9A-Za-z]{8}\b`), "${1}_PREFIX"},
	{regexp.MustCompile(`\beyJ[\w-]*\.[\w-]+\.[\w-]+`), "JWT"},
	{regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)`), "TIME"},
	{regexp.MustCompile(`\b(just now|in less than a minute|(in )?\d+ (minute|hour|day|month|year)s?( ago)?)\b`), "AGO"},
	{regexp.MustCompile(`http://127\.0\.0\.1:\d+`), "http://SERVER"},
}

// Normalize replaces what varies between runs: ids (ws_ID, key_ID …),
// request ids (req_ID), secrets (bk_SECRET, bak_SECRET), public key
// prefixes (bk_PREFIX), session tokens (JWT), RFC 3339 times (TIME),
// relative times (AGO) and the test server's address (http://SERVER).
// Column widths of drawn tables are not recomputed: use a stub with fixed
// data for those.
func Normalize(s string) string {
	for _, n := range normalizers {
		s = n.re.ReplaceAllString(s, n.repl)
	}
	return s
}

// NormalizePath also replaces dir (a temporary directory) by DIR.
func NormalizePath(s, dir string) string {
	return Normalize(strings.ReplaceAll(s, dir, "DIR"))
}

// cutID matches an id whose tail a table cut ("task_01m8w…").
var cutID = regexp.MustCompile(`\b(ws|key|task|aud|alert|req)_[0-9a-z]*…`)

// GoldenWidths runs args on terminals 80 and 120 columns wide and compares
// each standard output with testdata/NAME_80.golden and NAME_120.golden.
// It fails when a line is wider than its terminal or when an id is cut:
// ids must survive both widths, and free text give way for them.
func (e *Env) GoldenWidths(t *testing.T, name string, args ...string) {
	t.Helper()
	for _, w := range []int{80, 120} {
		r := e.TTYWidth(w, args...).Want(t, 0)
		if m := cutID.FindString(r.Stdout); m != "" {
			t.Errorf("%d columns: id cut (%s):\n%s", w, m, r.Stdout)
		}
		for _, l := range strings.Split(r.Stdout, "\n") {
			if n := twwidth.Width(l); n > w {
				t.Errorf("%d columns: a line is %d wide: %q", w, n, l)
			}
		}
		Golden(t, fmt.Sprintf("%s_%d", name, w), r.Stdout)
	}
}
