// Package versioncmd is `baton version`.
package versioncmd

import (
	"context"
	"time"

	"github.com/spf13/cobra"

	"github.com/genericcorp/baton/internal/cli/cmdutil"
	"github.com/genericcorp/baton/internal/output"
	"github.com/genericcorp/baton/internal/version"
)

// serverTimeout bounds asking the server for its version: `baton version`
// must answer even when the server is away.
const serverTimeout = 2 * time.Second

// info is what `version -o json` prints: the CLI's build, and the server's
// version with its URL ("" when it could not be asked).
type info struct {
	version.Info
	Server        string `json:"server"`
	ServerVersion string `json:"server_version"`
	ServerError   string `json:"server_error,omitempty"`
}

// NewCmdVersion returns `baton version`.
func NewCmdVersion(f *cmdutil.Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version of the CLI and of the server",
		Long: `Print the CLI's version, commit, build date, Go version and platform, and the
version of the server the current profile points at (GET /healthz, no key
needed; "unreachable" when it does not answer within 2s).`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := f.Printer()
			if err != nil {
				return err
			}
			v := info{Info: version.Get()}
			v.Server, v.ServerVersion, v.ServerError = serverVersion(cmd.Context(), f)
			return p.PrintObject(v, func(output.TimeFormatter) [][2]string {
				sv := v.ServerVersion
				if v.ServerError != "" {
					sv = "unreachable (" + v.ServerError + ")"
				}
				return [][2]string{{"version", v.Version}, {"commit", v.Commit}, {"date", v.Date}, {"go", v.GoVersion},
					{"platform", v.Platform}, {"server", v.Server}, {"server_version", sv}}
			})
		},
	}
}

// serverVersion asks the resolved server for its version.
func serverVersion(ctx context.Context, f *cmdutil.Factory) (server, v, errText string) {
	r, err := f.Resolved()
	if err != nil {
		return "", "", err.Error()
	}
	c, err := f.ClientFor(r.Server, "", "")
	if err != nil {
		return r.Server, "", err.Error()
	}
	ctx, cancel := context.WithTimeout(ctx, serverTimeout)
	defer cancel()
	h, err := c.Health(ctx)
	if err != nil {
		return r.Server, "", "no answer"
	}
	return r.Server, h.Version, ""
}
