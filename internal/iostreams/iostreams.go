// Package iostreams holds the standard streams of the CLI together with what
// is known about them: whether each is a terminal, whether colour is wanted,
// and how wide the terminal is. Commands take an *IOStreams instead of using
// os.Stdin/os.Stdout/os.Stderr, so tests can run them against buffers
// (see Test) and pretend to be on a terminal (SetStdoutTTY and friends).
package iostreams

import (
	"bytes"
	"io"
	"os"

	"github.com/mattn/go-isatty"
	"golang.org/x/term"
)

// defaultWidth is the terminal width assumed when it cannot be measured.
const defaultWidth = 80

// IOStreams are the standard streams of one CLI invocation.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer

	stdinTTY, stdoutTTY, stderrTTY bool

	// Colour, from the environment (NO_COLOR, CLICOLOR, CLICOLOR_FORCE) and
	// from SetColorEnabled (the --no-color flag), which wins over both.
	colorDisabledByEnv bool
	colorForcedByEnv   bool
	colorOverride      *bool

	neverPrompt bool
	width       int // > 0: set by SetTerminalWidth
}

// System returns the process's streams, reading colour settings from the
// process environment. It is SystemWithEnv(os.Getenv).
func System() *IOStreams { return SystemWithEnv(os.Getenv) }

// SystemWithEnv returns os.Stdin, os.Stdout and os.Stderr, each checked for
// being a terminal, with colour settings read through getenv:
// NO_COLOR (any non-empty value) or CLICOLOR=0 turn colour off,
// CLICOLOR_FORCE (any value but "0") turns it on even when piped.
func SystemWithEnv(getenv func(string) string) *IOStreams {
	s := &IOStreams{
		In:        os.Stdin,
		Out:       os.Stdout,
		ErrOut:    os.Stderr,
		stdinTTY:  isTerminal(os.Stdin),
		stdoutTTY: isTerminal(os.Stdout),
		stderrTTY: isTerminal(os.Stderr),
	}
	if getenv != nil {
		s.colorDisabledByEnv = getenv("NO_COLOR") != "" || getenv("CLICOLOR") == "0"
		force := getenv("CLICOLOR_FORCE")
		s.colorForcedByEnv = force != "" && force != "0"
	}
	return s
}

// Test returns streams backed by buffers: in feeds In, out and errOut
// collect Out and ErrOut. No stream is a terminal, colour is off and the
// terminal width is 80.
func Test() (ios *IOStreams, in *bytes.Buffer, out *bytes.Buffer, errOut *bytes.Buffer) {
	in, out, errOut = &bytes.Buffer{}, &bytes.Buffer{}, &bytes.Buffer{}
	return &IOStreams{In: in, Out: out, ErrOut: errOut}, in, out, errOut
}

func isTerminal(f *os.File) bool {
	fd := f.Fd()
	return isatty.IsTerminal(fd) || isatty.IsCygwinTerminal(fd)
}

// IsStdinTTY reports whether In is a terminal.
func (s *IOStreams) IsStdinTTY() bool { return s.stdinTTY }

// IsStdoutTTY reports whether Out is a terminal.
func (s *IOStreams) IsStdoutTTY() bool { return s.stdoutTTY }

// IsStderrTTY reports whether ErrOut is a terminal.
func (s *IOStreams) IsStderrTTY() bool { return s.stderrTTY }

// SetStdinTTY overrides whether In counts as a terminal (for tests).
func (s *IOStreams) SetStdinTTY(v bool) { s.stdinTTY = v }

// SetStdoutTTY overrides whether Out counts as a terminal (for tests).
func (s *IOStreams) SetStdoutTTY(v bool) { s.stdoutTTY = v }

// SetStderrTTY overrides whether ErrOut counts as a terminal (for tests).
func (s *IOStreams) SetStderrTTY(v bool) { s.stderrTTY = v }

// ColorEnabled reports whether output to Out may be coloured: the value
// given to SetColorEnabled if any; otherwise on when CLICOLOR_FORCE forces
// it, off when NO_COLOR (or CLICOLOR=0) is set, and else on exactly when Out
// is a terminal.
func (s *IOStreams) ColorEnabled() bool {
	switch {
	case s.colorOverride != nil:
		return *s.colorOverride
	case s.colorForcedByEnv:
		return true
	case s.colorDisabledByEnv:
		return false
	}
	return s.stdoutTTY
}

// SetColorEnabled overrides colour detection; SetColorEnabled(false) is
// what the --no-color flag does.
func (s *IOStreams) SetColorEnabled(v bool) { s.colorOverride = &v }

// SetNeverPrompt forbids prompting even on a terminal (e.g. in CI).
func (s *IOStreams) SetNeverPrompt(v bool) { s.neverPrompt = v }

// CanPrompt reports whether the user can be asked something: In is a
// terminal, Out or ErrOut is one too, and prompting was not forbidden.
func (s *IOStreams) CanPrompt() bool {
	return !s.neverPrompt && s.stdinTTY && (s.stdoutTTY || s.stderrTTY)
}

// TerminalWidth returns the width of the terminal Out writes to: the value
// given to SetTerminalWidth, else the measured width when Out is a terminal,
// else 80.
func (s *IOStreams) TerminalWidth() int {
	if s.width > 0 {
		return s.width
	}
	if f, ok := s.Out.(*os.File); ok && s.stdoutTTY {
		if w, _, err := term.GetSize(int(f.Fd())); err == nil && w > 0 {
			return w
		}
	}
	return defaultWidth
}

// SetTerminalWidth fixes the terminal width (for tests); 0 restores detection.
func (s *IOStreams) SetTerminalWidth(w int) { s.width = w }
