package workspaces

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/genericcorp/baton/internal/cli/cmdutil"
	"github.com/genericcorp/baton/internal/output"
)

// DeleteOptions are the inputs of `baton workspaces delete`.
type DeleteOptions struct {
	Factory *cmdutil.Factory
	ID      string
	// Yes skips the confirmation prompt.
	Yes bool
}

// NewCmdDelete returns `baton workspaces delete ID`. runF replaces the run
// logic in tests (nil: runDelete).
func NewCmdDelete(f *cmdutil.Factory, runF func(context.Context, *DeleteOptions) error) *cobra.Command {
	opts := &DeleteOptions{Factory: f}
	cmd := &cobra.Command{
		Use:   "delete ID [--yes]",
		Short: "Delete a workspace and its keys",
		Long: `Delete a workspace and its API keys (operator key needed). This cannot be
undone. On a terminal it asks you to type the workspace's name first
unless --yes; without a terminal --yes is required.`,
		Example:           `  baton workspaces delete ws_01jd… --yes`,
		Args:              cmdutil.ExactArgs(1, "workspace id"),
		ValidArgsFunction: completeIDs(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.ID = args[0]
			if !opts.Yes && !f.IOStreams.CanPrompt() {
				return cmdutil.FlagErrorf("--yes is required to delete a workspace when not running on a terminal")
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runDelete(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVarP(&opts.Yes, "yes", "y", false, "do not ask for confirmation")
	return cmd
}

// deleted is what `delete -o json` prints.
type deleted struct {
	ID      string `json:"id"`
	Deleted bool   `json:"deleted"`
}

// runDelete asks (unless --yes), deletes and reports. Errors: a declined
// prompt (exit 1, nothing deleted), cmdutil.ErrNotLoggedIn, the server's
// *APIError (not_found: exit 3).
func runDelete(ctx context.Context, opts *DeleteOptions) error {
	f := opts.Factory
	p, c, err := f.PrinterAndClient()
	if err != nil {
		return err
	}
	what := "workspace " + opts.ID
	if !opts.Yes {
		// Typing the name, as GitHub asks before deleting a repository: a
		// y/N is too easy to give to the wrong id.
		ws, err := c.GetWorkspace(ctx, opts.ID)
		if err != nil {
			return err
		}
		what = fmt.Sprintf("workspace %s (%s)", ws.Name, ws.ID)
		ok, err := f.IOStreams.ConfirmTyped(fmt.Sprintf("Delete %s, its tasks and all its keys? This cannot be undone.", what), ws.Name)
		if err != nil {
			return err
		}
		if !ok {
			return &cmdutil.ExitError{Code: cmdutil.ExitFailure, Err: errors.New("cancelled: the name did not match; nothing was deleted")}
		}
	}
	if err := c.DeleteWorkspace(ctx, opts.ID); err != nil {
		return err
	}
	f.Infof("Deleted %s", what)
	if !f.JSONOutput() {
		return nil
	}
	return p.PrintObject(deleted{ID: opts.ID, Deleted: true}, func(output.TimeFormatter) [][2]string { return nil })
}
