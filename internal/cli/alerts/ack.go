package alerts

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/genericcorp/baton/internal/cli/cmdutil"
	"github.com/genericcorp/baton/internal/output"
)

// AckOptions are the inputs of `baton alerts ack`.
type AckOptions struct {
	Factory *cmdutil.Factory
	ID      string
}

// NewCmdAck returns `baton alerts ack ID`. runF replaces the run logic in
// tests (nil: runAck).
func NewCmdAck(f *cmdutil.Factory, runF func(context.Context, *AckOptions) error) *cobra.Command {
	opts := &AckOptions{Factory: f}
	return &cobra.Command{
		Use:   "ack ID",
		Short: "Acknowledge an alert",
		Long: `Acknowledge an alert: it leaves the open alerts of ` + "`baton alerts list`" + `
(--all still lists it). Acknowledging an alert twice is not an error; the
first acknowledgement's time is kept. An unknown id exits with 3.

Prints "Acknowledged alert ID" on standard error; -o json prints the alert.`,
		Example:           `  baton alerts ack alert_01jd…`,
		Args:              cmdutil.ExactArgs(1, "alert id"),
		ValidArgsFunction: completeIDs(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.ID = args[0]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runAck(cmd.Context(), opts)
		},
	}
}

// runAck acknowledges the alert and reports. Errors: cmdutil.ErrNotLoggedIn,
// the server's *APIError (not_found: exit 3), printer errors.
func runAck(ctx context.Context, opts *AckOptions) error {
	f := opts.Factory
	p, c, err := f.PrinterAndClient()
	if err != nil {
		return err
	}
	a, err := c.AckAlert(ctx, opts.ID)
	if err != nil {
		return err
	}
	f.Infof("Acknowledged alert %s", a.ID)
	if !f.JSONOutput() {
		return nil
	}
	return p.PrintObject(a, func(tf output.TimeFormatter) [][2]string { return fields(a, false, tf) })
}
