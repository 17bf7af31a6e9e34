package iostreams

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func envOf(kv map[string]string) func(string) string {
	return func(k string) string { return kv[k] }
}

func TestTestStreams(t *testing.T) {
	ios, in, out, errOut := Test()
	if ios.IsStdinTTY() || ios.IsStdoutTTY() || ios.IsStderrTTY() {
		t.Fatal("Test() streams must not be TTYs")
	}
	if ios.ColorEnabled() || ios.CanPrompt() {
		t.Fatal("Test() streams must have no colour and no prompting")
	}
	if w := ios.TerminalWidth(); w != 80 {
		t.Fatalf("TerminalWidth() = %d, want 80", w)
	}
	in.WriteString("x")
	io.WriteString(ios.Out, "o")
	io.WriteString(ios.ErrOut, "e")
	if b, _ := io.ReadAll(ios.In); string(b) != "x" || out.String() != "o" || errOut.String() != "e" {
		t.Fatal("Test() buffers are not wired to the streams")
	}
	ios.SetTerminalWidth(120)
	if w := ios.TerminalWidth(); w != 120 {
		t.Fatalf("TerminalWidth() after SetTerminalWidth(120) = %d", w)
	}
}

func TestColorEnabled(t *testing.T) {
	no, yes := false, true
	tests := []struct {
		name     string
		env      map[string]string
		tty      bool
		override *bool
		want     bool
	}{
		{"tty", nil, true, nil, true},
		{"piped", nil, false, nil, false},
		{"NO_COLOR on tty", map[string]string{"NO_COLOR": "1"}, true, nil, false},
		{"CLICOLOR=0 on tty", map[string]string{"CLICOLOR": "0"}, true, nil, false},
		{"CLICOLOR_FORCE piped", map[string]string{"CLICOLOR_FORCE": "1"}, false, nil, true},
		{"CLICOLOR_FORCE=0 piped", map[string]string{"CLICOLOR_FORCE": "0"}, false, nil, false},
		{"CLICOLOR_FORCE beats NO_COLOR", map[string]string{"CLICOLOR_FORCE": "1", "NO_COLOR": "1"}, false, nil, true},
		{"--no-color beats tty", nil, true, &no, false},
		{"--no-color beats CLICOLOR_FORCE", map[string]string{"CLICOLOR_FORCE": "1"}, true, &no, false},
		{"override on", map[string]string{"NO_COLOR": "1"}, false, &yes, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ios := SystemWithEnv(envOf(tt.env))
			ios.SetStdoutTTY(tt.tty)
			if tt.override != nil {
				ios.SetColorEnabled(*tt.override)
			}
			if got := ios.ColorEnabled(); got != tt.want {
				t.Fatalf("ColorEnabled() = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestCanPrompt(t *testing.T) {
	tests := []struct {
		in, out, err, never, want bool
	}{
		{true, true, true, false, true},
		{true, false, true, false, true}, // stdout piped, prompt goes to stderr
		{true, true, false, false, true},
		{true, false, false, false, false},
		{false, true, true, false, false},
		{true, true, true, true, false},
	}
	for _, tt := range tests {
		ios, _, _, _ := Test()
		ios.SetStdinTTY(tt.in)
		ios.SetStdoutTTY(tt.out)
		ios.SetStderrTTY(tt.err)
		ios.SetNeverPrompt(tt.never)
		if got := ios.CanPrompt(); got != tt.want {
			t.Errorf("CanPrompt() with stdin=%v stdout=%v stderr=%v never=%v = %v, want %v",
				tt.in, tt.out, tt.err, tt.never, got, tt.want)
		}
	}
}

func TestReadSecret(t *testing.T) {
	ios, in, out, errOut := Test()
	in.WriteString("  bk_secret \r\nsecond\n")
	got, err := ios.ReadSecret("API key: ")
	if err != nil || got != "bk_secret" {
		t.Fatalf("ReadSecret() = %q, %v; want bk_secret", got, err)
	}
	if errOut.String() != "API key: " || out.Len() != 0 {
		t.Fatalf("prompt went to stderr=%q stdout=%q", errOut.String(), out.String())
	}
	// Only one line was consumed.
	if got, err := ios.ReadSecret(""); err != nil || got != "second" {
		t.Fatalf("second ReadSecret() = %q, %v", got, err)
	}
	if _, err := ios.ReadSecret(""); !errors.Is(err, io.EOF) {
		t.Fatalf("ReadSecret() at EOF: err = %v, want io.EOF", err)
	}
}

func TestReadSecretNoTrailingNewline(t *testing.T) {
	ios, in, _, _ := Test()
	in.WriteString("bk_x")
	if got, err := ios.ReadSecret(""); err != nil || got != "bk_x" {
		t.Fatalf("ReadSecret() = %q, %v", got, err)
	}
}

func TestReadSecretReadError(t *testing.T) {
	ios, _, _, _ := Test()
	boom := errors.New("boom")
	ios.In = iotest.ErrReader(boom)
	if _, err := ios.ReadSecret(""); !errors.Is(err, boom) {
		t.Fatalf("err = %v, want boom", err)
	}
}

func TestConfirm(t *testing.T) {
	tests := []struct {
		input string
		want  bool
	}{
		{"y\n", true}, {"YES\n", true}, {" yes \n", true},
		{"n\n", false}, {"\n", false}, {"", false}, {"yep\n", false},
	}
	for _, tt := range tests {
		ios, in, out, errOut := Test()
		in.WriteString(tt.input)
		got, err := ios.Confirm("Delete key key_1?")
		if err != nil || got != tt.want {
			t.Errorf("Confirm(%q) = %v, %v; want %v", tt.input, got, err, tt.want)
		}
		if !strings.HasPrefix(errOut.String(), "Delete key key_1? [y/N] ") || out.Len() != 0 {
			t.Errorf("prompt: stderr=%q stdout=%q", errOut.String(), out.String())
		}
	}
}

func TestSystem(t *testing.T) {
	ios := System()
	if ios.In == nil || ios.Out == nil || ios.ErrOut == nil {
		t.Fatal("System() has nil streams")
	}
	if w := ios.TerminalWidth(); w <= 0 {
		t.Fatalf("TerminalWidth() = %d", w)
	}
}
