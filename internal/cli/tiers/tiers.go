// Package tiers is `baton tiers`: the tiers a server offers, with their
// prices and limits. It also formats limit values (money, durations) for the
// other commands that show limits, and completes tier names for --tier.
package tiers

import (
	"context"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/genericcorp/baton/internal/cli/cmdutil"
)

// NewCmdTiers returns the `baton tiers` group.
func NewCmdTiers(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "tiers <command>",
		Short: "Show the tiers the server offers",
	}
	cmd.AddCommand(NewCmdList(f, nil))
	return cmd
}

// FallbackNames are the built-in tier names, completed for --tier when the
// server cannot be asked.
var FallbackNames = []string{"free", "pro", "team"}

// completionTimeout bounds the API call behind a shell completion.
const completionTimeout = 5 * time.Second

// CompleteNames returns a flag completion function that offers the server's
// tier names (asked with the resolved credentials), or FallbackNames when
// that fails for any reason.
func CompleteNames(f *cmdutil.Factory) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(cmd *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		names := FallbackNames
		if got, err := serverTierNames(cmd.Context(), f); err == nil && len(got) > 0 {
			names = got
		}
		var out []string
		for _, n := range names {
			if strings.HasPrefix(n, toComplete) {
				out = append(out, n)
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

// serverTierNames asks the server for its tier names.
func serverTierNames(ctx context.Context, f *cmdutil.Factory) ([]string, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithTimeout(ctx, completionTimeout)
	defer cancel()
	c, err := f.Client()
	if err != nil {
		return nil, err
	}
	tiers, err := c.Tiers(ctx)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(tiers))
	for _, t := range tiers {
		names = append(names, t.Name)
	}
	return names, nil
}
