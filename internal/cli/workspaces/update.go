package workspaces

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/genericcorp/baton/internal/cli/cmdutil"
	"github.com/genericcorp/baton/internal/cli/tiers"
	"github.com/genericcorp/baton/internal/output"
	"github.com/genericcorp/baton/pkg/api"
)

// UpdateOptions are the inputs of `baton workspaces update`.
type UpdateOptions struct {
	Factory *cmdutil.Factory
	ID      string
	// Request is the change, built from the flags before the run.
	Request api.UpdateWorkspaceRequest

	name, tier      string
	set, unset      []string
	suspend, resume bool
}

// NewCmdUpdate returns `baton workspaces update ID`. runF replaces the run
// logic in tests (nil: runUpdate).
func NewCmdUpdate(f *cmdutil.Factory, runF func(context.Context, *UpdateOptions) error) *cobra.Command {
	opts := &UpdateOptions{Factory: f}
	cmd := &cobra.Command{
		Use:   "update ID [--tier T] [--set K=V]... [--unset K]... [--suspend|--resume] [--name N]",
		Short: "Change a workspace's tier, limit overrides, status or name",
		Long: `Change a workspace (operator key needed). Flags left out leave things alone.

--set KEY=VALUE overrides one limit of the tier for this workspace; --unset
KEY returns it to the tier's value. KEY is one of
  requests_per_minute, burst, max_concurrent_tasks, max_queued_tasks,
  max_task_duration_seconds, monthly_task_executions,
  monthly_execution_seconds, monthly_spend_usd, max_log_bytes_per_task,
  event_retention_days, max_open_streams
monthly_spend_usd is in dollars (12.50); every other value a whole number
(event_retention_days 0 keeps events forever).
--suspend stops the workspace's keys from working (403 workspace_suspended)
until --resume.`,
		Example: `  baton workspaces update ws_01jd… --tier team
  baton workspaces update ws_01jd… --set max_concurrent_tasks=20 --set monthly_spend_usd=12.50
  baton workspaces update ws_01jd… --unset monthly_spend_usd --suspend`,
		Args:              cmdutil.ExactArgs(1, "workspace id"),
		ValidArgsFunction: completeIDs(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.ID = args[0]
			if err := opts.build(cmd); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runUpdate(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.name, "name", "", "new name")
	fl.StringVar(&opts.tier, "tier", "", "new tier")
	fl.StringArrayVar(&opts.set, "set", nil, "override a limit with `KEY=VALUE` (repeatable)")
	fl.StringArrayVar(&opts.unset, "unset", nil, "return limit `KEY` to its tier's value (repeatable)")
	fl.BoolVar(&opts.suspend, "suspend", false, "suspend the workspace")
	fl.BoolVar(&opts.resume, "resume", false, "make a suspended workspace active again")
	cmd.MarkFlagsMutuallyExclusive("suspend", "resume")
	_ = cmd.RegisterFlagCompletionFunc("tier", tiers.CompleteNames(f))
	_ = cmd.RegisterFlagCompletionFunc("set", cobra.FixedCompletions(withEquals(tiers.CLILimitKeys()), cobra.ShellCompDirectiveNoSpace))
	_ = cmd.RegisterFlagCompletionFunc("unset", cobra.FixedCompletions(tiers.CLILimitKeys(), cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// build turns the flags into opts.Request. Errors: FlagError for no
// change at all and for bad --set/--unset values.
func (opts *UpdateOptions) build(cmd *cobra.Command) error {
	var req api.UpdateWorkspaceRequest
	if cmd.Flags().Changed("name") {
		req.Name = &opts.name
	}
	if cmd.Flags().Changed("tier") {
		req.Tier = &opts.tier
	}
	switch {
	case opts.suspend:
		s := api.WorkspaceSuspended
		req.Status = &s
	case opts.resume:
		s := api.WorkspaceActive
		req.Status = &s
	}
	o, err := overrides(opts.set, opts.unset)
	if err != nil {
		return err
	}
	req.Overrides = o
	if req.Name == nil && req.Tier == nil && req.Status == nil && len(req.Overrides) == 0 {
		return cmdutil.FlagErrorf("nothing to change: give --tier, --set, --unset, --suspend, --resume or --name")
	}
	opts.Request = req
	return nil
}

// runUpdate sends the change and prints the workspace as it is now.
// Errors: cmdutil.ErrNotLoggedIn, the server's *APIError (not_found: exit
// 3, validation_failed for an unknown tier or bad name), printer errors.
func runUpdate(ctx context.Context, opts *UpdateOptions) error {
	f := opts.Factory
	p, c, err := f.PrinterAndClient()
	if err != nil {
		return err
	}
	w, err := c.UpdateWorkspace(ctx, opts.ID, opts.Request)
	if err != nil {
		return err
	}
	if err := p.PrintObject(w, func(tf output.TimeFormatter) [][2]string { return fields(w, tf) }); err != nil {
		return err
	}
	f.Infof("Updated workspace %s: %s.", w.ID, describeChange(opts.Request))
	return nil
}

func withEquals(keys []string) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = k + "="
	}
	return out
}
