package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRunWritesEveryShell generates into a temp dir and checks each script
// is the one its shell expects.
func TestRunWritesEveryShell(t *testing.T) {
	dir := t.TempDir()
	if err := run(t.Context(), dir); err != nil {
		t.Fatal(err)
	}
	marks := map[string]string{
		"baton.bash": "__start_baton",
		"_baton":     "#compdef baton",
		"baton.fish": "complete -c baton",
		"baton.ps1":  "Register-ArgumentCompleter",
	}
	for _, s := range scripts {
		b, err := os.ReadFile(filepath.Join(dir, s.file))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), marks[s.file]) {
			t.Errorf("%s (%s) lacks %q", s.file, s.shell, marks[s.file])
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != len(scripts) {
		t.Errorf("dir holds %d entries, want %d (no temp files left)", len(entries), len(scripts))
	}
}

// TestCompletionsUpToDate checks that the committed completions/ match what
// the generator makes now. The scripts ask `baton __complete` at run time,
// so they change only when cobra's templates do.
func TestCompletionsUpToDate(t *testing.T) {
	dir := t.TempDir()
	if err := run(t.Context(), dir); err != nil {
		t.Fatal(err)
	}
	for _, s := range scripts {
		want, _ := os.ReadFile(filepath.Join(dir, s.file))
		got, err := os.ReadFile(filepath.Join("..", "..", "completions", s.file))
		if err != nil {
			t.Fatalf("%v: run `go generate ./internal/gencompletions`", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("completions/%s is stale: run `go generate ./internal/gencompletions`", s.file)
		}
	}
}
