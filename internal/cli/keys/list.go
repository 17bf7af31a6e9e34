package keys

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/genericcorp/baton/internal/cli/cmdutil"
	"github.com/genericcorp/baton/internal/output"
	"github.com/genericcorp/baton/pkg/api"
	"github.com/genericcorp/baton/pkg/client"
)

// ListOptions are the inputs of `baton keys list`.
type ListOptions struct {
	Factory *cmdutil.Factory
	// Limit is the page size, 1 to 100.
	Limit int
	// All fetches every page.
	All bool
}

// NewCmdList returns `baton keys list`. runF replaces the run logic in tests
// (nil: runList).
func NewCmdList(f *cmdutil.Factory, runF func(context.Context, *ListOptions) error) *cobra.Command {
	opts := &ListOptions{Factory: f}
	cmd := &cobra.Command{
		Use:   "list [--limit N] [--all]",
		Short: "List API keys (never their secrets)",
		Long: `List the workspace's API keys: id, name, public prefix, scopes, expiry, last
use and status (active, revoked or expired). The first page of --limit keys,
or every page with --all (then --limit is the page size). -o json prints a
JSON array of key objects.

Active keys that expire within 7 days come first, and a warning on
standard error names them: rotate them before they stop working.`,
		Example: `  baton keys list --all
  baton keys list -o json | jq -r '.[] | select(.revoked_at == null) .id'`,
		Aliases: []string{"ls"},
		Args:    cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.Limit < 1 || opts.Limit > 100 {
				return cmdutil.FlagErrorf("--limit must be between 1 and 100, not %d", opts.Limit)
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runList(cmd.Context(), opts)
		},
	}
	cmd.Flags().IntVar(&opts.Limit, "limit", 20, "keys per page (1-100)")
	cmd.Flags().BoolVar(&opts.All, "all", false, "list every key, fetching every page")
	return cmd
}

// runList prints the keys. Errors: cmdutil.ErrNotLoggedIn, the server's
// *APIError (forbidden without keys:read), printer errors.
func runList(ctx context.Context, opts *ListOptions) error {
	f := opts.Factory
	p, c, err := f.PrinterAndClient()
	if err != nil {
		return err
	}
	keys, more, err := cmdutil.CollectList(opts.All, c.AllKeys(ctx, opts.Limit),
		func() (api.List[api.Key], error) { return c.ListKeys(ctx, client.ListOptions{Limit: opts.Limit}) })
	if err != nil {
		return err
	}
	defer f.HintMore(more, "key")
	now := f.Now()
	if soon := expiringFirst(keys, now); len(soon) > 0 {
		f.Warnf("%d %s within 7 days: %s; rotate before then (baton keys rotate ID)",
			len(soon), plural(len(soon), "key expires", "keys expire"), strings.Join(soon, ", "))
	}
	return p.Print(keys, func(tf output.TimeFormatter) output.Table {
		t := table(keys, now, tf)
		t.Empty = "no keys: create one with `baton keys create --name NAME --scope SCOPE`"
		return t
	})
}

// expiringSoon is how far ahead keys list warns of an expiry.
const expiringSoon = 7 * 24 * time.Hour

// expiringFirst moves the active keys that expire within expiringSoon of
// now to the front, soonest first, keeping the others' order, and returns
// them as "name (id) in 3d".
func expiringFirst(keys []api.Key, now time.Time) []string {
	soon := func(k api.Key) bool {
		return k.RevokedAt == nil && k.ExpiresAt != nil && k.ExpiresAt.After(now) && k.ExpiresAt.Sub(now) <= expiringSoon
	}
	slices.SortStableFunc(keys, func(a, b api.Key) int {
		switch sa, sb := soon(a), soon(b); {
		case sa && sb:
			return a.ExpiresAt.Compare(*b.ExpiresAt)
		case sa:
			return -1
		case sb:
			return 1
		}
		return 0
	})
	var out []string
	for _, k := range keys {
		if !soon(k) {
			break
		}
		out = append(out, fmt.Sprintf("%s (%s) in %s", k.Name, k.ID, output.Duration(k.ExpiresAt.Sub(now))))
	}
	return out
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
