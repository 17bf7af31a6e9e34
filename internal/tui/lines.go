package tui

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/genericcorp/baton/pkg/api"
	"github.com/genericcorp/baton/pkg/client"
)

// LineOptions tune WriteLines.
type LineOptions struct {
	// JSON prints each snapshot as one api.Quota JSON document per line.
	JSON bool
	// Status, when set, receives the connection state changes
	// ("state=polling"), which are not snapshots (stderr in the CLI).
	Status io.Writer
}

// WriteLines prints one line per snapshot of updates until the channel
// closes: `baton top` without a terminal and `baton usage watch`. A line
// reads
//
//	2026-11-28T22:00:00Z ws_… executions 812/1000 81.2% exec-time 1200/3600s 33.3% spend $1.20/$5.00 24.0% api-rate 12/600 2.0% running 1/10 10.0% queued 3/10000 0.0% state=live
//
// It returns the error that ended the watch (an update's Err), an error
// writing to w, or nil when the channel closed.
func WriteLines(updates <-chan client.QuotaUpdate, w io.Writer, o LineOptions) error {
	state := ""
	enc := json.NewEncoder(w)
	for u := range updates {
		if u.Err != nil {
			return u.Err
		}
		if u.State != "" && u.State != state {
			state = u.State
			if o.Status != nil && u.Quota == nil {
				fmt.Fprintf(o.Status, "state=%s\n", state)
			}
		}
		if u.Quota == nil {
			continue
		}
		var err error
		if o.JSON {
			err = enc.Encode(u.Quota)
		} else {
			_, err = io.WriteString(w, Line(*u.Quota, state)+"\n")
		}
		if err != nil {
			return fmt.Errorf("write snapshot: %w", err)
		}
	}
	return nil
}

// Line is the one-line form of a snapshot: its time, workspace, each gauge
// as used/limit and percent (raw numbers: seconds, micro-dollars shown as
// dollars), and the connection state when known.
func Line(q api.Quota, state string) string {
	var b strings.Builder
	b.WriteString(q.At.UTC().Format(time.RFC3339))
	b.WriteString(" " + q.WorkspaceID)
	for _, name := range api.QuotaMetrics {
		x, ok := q.Metric(name)
		if !ok {
			continue
		}
		b.WriteString(" " + lineLabel[name] + " " + lineAmount(x))
		if x.Unlimited {
			b.WriteString(" -")
		} else {
			b.WriteString(" " + percent(x.Percent))
		}
	}
	if q.Held > 0 {
		fmt.Fprintf(&b, " held=%d", q.Held)
	}
	if len(q.Exceeded) > 0 {
		b.WriteString(" exceeded=" + strings.Join(q.Exceeded, ","))
	}
	if state != "" {
		b.WriteString(" state=" + state)
	}
	return b.String()
}

// lineAmount is "used/limit" in plain units: executions and counts as is,
// seconds with an "s", spend in dollars with a "$".
func lineAmount(x api.QuotaMetric) string {
	limit := func(f func(int64) string) string {
		if x.Unlimited {
			return "unlimited"
		}
		return f(x.Limit)
	}
	itoa := func(n int64) string { return fmt.Sprint(n) }
	switch x.Name {
	case api.QuotaExecutionSeconds:
		return itoa(x.Used) + "/" + limit(itoa) + "s"
	case api.QuotaSpend:
		usd := func(n int64) string { return fmt.Sprintf("%d.%02d", n/1_000_000, (n%1_000_000)/10_000) }
		return "$" + usd(x.Used) + "/$" + limit(usd)
	}
	return itoa(x.Used) + "/" + limit(itoa)
}
