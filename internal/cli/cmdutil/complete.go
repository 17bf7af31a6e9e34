package cmdutil

import (
	"context"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/genericcorp/baton/pkg/api"
	"github.com/genericcorp/baton/pkg/client"
)

// CompleteIDs completes a command's first argument with object ids from
// the server: page fetches one page with the client, and describe returns
// an item's id and its description, or ok=false to leave it out. On any
// error (not logged in, server down) it offers nothing, within 5 s.
func CompleteIDs[T any](f *Factory, page func(context.Context, *client.Client) (api.List[T], error),
	describe func(T) (id, desc string, ok bool)) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		ctx := cmd.Context()
		if ctx == nil {
			ctx = context.Background()
		}
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		c, err := f.Client()
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		list, err := page(ctx, c)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var out []string
		for _, item := range list.Data {
			if id, desc, ok := describe(item); ok && strings.HasPrefix(id, toComplete) {
				out = append(out, id+"\t"+desc)
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}
