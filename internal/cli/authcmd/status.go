package authcmd

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/genericcorp/baton/internal/cli/cmdutil"
	"github.com/genericcorp/baton/internal/output"
	"github.com/genericcorp/baton/pkg/api"
	"github.com/genericcorp/baton/pkg/config"
)

// StatusOptions are the inputs of `baton auth status`.
type StatusOptions struct {
	Factory *cmdutil.Factory
}

// NewCmdStatus returns `baton auth status`. runF replaces the run logic in
// tests (nil: runStatus).
func NewCmdStatus(f *cmdutil.Factory, runF func(context.Context, *StatusOptions) error) *cobra.Command {
	opts := &StatusOptions{Factory: f}
	return &cobra.Command{
		Use:   "status",
		Short: "Show the server, profile and API key in use, as the server sees it",
		Long: `Show which server and profile are in use, where the API key comes from
(flag, env or config), and what the server says about it (GET /v1/me): the
key's id, name, scopes and expiry, and its workspace (or "operator").

Exit status 4 when no key is configured or the server refuses it.`,
		Example: `  baton auth status
  baton auth status -o json | jq -r .me.workspace.id`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runStatus(cmd.Context(), opts)
		},
	}
}

// statusView is what `auth status -o json` prints.
type statusView struct {
	Server  string `json:"server"`
	Profile string `json:"profile"`
	// Source is where the key came from: flag, env or config.
	Source string `json:"source"`
	Me     api.Me `json:"me"`
}

// sourceNames says where each source of the key is, for people.
var sourceNames = map[string]string{config.SourceFlag: "flag (--api-key)", config.SourceEnv: "env (" + config.EnvAPIKey + ")"}

// runStatus asks the server about the key. Errors: cmdutil.ErrNotLoggedIn,
// the server's *APIError (unauthenticated: exit 4), config and printer errors.
func runStatus(ctx context.Context, opts *StatusOptions) error {
	f := opts.Factory
	p, err := f.Printer()
	if err != nil {
		return err
	}
	r, err := f.Resolved()
	if err != nil {
		return err
	}
	if r.APIKey == "" {
		return cmdutil.WithHint(&cmdutil.AuthError{Err: fmt.Errorf("not logged in to %s (profile %q has no API key)", r.Server, r.Profile)},
			"run `baton login`, set "+config.EnvAPIKey+", or pass --api-key")
	}
	source := r.Source["api_key"]
	where := sourceNames[source]
	if where == "" {
		where = fmt.Sprintf("config (profile %s)", r.Profile)
	}
	c, err := f.Client()
	if err != nil {
		return err
	}
	me, err := c.Me(ctx)
	if err != nil {
		return cmdutil.WithHint(fmt.Errorf("check key: %w", err),
			fmt.Sprintf("the key comes from %s; log in again with `baton login`", where))
	}
	v := statusView{Server: r.Server, Profile: r.Profile, Source: source, Me: me}
	return p.PrintObject(v, func(tf output.TimeFormatter) [][2]string {
		kv := [][2]string{{"server", v.Server}, {"profile", v.Profile}, {"key_source", where}}
		return append(kv, meFields(me, tf)...)
	})
}
