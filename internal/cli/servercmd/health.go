package servercmd

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/genericcorp/baton/internal/cli/cmdutil"
	"github.com/genericcorp/baton/pkg/config"
)

// newCmdHealth is a probe for container and systemd health checks, which
// may have no shell or curl: it asks the local server's /readyz.
func newCmdHealth(f *cmdutil.Factory) *cobra.Command {
	var url string
	cmd := &cobra.Command{
		Use:   "health",
		Short: "Exit 0 when the server at --url or --server (default: the listen address) is ready",
		Args:  cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if url == "" && cmd.Flags().Changed("server") {
				url = f.Globals.Server // the global flag, as every other command reads it
			}
			if url == "" {
				cfg, err := config.LoadServer(cmd.Flags(), f.Getenv)
				if err != nil {
					return &cmdutil.FlagError{Err: err}
				}
				url = "http://" + strings.Replace(cfg.Listen, "0.0.0.0:", "127.0.0.1:", 1)
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 5*time.Second)
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(url, "/")+"/readyz", nil)
			if err != nil {
				return cmdutil.FlagErrorf("--url: %v", err)
			}
			res, err := f.HTTPClient.Do(req)
			if err != nil {
				return cmdutil.WithHint(fmt.Errorf("server at %s not reachable: %w", url, err), "is it running? `baton doctor` checks the setup")
			}
			res.Body.Close()
			if res.StatusCode != http.StatusOK {
				return fmt.Errorf("server not ready: %s", res.Status)
			}
			f.Infof("ready")
			return nil
		},
	}
	cmd.Flags().StringVar(&url, "url", "", "server base URL (default: --server, else http://<listen address>)")
	return cmd
}
