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
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	ctx, stop := cli.InterruptContext(context.Background(), sigs, os.Stderr, os.Exit)
	code := cli.Main(ctx, os.Args[1:], os.Getenv, iostreams.SystemWithEnv(os.Getenv))
	stop()
	os.Exit(code)
}
