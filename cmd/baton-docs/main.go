// Command baton-docs writes baton's Markdown command reference and man
// pages into a directory (default docs/cli):
//
//	go run ./cmd/baton-docs [DIR]
//
// A test of internal/cli fails when the checked-in docs/cli is not what
// this prints, so CI notices a command whose docs were not regenerated.
package main

import (
	"fmt"
	"os"

	"github.com/genericcorp/baton/internal/cli"
)

func main() {
	dir := "docs/cli"
	if len(os.Args) > 1 {
		dir = os.Args[1]
	}
	if err := cli.GenerateDocs(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
