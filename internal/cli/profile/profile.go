// Package profile is `baton profile`: the profiles of the CLI's config file,
// each a server, an API key and (for operator keys) a workspace. API keys are
// never printed whole: only their public prefix ("bk_AbCd1234…").
package profile

import (
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/genericcorp/baton/internal/cli/cmdutil"
	"github.com/genericcorp/baton/pkg/config"
)

// NewCmdProfile returns the `baton profile` group: list, use and show.
func NewCmdProfile(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "profile <command>",
		Short: "List, switch and show CLI profiles",
		Long: `A profile is a named server + API key (+ workspace, for operator keys) in the
CLI's config file ($XDG_CONFIG_HOME/baton/config.yaml, or $BATON_CONFIG).
baton login writes one; --profile or BATON_PROFILE picks one for a command,
and baton profile use makes one the default.`,
	}
	cmd.AddCommand(NewCmdList(f, nil), NewCmdUse(f, nil), NewCmdShow(f, nil))
	return cmd
}

// CompleteNames returns a completion function offering the names of the
// config file's profiles (nothing when the file cannot be read).
func CompleteNames(f *cmdutil.Factory) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(_ *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		file, _, err := f.Config()
		if err != nil || file == nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var out []string
		for _, n := range file.ProfileNames() {
			if strings.HasPrefix(n, toComplete) {
				out = append(out, n)
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

// completeFirstArg completes profile names for the first positional
// argument only.
func completeFirstArg(f *cmdutil.Factory) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	names := CompleteNames(f)
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return names(cmd, args, toComplete)
	}
}

// publicLen is how many characters after bk_/bak_ are public (CONTRACT.md).
const publicLen = 8

// Redact returns what may be shown of an API key: its type prefix and the 8
// public characters after it, then "…" ("bk_AbCd1234…"). Anything that is
// not a bk_/bak_ key (a session token, say) keeps only its first 4
// characters. An empty key is "".
func Redact(key string) string {
	if key == "" {
		return ""
	}
	for _, p := range []string{"bak_", "bk_"} {
		if strings.HasPrefix(key, p) && len(key) > len(p)+publicLen {
			return key[:len(p)+publicLen] + "…"
		}
	}
	if len(key) > 8 {
		return key[:4] + "…"
	}
	return "…"
}

// view is a profile as `profile list` and `profile show` print it.
type view struct {
	Name      string `json:"name"`
	Server    string `json:"server"`
	Workspace string `json:"workspace,omitempty"`
	KeyPrefix string `json:"key_prefix"`
	Current   bool   `json:"current"`
}

// views returns every profile of file as a view, sorted by name; current
// names the profile in use.
func views(file *config.File, current string) []view {
	out := make([]view, 0, len(file.Profiles))
	for _, n := range file.ProfileNames() {
		p := file.Profiles[n]
		out = append(out, view{Name: n, Server: p.Server, Workspace: p.Workspace, KeyPrefix: Redact(p.APIKey), Current: n == current})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// currentName returns the profile commands use now (--profile, then
// BATON_PROFILE, then the file's current profile, then "default").
func currentName(f *cmdutil.Factory, file *config.File) string {
	if r, err := f.Resolved(); err == nil {
		return r.Profile
	}
	switch {
	case f.Globals.Profile != "":
		return f.Globals.Profile
	case f.Getenv(config.EnvProfile) != "":
		return f.Getenv(config.EnvProfile)
	case file.CurrentProfile != "":
		return file.CurrentProfile
	}
	return config.DefaultProfile
}

// yesNo formats a boolean for a table.
func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
