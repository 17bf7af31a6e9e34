package cmdutil

import (
	"strings"
	"testing"

	"github.com/genericcorp/baton/internal/iostreams"
)

// TestLogger (issue 16 row 9): human lines on a terminal, logfmt piped,
// JSON when asked; QuietRequests drops routine request lines only.
func TestLogger(t *testing.T) {
	for _, c := range []struct {
		name, format string
		tty          bool
		want         string
	}{
		{"terminal", "text", true, "INF task started queue=email"},
		{"piped", "text", false, `level=INFO msg="task started" queue=email`},
		{"json", "json", true, `"msg":"task started","queue":"email"`},
	} {
		ios, _, _, errOut := iostreams.Test()
		ios.SetStderrTTY(c.tty)
		ios.SetColorEnabled(false)
		f := New(ios, func(string) string { return "" })
		f.Logger(c.format, LogOptions{}).Info("task started", "queue", "email")
		if !strings.Contains(errOut.String(), c.want) {
			t.Errorf("%s: %q, want %q", c.name, errOut.String(), c.want)
		}
	}

	ios, _, _, errOut := iostreams.Test()
	log := New(ios, func(string) string { return "" }).Logger("text", LogOptions{QuietRequests: true}).With("component", "http")
	log.Info("request", "status", 200)
	log.Warn("request", "status", 429)
	log.Error("request", "status", 500)
	log.Info("baton server listening")
	out := errOut.String()
	if strings.Contains(out, "status=200") || !strings.Contains(out, "status=429") || !strings.Contains(out, "status=500") || !strings.Contains(out, "listening") {
		t.Errorf("QuietRequests:\n%s", out)
	}
}
