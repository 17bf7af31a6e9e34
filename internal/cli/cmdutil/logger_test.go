package cmdutil

import (
	"strings"
	"testing"

	"github.com/genericcorp/baton/internal/iostreams"
)

// TestLogger (issue 16 row 9 and "logs a person can read"): by default
// ("auto", or unset) human lines on a terminal, with colour when colour is
// on, and JSON piped; --log-format json or text (logfmt, never coloured)
// force their format wherever stderr goes. QuietRequests drops routine
// request lines only.
func TestLogger(t *testing.T) {
	const (
		human  = "INF task started queue=email"
		logfmt = `level=INFO msg="task started" queue=email`
		json   = `"level":"INFO","msg":"task started","queue":"email"`
	)
	for _, c := range []struct {
		name, format string
		tty, color   bool
		want         string
	}{
		{"auto terminal", "auto", true, false, human},
		{"auto terminal colour", "auto", true, true, "\x1b[92mINF\x1b[0m task started \x1b[2mqueue=\x1b[0memail"},
		{"unset terminal", "", true, false, human},
		{"auto piped", "auto", false, false, json},
		{"unset piped", "", false, false, json},
		{"json terminal", "json", true, true, json},
		{"json piped", "JSON", false, false, json},
		{"text terminal", "text", true, true, logfmt},
		{"text piped", "text", false, false, logfmt},
	} {
		ios, _, _, errOut := iostreams.Test()
		ios.SetStderrTTY(c.tty)
		ios.SetColorEnabled(c.color)
		f := New(ios, func(string) string { return "" })
		f.Logger(c.format, LogOptions{}).Info("task started", "queue", "email")
		got := errOut.String()
		if !strings.Contains(got, c.want) {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
		if !strings.Contains(c.want, "\x1b[") && strings.Contains(got, "\x1b[") {
			t.Errorf("%s: coloured: %q", c.name, got)
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
