package usage

import (
	"context"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/genericcorp/baton/internal/cli/cmdutil"
	"github.com/genericcorp/baton/internal/output"
	"github.com/genericcorp/baton/pkg/api"
	"github.com/genericcorp/baton/pkg/client"
)

// ReportOptions are the inputs of `baton usage report`.
type ReportOptions struct {
	Factory *cmdutil.Factory
	// From and To are the flags as given ("" when not).
	From, To string
	// By is the bucket size: hour or day.
	By string

	// Start and End are the range [Start, End) the flags select, resolved
	// against Factory.Now when the flags are parsed. A zero End is now
	// (the server's clock).
	Start, End time.Time
}

// NewCmdReport returns `baton usage report`. runF replaces the run logic in
// tests (nil: runReport).
func NewCmdReport(f *cmdutil.Factory, runF func(context.Context, *ReportOptions) error) *cobra.Command {
	opts := &ReportOptions{Factory: f}
	cmd := &cobra.Command{
		Use:   "report [--from D] [--to D] [--by hour|day]",
		Short: "Show usage per hour or day over a range",
		Long: `Show the workspace's usage per bucket (hour or day, UTC) over a range: API
calls, task executions (attempts started), execution time, tokens and cost
in USD, then the totals over the range. Buckets without any usage are left
out.

--from and --to take a date (2026-11-01, midnight UTC), an RFC 3339 time
(2026-11-01T09:00:00Z), a duration back from now (7d, 24h, 90m) or "now".
A date given to --to includes that whole day (--from 2026-11-01 --to
2026-11-01 is that one day). Without --from the range starts at the
beginning of the current billing period (the calendar month, UTC), or of
the month --to falls in; without --to it ends now. The server refuses
ranges longer than 31 days by hour and about 13 months by day (exit 1).

On a terminal execution time is human (1h30m) and costs have four
decimals; piped and with -o csv there is one row per bucket and no totals
row, execution is in seconds (execution_seconds) and cost is exact. -o json
prints the API's usage series as is (money in integer micro-dollars).`,
		Example: `  baton usage report
  baton usage report --from 7d --by hour
  baton usage report --from 2026-10-01 --to 2026-10-31 -o csv > october.csv`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, name := range []string{"from", "to"} {
				if cmd.Flags().Changed(name) && cmd.Flags().Lookup(name).Value.String() == "" {
					return cmdutil.FlagErrorf("--%s must not be empty", name)
				}
			}
			if err := opts.resolve(f.Now()); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runReport(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.From, "from", "", "start of the range: a date, RFC 3339 time or duration ago (7d)")
	fl.StringVar(&opts.To, "to", "", "end of the range: a date (inclusive), RFC 3339 time, duration ago or now")
	fl.StringVar(&opts.By, "by", api.GranularityDay, "bucket size: hour or day")
	_ = cmd.RegisterFlagCompletionFunc("by", cobra.FixedCompletions([]string{api.GranularityHour, api.GranularityDay}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("from", cobra.NoFileCompletions)
	_ = cmd.RegisterFlagCompletionFunc("to", cobra.NoFileCompletions)
	return cmd
}

// resolve checks the flags and sets Start and End. Errors: a FlagError for
// a bad --by, --from or --to, or a range that does not end after it starts.
func (o *ReportOptions) resolve(now time.Time) error {
	now = now.UTC()
	if o.By != api.GranularityHour && o.By != api.GranularityDay {
		return cmdutil.FlagErrorf("invalid --by %q: want hour or day", o.By)
	}
	o.Start, o.End = time.Time{}, time.Time{}
	if o.To != "" {
		t, err := ParseTime("--to", o.To, now, true)
		if err != nil {
			return err
		}
		o.End = t
	}
	if o.From != "" {
		t, err := ParseTime("--from", o.From, now, false)
		if err != nil {
			return err
		}
		o.Start = t
	} else if o.End.IsZero() {
		o.Start = PeriodStart(now)
	} else {
		o.Start = PeriodStart(o.End.Add(-time.Nanosecond))
	}
	end := o.End
	if end.IsZero() {
		end = now
	}
	if !o.Start.Before(end) {
		return cmdutil.FlagErrorf("the range is empty: --from %s is not before --to %s",
			o.Start.Format(time.RFC3339), end.Format(time.RFC3339))
	}
	return nil
}

// ParseTime parses the value of a time flag (named flag, for the error): a
// date (2026-11-01, midnight UTC; with endOfDay the midnight after it), an
// RFC 3339 time, a duration back from now as api.ParseDuration reads it
// (7d, 24h, 90m), or "now". Errors: a FlagError naming the accepted forms.
func ParseTime(flag, s string, now time.Time, endOfDay bool) (time.Time, error) {
	if s == "now" {
		return now.UTC(), nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		if endOfDay {
			t = t.AddDate(0, 0, 1)
		}
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	if d, err := api.ParseDuration(s); err == nil && s != "" {
		return now.Add(-d).UTC(), nil
	}
	return time.Time{}, cmdutil.FlagErrorf("invalid %s %q: want a date (2026-11-01), an RFC 3339 time (2026-11-01T09:00:00Z), a duration back from now (7d, 24h) or now", flag, s)
}

// runReport fetches the usage series and prints it. Errors:
// cmdutil.ErrNotLoggedIn, the server's *APIError (forbidden without
// usage:read, invalid_request for a range it refuses), printer errors.
func runReport(ctx context.Context, opts *ReportOptions) error {
	f := opts.Factory
	p, c, err := f.PrinterAndClient()
	if err != nil {
		return err
	}
	s, err := c.Usage(ctx, client.UsageOptions{From: opts.Start, To: opts.End, Granularity: opts.By})
	if err != nil {
		return err
	}
	human := p.Format() == output.FormatTable && f.IOStreams.IsStdoutTTY()
	if err := p.Print(s, func(output.TimeFormatter) output.Table { return ReportTable(s, human) }); err != nil {
		return err
	}
	if p.Format() == output.FormatTable {
		f.Infof("usage from %s to %s by %s", s.From.UTC().Format(time.RFC3339), s.To.UTC().Format(time.RFC3339), s.Granularity)
	}
	return nil
}

// reportColumns are the metrics of the report, one column each.
var reportColumns = []string{api.MetricAPICalls, api.MetricTaskExecutions, api.MetricExecutionMS, api.MetricTokens, api.MetricCostMicros}

// ReportTable is the tabular form of a usage series: one row per bucket
// that has any usage, oldest first, one column per metric. human (a
// terminal) shows the bucket as a date (day) or date and hour, execution as
// a duration and cost with four decimals, and ends with a totals row;
// otherwise buckets are RFC 3339 times, execution is in seconds
// (execution_seconds), cost is exact, and there is no totals row.
func ReportTable(s api.UsageSeries, human bool) output.Table {
	headers := []string{"start"}
	for _, m := range reportColumns {
		switch {
		case m == api.MetricExecutionMS && !human:
			headers = append(headers, "execution_seconds")
		default:
			headers = append(headers, QuotaLabel(m))
		}
	}
	t := output.Table{Headers: headers}

	buckets := map[time.Time]map[string]int64{}
	for m, points := range s.Series {
		for _, pt := range points {
			start := pt.Start.UTC()
			if buckets[start] == nil {
				buckets[start] = map[string]int64{}
			}
			buckets[start][m] += pt.Value
		}
	}
	starts := make([]time.Time, 0, len(buckets))
	for st := range buckets {
		starts = append(starts, st)
	}
	slices.SortFunc(starts, func(a, b time.Time) int { return a.Compare(b) })

	for _, st := range starts {
		row := []string{bucketLabel(st, s.Granularity, human)}
		for _, m := range reportColumns {
			row = append(row, reportCell(m, buckets[st][m], human))
		}
		t.Rows = append(t.Rows, row)
	}
	if human {
		row := []string{"total"}
		for _, m := range reportColumns {
			row = append(row, reportCell(m, s.Totals[m], human))
		}
		t.Rows = append(t.Rows, row)
	}
	return t
}

// bucketLabel names a bucket: RFC 3339 for programs; for people the date
// (day buckets) or the date and the hour, UTC.
func bucketLabel(t time.Time, granularity string, human bool) string {
	switch {
	case !human:
		return t.Format(time.RFC3339)
	case granularity == api.GranularityHour:
		return t.Format("2006-01-02 15:04Z")
	}
	return t.Format(time.DateOnly)
}

// reportCell formats a metric's value: as Quantity does, except that a
// person sees costs with four decimals (a day's cost is often cents).
func reportCell(metric string, v int64, human bool) string {
	if metric == api.MetricCostMicros && human {
		return USD4(v)
	}
	return Quantity(metric, v, human)
}
