package authcmd

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/genericcorp/baton/internal/cli/cmdutil"
	"github.com/genericcorp/baton/internal/output"
	"github.com/genericcorp/baton/pkg/api"
)

// NewCmdAuth returns the `baton auth` group: status and token.
func NewCmdAuth(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "auth <command>",
		Short: "Check the API key in use and mint session tokens",
	}
	cmd.AddCommand(NewCmdStatus(f, nil), NewCmdToken(f, nil))
	return cmd
}

// meFields is the table form of a Me.
func meFields(me api.Me, tf output.TimeFormatter) [][2]string {
	expires := tf.TimePtr(me.Key.ExpiresAt)
	if me.Key.ExpiresAt == nil && expires != "" { // on a terminal
		expires = "never"
	}
	kv := [][2]string{
		{"key", me.Key.Name + " (" + me.Key.ID + ")"},
		{"scopes", strings.Join(me.Key.Scopes, ", ")},
		{"expires", expires},
		{"session", yesNo(me.Key.Session)},
	}
	if me.Workspace == nil {
		return append(kv, [2]string{"workspace", "operator (all workspaces)"})
	}
	return append(kv,
		[2]string{"workspace", me.Workspace.Name + " (" + me.Workspace.ID + ")"},
		[2]string{"tier", me.Workspace.Tier},
		[2]string{"status", me.Workspace.Status},
	)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
