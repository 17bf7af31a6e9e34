// Command baton is the CLI, server and worker supervisor of baton.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/genericcorp/baton/internal/cli"
	"github.com/genericcorp/baton/internal/iostreams"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], os.Getenv, iostreams.SystemWithEnv(os.Getenv))
	stop()
	os.Exit(code)
}
