// A durable agent: build it and run it with `baton worker run -- ./summarise`.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/genericcorp/baton/pkg/agent"
)

func main() {
	ctx := context.Background()
	out, err := run(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "agent:", err)
		os.Exit(agent.ExitCode(err)) // 75 when the task now waits
	}
	_ = json.NewEncoder(os.Stdout).Encode(out)
}

func run(ctx context.Context) (map[string]any, error) {
	var task json.RawMessage // the task's input
	if err := json.NewDecoder(os.Stdin).Decode(&task); err != nil {
		return nil, agent.Permanent(err)
	}
	// Runs once per task; a later attempt gets the recorded value instead.
	size, err := agent.Run(ctx, "fetch", func(ctx context.Context) (int, error) {
		return len(task), nil
	})
	if err != nil {
		return nil, err
	}
	summary, err := agent.Run(ctx, "summarise", func(ctx context.Context) (string, error) {
		if err := agent.Usage(ctx, 1200, 3100); err != nil { // charged to this step
			return "", err
		}
		key := agent.StepOf(ctx).IdempotencyKey // the same in every attempt
		return fmt.Sprintf("summary of %d bytes (request %s)", size, key), nil
	})
	if err != nil {
		return nil, err
	}
	// Frees the worker (ErrSuspended: exit 75); the task resumes here when
	// the signal comes.
	approval, err := agent.Wait(ctx, "approve", "approve", 24*time.Hour)
	if err != nil {
		return nil, err
	}
	return map[string]any{"summary": summary, "approval": approval}, nil
}
