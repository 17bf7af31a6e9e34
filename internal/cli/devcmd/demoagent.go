package devcmd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/genericcorp/baton/internal/cli/cmdutil"
	"github.com/genericcorp/baton/pkg/agent"
)

// The demo agent of `baton dev`'s queue demo-steps: a durable program of
// three steps and an approval (docs/steps.md "Try it with baton dev"),
// written with pkg/agent. The dev worker runs this binary itself as the
// agent (`baton dev demo-agent`), so a new user needs no other file.

// DemoQueue is the queue of the demo agent.
const DemoQueue = "demo-steps"

// Demo step keys and the signal the approval waits for.
const (
	demoFetch    = "fetch"
	demoDraft    = "draft"
	demoApproval = "approval"
	demoPublish  = "publish"
	DemoSignal   = "approve"
)

// demoApprovalTimeout bounds the approval wait: after it the task ends
// unpublished.
const demoApprovalTimeout = 24 * time.Hour

// demoInput is the task's input: {"topic": "…"}.
type demoInput struct {
	Topic string `json:"topic"`
}

// demoOutput is the task's output.
type demoOutput struct {
	Topic     string          `json:"topic"`
	Sources   []string        `json:"sources"`
	Draft     string          `json:"draft"`
	Approval  json.RawMessage `json:"approval,omitempty"`
	Published bool            `json:"published"`
	URL       string          `json:"url,omitempty"`
}

// newCmdDemoAgent is the hidden `baton dev demo-agent`: the program the
// dev worker runs for each attempt of a demo-steps task.
func newCmdDemoAgent(f *cmdutil.Factory) *cobra.Command {
	return &cobra.Command{
		Use:    "demo-agent",
		Short:  "The demo agent of baton dev's queue " + DemoQueue + " (run by its worker)",
		Hidden: true,
		Args:   cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			url, tok := f.Getenv(agent.EnvStepURL), f.Getenv(agent.EnvStepToken)
			if url == "" || tok == "" {
				return &cmdutil.ExitError{Code: agent.ExitCode(agent.ErrNoSupervisor), Err: agent.ErrNoSupervisor}
			}
			ctx := agent.WithClient(cmd.Context(), agent.NewClient(url, tok, nil))
			out, err := runDemoAgent(ctx, f.IOStreams.In)
			if errors.Is(err, agent.ErrSuspended) {
				f.Infof("demo agent: the task waits (%v); a later attempt replays to here", err)
				return &cmdutil.ExitError{Code: agent.ExitSuspended}
			}
			if err != nil {
				return &cmdutil.ExitError{Code: agent.ExitCode(err), Err: fmt.Errorf("demo agent: %w", err)}
			}
			return json.NewEncoder(f.IOStreams.Out).Encode(out)
		},
	}
}

// runDemoAgent is the program: fetch, draft, wait for approval, publish.
// Every attempt runs it from the top; the steps already recorded answer
// from the journal without running (or being metered) again.
func runDemoAgent(ctx context.Context, stdin io.Reader) (demoOutput, error) {
	var in demoInput
	if err := json.NewDecoder(stdin).Decode(&in); err != nil && !errors.Is(err, io.EOF) {
		return demoOutput{}, agent.Permanent(fmt.Errorf(`input: want {"topic": "…"}: %w`, err))
	}
	if in.Topic = strings.TrimSpace(in.Topic); in.Topic == "" {
		in.Topic = "durable agents"
	}
	out := demoOutput{Topic: in.Topic}
	var err error
	// A real agent would search the web here.
	out.Sources, err = agent.Run(ctx, demoFetch, func(ctx context.Context) ([]string, error) {
		if err := agent.Usage(ctx, 300, 800); err != nil {
			return nil, err
		}
		return []string{"https://example.com/" + slug(in.Topic) + "/1", "https://example.com/" + slug(in.Topic) + "/2"}, nil
	})
	if err != nil {
		return out, err
	}
	// A real agent would call an LLM here, passing the step's idempotency
	// key to the provider, and stream its tokens.
	out.Draft, err = agent.Run(ctx, demoDraft, func(ctx context.Context) (string, error) {
		words := []string{"A", "short", "piece", "on", in.Topic, "from", fmt.Sprint(len(out.Sources)), "sources."}
		if err := agent.Emit(ctx, "draft", strings.Join(words, " ")); err != nil {
			return "", err
		}
		if err := agent.Usage(ctx, 1200, 3100); err != nil {
			return "", err
		}
		return strings.Join(words, " "), nil
	})
	if err != nil {
		return out, err
	}
	// Frees the worker: the attempt ends (ErrSuspended) and the task waits,
	// holding no slot, until `baton tasks signal ID approve` comes.
	out.Approval, err = agent.Wait(ctx, demoApproval, DemoSignal, demoApprovalTimeout)
	if errors.Is(err, agent.ErrTimeout) {
		return out, nil // nobody approved: not published
	}
	if err != nil {
		return out, err
	}
	var verdict struct {
		OK *bool `json:"ok"`
	}
	_ = json.Unmarshal(out.Approval, &verdict)
	if verdict.OK != nil && !*verdict.OK {
		return out, nil // rejected: not published
	}
	out.URL, err = agent.Run(ctx, demoPublish, func(ctx context.Context) (string, error) {
		url := "https://example.com/posts/" + slug(in.Topic)
		if err := agent.Emit(ctx, "publish", "published "+url); err != nil {
			return "", err
		}
		if err := agent.Usage(ctx, 100, 200); err != nil {
			return "", err
		}
		return url, nil
	})
	out.Published = err == nil
	return out, err
}

// slug is s in lower case with runs of other characters as one '-'
// ("post" when nothing is left).
func slug(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	if out := strings.TrimSuffix(b.String(), "-"); out != "" {
		return out
	}
	return "post"
}
