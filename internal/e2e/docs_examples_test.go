package e2e_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/genericcorp/baton/pkg/api"
)

// exampleBlock is a tested example of a doc: a marker naming the file,
// then a fenced block holding it.
var exampleBlock = regexp.MustCompile("(?s)<!-- example: ([^ ]+) -->\n```[a-z]*\n(.*?)```\n")

// TestStepsDocExamples: the agent examples of docs/steps.md are the files
// under testdata/agents, and each runs as documented through a real server
// and `baton worker run`: two steps, a wait for approval, the output.
func TestStepsDocExamples(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "steps.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks := map[string]string{}
	for _, m := range exampleBlock.FindAllStringSubmatch(string(doc), -1) {
		blocks[m[1]] = m[2]
	}
	for _, name := range []string{"summarise.sh", "summarise.py", "summarise.go"} {
		path := "internal/e2e/testdata/agents/" + name
		want, err := os.ReadFile(filepath.Join("testdata", "agents", name))
		if err != nil {
			t.Fatal(err)
		}
		if got, ok := blocks[path]; !ok || got != string(want) {
			t.Errorf("docs/steps.md's example %s is not the tested file (found %v)", path, ok)
		}
	}

	cl := newCluster(t, "")
	addr := freePort(t)
	cl.server("server", addr)
	examples, err := filepath.Abs(filepath.Join("testdata", "agents"))
	if err != nil {
		t.Fatal(err)
	}
	sdk, _ := filepath.Abs(filepath.Join("..", "..", "sdk", "python"))
	goAgent := filepath.Join(t.TempDir(), "summarise")
	if out, err := exec.Command("go", "build", "-o", goAgent, "./testdata/agents/summarise.go").CombinedOutput(); err != nil {
		t.Fatalf("go build the Go example: %v\n%s", err, out)
	}
	agents := map[string]string{
		"shell": "PATH=" + filepath.Dir(cl.bin) + ":$PATH exec sh " + filepath.Join(examples, "summarise.sh"),
		"go":    "exec " + goAgent,
	}
	if py, err := exec.LookPath("python3"); err == nil {
		agents["python"] = "PYTHONPATH=" + sdk + " exec " + py + " " + filepath.Join(examples, "summarise.py")
	}
	ctx := context.Background()
	for name, cmd := range agents {
		c, key := cl.tenant(addr, "docs-"+name)
		cl.worker("worker-"+name, addr, key, 1, cmd)
		s := &stepScenario{t: t, c: c}
		task, err := c.SubmitTask(ctx, api.SubmitTaskRequest{Input: []byte(`{"doc": "q3.pdf"}`)}, "")
		if err != nil {
			t.Fatal(err)
		}
		s.until(task.ID, api.TaskWaiting, "signal: approve", 60*time.Second)
		if _, err := c.Signal(ctx, task.ID, "approve", []byte(`{"ok": true}`), ""); err != nil {
			t.Fatal(err)
		}
		done := s.until(task.ID, api.TaskSucceeded, "", 60*time.Second)
		var out struct {
			Summary  string
			Approval struct{ OK bool }
		}
		s.output(done, &out)
		if !strings.HasPrefix(out.Summary, "summary of ") || !strings.HasSuffix(out.Summary, "(request "+task.ID+"/summarise)") || !out.Approval.OK {
			t.Errorf("%s example: output %s", name, done.Output)
		}
		if done.Usage.Tokens != 1200 || done.Usage.CostMicros != 3100 || done.Attempt != 2 {
			t.Errorf("%s example: usage %+v after %d attempts, want 1200 tokens, 3100 µ$, 2 attempts", name, done.Usage, done.Attempt)
		}
		t.Logf("%s example: %s", name, done.Output)
	}
}
