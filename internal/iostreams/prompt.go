package iostreams

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"
)

// ReadSecret prints prompt (when not empty) to ErrOut and reads one line
// from In, without echo when In is a terminal. Surrounding whitespace is
// trimmed. It returns io.EOF when In ends before any character was read,
// and the read error otherwise; an empty line is "" with no error.
func (s *IOStreams) ReadSecret(prompt string) (string, error) {
	if prompt != "" {
		fmt.Fprint(s.ErrOut, prompt)
	}
	if f, ok := s.In.(*os.File); ok && s.stdinTTY {
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(s.ErrOut) // the user's Enter was not echoed
		if err != nil {
			return "", fmt.Errorf("read secret: %w", err)
		}
		return strings.TrimSpace(string(b)), nil
	}
	line, err := readLine(s.In)
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(line), nil
}

// Confirm asks a yes/no question on ErrOut ("prompt [y/N] ") and reads the
// answer from In: "y" or "yes" (any case) is true, anything else, including
// an empty line or the end of In, is false. It returns an error only when
// reading In fails.
func (s *IOStreams) Confirm(prompt string) (bool, error) {
	fmt.Fprintf(s.ErrOut, "%s [y/N] ", prompt)
	line, err := readLine(s.In)
	if errors.Is(err, io.EOF) {
		fmt.Fprintln(s.ErrOut)
		return false, nil
	}
	if err != nil {
		return false, err
	}
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return true, nil
	}
	return false, nil
}

// ConfirmTyped asks the user to type want to go on ("prompt" then "Type
// NAME to confirm: ") and reports whether the answer is exactly want. It
// returns an error only when reading In fails.
func (s *IOStreams) ConfirmTyped(prompt, want string) (bool, error) {
	fmt.Fprintf(s.ErrOut, "%s\nType %s to confirm: ", prompt, want)
	line, err := readLine(s.In)
	if errors.Is(err, io.EOF) {
		fmt.Fprintln(s.ErrOut)
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return strings.TrimSpace(line) == want, nil
}

// readLine reads up to and including the next '\n', one byte at a time so
// that nothing after the line is consumed from r. It returns the line
// without its line ending, io.EOF when r ends before any byte, and
// "read input: …" for other read errors.
func readLine(r io.Reader) (string, error) {
	if r == nil {
		return "", io.EOF
	}
	var sb strings.Builder
	buf := make([]byte, 1)
	for {
		n, err := r.Read(buf)
		if n == 1 {
			if buf[0] == '\n' {
				return strings.TrimSuffix(sb.String(), "\r"), nil
			}
			sb.WriteByte(buf[0])
		}
		if errors.Is(err, io.EOF) {
			if sb.Len() == 0 {
				return "", io.EOF
			}
			return strings.TrimSuffix(sb.String(), "\r"), nil
		}
		if err != nil {
			return "", fmt.Errorf("read input: %w", err)
		}
	}
}
