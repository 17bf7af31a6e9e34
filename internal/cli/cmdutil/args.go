package cmdutil

import (
	"github.com/spf13/cobra"
)

// ExactArgs is cobra.ExactArgs returning a FlagError (exit 2) that names
// what is missing.
func ExactArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		switch {
		case len(args) < n:
			return FlagErrorf("missing %s\n\nUsage: %s", what, cmd.UseLine())
		case len(args) > n:
			return FlagErrorf("too many arguments: %q\n\nUsage: %s", args[n:], cmd.UseLine())
		}
		return nil
	}
}

// NoArgs refuses positional arguments with a FlagError.
func NoArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return FlagErrorf("unexpected argument %q\n\nUsage: %s", args[0], cmd.UseLine())
	}
	return nil
}
