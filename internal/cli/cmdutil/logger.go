package cmdutil

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"github.com/lmittmann/tint"
)

// LogOptions tune Logger.
type LogOptions struct {
	// Level is the lowest level logged (Info by default).
	Level slog.Level
	// QuietRequests drops the server's per-request lines below Warn (what
	// `baton dev` does without --verbose): a failed request still shows.
	QuietRequests bool
}

// Logger is the slog logger of the long-running commands (server, dev,
// worker run) on stderr. format "auto" (the default; "" too) gives a
// terminal human lines with colour (tint: "14:03:05 INF task started
// task=…") and a pipe or file JSON lines; "json" forces JSON and "text"
// logfmt (level=INFO msg=…, no colour) wherever stderr goes.
func (f *Factory) Logger(format string, o LogOptions) *slog.Logger {
	w := f.IOStreams.ErrOut
	var h slog.Handler
	switch {
	case strings.EqualFold(format, "text"):
		h = slog.NewTextHandler(w, &slog.HandlerOptions{Level: o.Level})
	case !strings.EqualFold(format, "json") && f.IOStreams.IsStderrTTY():
		h = tint.NewHandler(w, &tint.Options{Level: o.Level, TimeFormat: time.TimeOnly, NoColor: !f.IOStreams.ColorEnabled()})
	default:
		h = slog.NewJSONHandler(w, &slog.HandlerOptions{Level: o.Level})
	}
	if o.QuietRequests {
		h = quietRequests{h}
	}
	return slog.New(h)
}

// quietRequests drops records with the message "request" below Warn.
type quietRequests struct{ slog.Handler }

func (q quietRequests) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == "request" && r.Level < slog.LevelWarn {
		return nil
	}
	return q.Handler.Handle(ctx, r)
}

func (q quietRequests) WithAttrs(a []slog.Attr) slog.Handler {
	return quietRequests{q.Handler.WithAttrs(a)}
}

func (q quietRequests) WithGroup(name string) slog.Handler {
	return quietRequests{q.Handler.WithGroup(name)}
}
