package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"

	"github.com/genericcorp/baton/internal/cli/cmdutil"
	"github.com/genericcorp/baton/internal/iostreams"
)

// docsDate is the date in the man pages' footer: fixed, so that the pages
// change only when a command does (a test checks docs/cli is current).
var docsDate = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)

// GenerateDocs writes the Markdown reference (DIR/baton*.md) and the man
// pages (DIR/man/baton*.1) of the whole command tree, built with an empty
// environment so that nothing of this machine ends up in them.
func GenerateDocs(dir string) error {
	ios, _, _, _ := iostreams.Test()
	root := NewCmdRoot(cmdutil.New(ios, func(string) string { return "" }))
	disableAutoGenTag(root)
	if err := os.MkdirAll(filepath.Join(dir, "man"), 0o755); err != nil {
		return fmt.Errorf("docs: %w", err)
	}
	if err := doc.GenMarkdownTree(root, dir); err != nil {
		return fmt.Errorf("docs: markdown: %w", err)
	}
	header := &doc.GenManHeader{Title: "BATON", Section: "1", Date: &docsDate, Source: "baton", Manual: "baton manual"}
	if err := doc.GenManTree(root, header, filepath.Join(dir, "man")); err != nil {
		return fmt.Errorf("docs: man: %w", err)
	}
	return nil
}

func disableAutoGenTag(c *cobra.Command) {
	c.DisableAutoGenTag = true
	for _, sub := range c.Commands() {
		disableAutoGenTag(sub)
	}
}
