// Package pythonsdk runs the Python helper's tests (baton_agent.py) from
// `go test`, so CI checks it beside the Go helper; skipped where python3 is
// not installed.
package pythonsdk_test

import (
	"context"
	"os/exec"
	"testing"
	"time"
)

func TestPythonSDK(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not installed")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, py, "-m", "unittest", "discover", "-v", "-s", ".", "-p", "test_*.py").CombinedOutput()
	if err != nil {
		t.Fatalf("python3 -m unittest: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}
