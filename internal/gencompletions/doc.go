// Command gencompletions writes baton's shell completion scripts (bash,
// zsh, fish and PowerShell) into a directory, by running `baton completion
// SHELL` against the real command tree. The release's before-hook runs it,
// and the scripts ship in every archive and package. The files in
// completions/ are generated: never edit them by hand.
//
// Usage:
//
//	go generate ./internal/gencompletions
//	go run ./internal/gencompletions DIR
package main

//go:generate go run . ../../completions
