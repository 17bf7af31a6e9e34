// Package workspaces is `baton workspaces`: create, list, read, change and
// delete tenants. Most verbs need an operator (admin) key.
package workspaces

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/genericcorp/baton/internal/cli/cmdutil"
	"github.com/genericcorp/baton/internal/cli/tiers"
	"github.com/genericcorp/baton/internal/output"
	"github.com/genericcorp/baton/pkg/api"
	"github.com/genericcorp/baton/pkg/client"
)

// NewCmdWorkspaces returns the `baton workspaces` group.
func NewCmdWorkspaces(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "workspaces <command>",
		Aliases: []string{"workspace", "ws"},
		Short:   "Manage workspaces (tenants): tiers, limit overrides, suspension",
	}
	cmd.AddCommand(NewCmdCreate(f, nil), NewCmdList(f, nil), NewCmdGet(f, nil), NewCmdUpdate(f, nil), NewCmdDelete(f, nil))
	return cmd
}

// completionLimit bounds how many workspace ids a completion offers.
const completionLimit = 100

// completeIDs completes the first positional argument with workspace ids
// (described by their names), asking the server; on any error it offers
// nothing.
func completeIDs(f *cmdutil.Factory) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return cmdutil.CompleteIDs(f,
		func(ctx context.Context, c *client.Client) (api.List[api.Workspace], error) {
			return c.ListWorkspaces(ctx, clientList(completionLimit))
		},
		func(w api.Workspace) (string, string, bool) { return w.ID, w.Name, true })
}

// fields is the table form of one workspace: its attributes, then every
// effective limit under its CLI key, "(override)" marking overridden ones.
func fields(w api.Workspace, tf output.TimeFormatter) [][2]string {
	kv := [][2]string{{"id", w.ID}, {"name", w.Name}, {"tier", w.Tier}, {"status", w.Status},
		{"created", tf.Time(w.CreatedAt)}, {"updated", tf.Time(w.UpdatedAt)}}
	for _, k := range api.LimitKeys() {
		v, _ := w.Limits.Get(k)
		s := tiers.LimitValue(k, v)
		if _, ok := w.Overrides[k]; ok {
			s += " (override)"
		}
		kv = append(kv, [2]string{tiers.LimitLabel(k), s})
	}
	return kv
}

// table is the tabular form of a list of workspaces.
func table(ws []api.Workspace, tf output.TimeFormatter) output.Table {
	t := output.Table{Headers: []string{"id", "name", "tier", "status", "created"},
		Empty: "no workspaces: create one with `baton workspaces create NAME`"}
	for _, w := range ws {
		t.Rows = append(t.Rows, []string{w.ID, w.Name, w.Tier, w.Status, tf.Time(w.CreatedAt)})
	}
	return t
}
