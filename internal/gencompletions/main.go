package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/genericcorp/baton/internal/cli"
	"github.com/genericcorp/baton/internal/cli/cmdutil"
	"github.com/genericcorp/baton/internal/iostreams"
)

// scripts maps each shell to the file its completion script is written to,
// named as each shell's completion directory expects.
var scripts = []struct{ shell, file string }{
	{"bash", "baton.bash"},
	{"zsh", "_baton"},
	{"fish", "baton.fish"},
	{"powershell", "baton.ps1"},
}

func main() {
	dir := "completions"
	if len(os.Args) > 1 {
		dir = os.Args[1]
	}
	if len(os.Args) > 2 {
		fmt.Fprintln(os.Stderr, "usage: gencompletions [DIR]")
		os.Exit(2)
	}
	if err := run(context.Background(), dir); err != nil {
		fmt.Fprintln(os.Stderr, "gencompletions:", err)
		os.Exit(1)
	}
}

// run writes every shell's completion script into dir, creating it.
func run(ctx context.Context, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	for _, s := range scripts {
		b, err := generate(ctx, s.shell)
		if err != nil {
			return err
		}
		if err := writeFile(filepath.Join(dir, s.file), b); err != nil {
			return err
		}
	}
	return nil
}

// generate returns what `baton completion shell` prints. The command runs
// on test streams and an empty environment, so nothing on the machine
// (config file, BATON_* variables) can change the output.
func generate(ctx context.Context, shell string) ([]byte, error) {
	ios, _, out, errOut := iostreams.Test()
	f := cmdutil.New(ios, func(string) string { return "" })
	root := cli.NewCmdRoot(f)
	root.SetArgs([]string{"completion", shell})
	if err := root.ExecuteContext(ctx); err != nil {
		return nil, fmt.Errorf("baton completion %s: %w %s", shell, err, bytes.TrimSpace(errOut.Bytes()))
	}
	if out.Len() == 0 {
		return nil, fmt.Errorf("baton completion %s printed nothing", shell)
	}
	return out.Bytes(), nil
}

// writeFile replaces path with b atomically, so that an interrupted run
// never leaves a half-written script behind.
func writeFile(path string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
