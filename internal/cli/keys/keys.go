// Package keys is `baton keys`: create, list, read, revoke and rotate the API
// keys of the caller's workspace (or, with an operator key and no
// --workspace, operator keys). Secrets are printed only by create and
// rotate, once.
package keys

import (
	"context"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/genericcorp/baton/internal/cli/cmdutil"
	"github.com/genericcorp/baton/internal/output"
	"github.com/genericcorp/baton/pkg/api"
	"github.com/genericcorp/baton/pkg/client"
)

// NewCmdKeys returns the `baton keys` group.
func NewCmdKeys(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "keys <command>",
		Aliases: []string{"key"},
		Short:   "Manage API keys: create, list, revoke, rotate",
		Long: `Manage the API keys of your workspace. With an operator key, --workspace ID
manages that workspace's keys; without it, the operator keys.`,
	}
	cmd.AddCommand(NewCmdCreate(f, nil), NewCmdList(f, nil), NewCmdGet(f, nil), NewCmdRevoke(f, nil), NewCmdRotate(f, nil))
	return cmd
}

// Key statuses as `keys list` shows them.
const (
	statusActive  = "active"
	statusRevoked = "revoked"
	statusExpired = "expired"
)

// status is the key's status at now: revoked, expired or active.
func status(k api.Key, now time.Time) string {
	switch {
	case k.RevokedAt != nil:
		return statusRevoked
	case k.ExpiresAt != nil && !k.ExpiresAt.After(now):
		return statusExpired
	}
	return statusActive
}

// completeIDs completes the first positional argument with key ids
// (described by name and prefix), asking the server; revoked keys are left
// out when activeOnly. On any error it offers nothing.
func completeIDs(f *cmdutil.Factory, activeOnly bool) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return cmdutil.CompleteIDs(f,
		func(ctx context.Context, c *client.Client) (api.List[api.Key], error) {
			return c.ListKeys(ctx, client.ListOptions{Limit: 100})
		},
		func(k api.Key) (string, string, bool) {
			return k.ID, k.Name + " (" + k.Prefix + "…)", !activeOnly || k.RevokedAt == nil
		})
}

// never formats an optional expiry: "never" on a terminal when there is
// none (tf formats a missing time as "-" there, and as "" when piped, which
// stays "" for scripts).
func never(tf output.TimeFormatter, t *time.Time) string {
	if t == nil && tf.TimePtr(nil) != "" {
		return "never"
	}
	return tf.TimePtr(t)
}

// fields is the table form of one key; the secret comes last when set.
func fields(k api.Key, now time.Time, tf output.TimeFormatter) [][2]string {
	ws := k.WorkspaceID
	if ws == "" {
		ws = "operator"
	}
	kv := [][2]string{{"id", k.ID}, {"name", k.Name}, {"prefix", k.Prefix}, {"workspace", ws},
		{"scopes", strings.Join(k.Scopes, ", ")}, {"status", status(k, now)}, {"created", tf.Time(k.CreatedAt)},
		{"expires", never(tf, k.ExpiresAt)}, {"last_used", tf.TimePtr(k.LastUsedAt)}}
	if k.RevokedAt != nil {
		kv = append(kv, [2]string{"revoked", tf.TimePtr(k.RevokedAt)})
	}
	if k.PreviousExpiresAt != nil {
		kv = append(kv, [2]string{"old_secret_until", tf.TimePtr(k.PreviousExpiresAt)})
	}
	if k.Secret != "" {
		kv = append(kv, [2]string{"secret", k.Secret})
	}
	return kv
}

// table is the tabular form of a list of keys.
func table(keys []api.Key, now time.Time, tf output.TimeFormatter) output.Table {
	t := output.Table{Headers: []string{"id", "name", "prefix", "scopes", "expires", "last_used", "status"},
		Drop: []string{"last_used", "prefix"}}
	for _, k := range keys {
		t.Rows = append(t.Rows, []string{k.ID, k.Name, k.Prefix, strings.Join(k.Scopes, ","),
			never(tf, k.ExpiresAt), tf.TimePtr(k.LastUsedAt), status(k, now)})
	}
	return t
}
