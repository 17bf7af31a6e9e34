package clitest

import (
	"errors"
	"io"
	"testing"

	"github.com/spf13/cobra"

	"github.com/genericcorp/baton/internal/cli/cmdutil"
	"github.com/genericcorp/baton/internal/iostreams"
)

// Factory returns a Factory over test streams with an empty environment,
// for flag-parsing tests; tty makes standard input and output terminals.
func Factory(tty bool) *cmdutil.Factory {
	ios, _, _, _ := iostreams.Test()
	ios.SetStdinTTY(tty)
	ios.SetStdoutTTY(tty)
	return cmdutil.New(ios, func(string) string { return "" })
}

// Parse executes cmd (built with a stub runF) with args and returns its
// error. Cobra's own output is discarded.
func Parse(cmd *cobra.Command, args ...string) error {
	if args == nil {
		args = []string{} // cobra reads os.Args for nil
	}
	cmd.SetArgs(args)
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	_, err := cmd.ExecuteC()
	return err
}

// WantFlagError fails the test unless err is a *cmdutil.FlagError.
func WantFlagError(t *testing.T, err error) {
	t.Helper()
	var fe *cmdutil.FlagError
	if !errors.As(err, &fe) {
		t.Fatalf("error = %v (%T), want a FlagError", err, err)
	}
}
