package supervisor

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/genericcorp/baton/pkg/agent"
	"github.com/genericcorp/baton/pkg/api"
)

// maxLineBytes caps one stderr line; the rest of a longer line is dropped.
const maxLineBytes = 16 << 10

// Environment variables the agent does not inherit from the worker:
// BATON_API_KEY never reaches an agent (a shared worker's operator key must
// not reach tenant code), nor what points at the worker's CLI config, nor
// stale task variables.
var agentEnvDrop = []string{"BATON_API_KEY", "BATON_CONFIG", "BATON_PROFILE", "BATON_TASK_ID", "BATON_ATTEMPT",
	"BATON_QUEUE", "BATON_WORKSPACE_ID", tagVar, agent.EnvStepURL, agent.EnvStepToken}

// homeVars are replaced by the attempt's own home directory unless
// Config.InheritHome: the worker's config file ($XDG_CONFIG_HOME/baton,
// holding its key) is not where the agent looks.
var homeVars = []string{"HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME"}

// tagVar marks every process of an attempt (tree_linux.go).
const tagVar = "BATON_AGENT_TAG"

func (a *attempt) env(home string, steps *stepServer) []string {
	drop := agentEnvDrop
	if home != "" {
		drop = append(slices.Clone(drop), homeVars...)
	}
	env := make([]string, 0, len(a.w.cfg.Env)+10)
	for _, kv := range a.w.cfg.Env {
		k, _, _ := strings.Cut(kv, "=")
		if !slices.Contains(drop, k) {
			env = append(env, kv)
		}
	}
	if home != "" {
		env = append(env, "HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, ".config"),
			"XDG_CACHE_HOME="+filepath.Join(home, ".cache"), "XDG_DATA_HOME="+filepath.Join(home, ".local", "share"),
			"XDG_STATE_HOME="+filepath.Join(home, ".local", "state"))
	}
	env = append(env, steps.env()...)
	return append(env, "BATON_TASK_ID="+a.t.ID, "BATON_ATTEMPT="+strconv.Itoa(a.t.Attempt),
		"BATON_QUEUE="+a.t.Queue, "BATON_WORKSPACE_ID="+a.t.WorkspaceID, tagVar+"="+a.tag)
}

// makeHome creates the attempt's empty home directory (mode 0700, owned by
// the agent's user), removed when the attempt ends; "" with InheritHome.
func (a *attempt) makeHome() (string, error) {
	if a.w.cfg.InheritHome {
		return "", nil
	}
	dir, err := os.MkdirTemp("", "baton-agent-")
	if err != nil {
		return "", fmt.Errorf("agent home: %w", err)
	}
	if u := a.w.cfg.AgentUser; u != nil {
		if err := os.Chown(dir, int(u.UID), int(u.GID)); err != nil {
			os.RemoveAll(dir)
			return "", fmt.Errorf("agent home: %w", err)
		}
	}
	return dir, nil
}

// runProcess runs the agent command in its own process group: input on
// stdin, stdout captured (capped), stderr parsed into logs and usage. When
// the attempt is stopped the whole group gets SIGTERM, then SIGKILL after
// KillGrace; when the agent exits, whatever it left in its group is killed.
func (a *attempt) runProcess() result {
	cfg := a.w.cfg
	if a.ctx.Err() != nil {
		return result{err: "stopped before the agent started", retryable: true, exit: -1, signalled: true}
	}
	var p [3][2]*os.File // stdin, stdout, stderr: read and write ends
	for i := range p {
		r, w, err := os.Pipe()
		if err != nil {
			closeAll(p[:i])
			return result{err: fmt.Sprintf("start agent: %v", err), retryable: true, exit: -1}
		}
		p[i] = [2]*os.File{r, w}
	}
	inR, inW, outR, outW, errR, errW := p[0][0], p[0][1], p[1][0], p[1][1], p[2][0], p[2][1]
	home, err := a.makeHome()
	if err != nil {
		closeAll(p[:])
		return result{err: fmt.Sprintf("start agent: %v", err), retryable: true, exit: -1}
	}
	if home != "" {
		defer os.RemoveAll(home)
	}
	a.stderr = newStderrSync(errR)
	steps, err := a.startSteps()
	if err != nil {
		closeAll(p[:])
		return result{err: fmt.Sprintf("start agent: %v", err), retryable: true, exit: -1}
	}
	defer steps.close()
	cmd := exec.Command(cfg.Command[0], cfg.Command[1:]...)
	cmd.Env = a.env(home, steps)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = inR, outW, errW
	cmd.SysProcAttr = groupAttr(cfg.AgentUser)
	err = cmd.Start()
	inR.Close()
	outW.Close()
	errW.Close()
	if err != nil {
		inW.Close()
		outR.Close()
		errR.Close()
		return result{err: fmt.Sprintf("start agent: %v", err), retryable: true, exit: -1}
	}
	pgid := cmd.Process.Pid
	start := time.Now()
	a.log.Debug("agent started", "pid", pgid)

	go func() { _, _ = inW.Write(a.t.Input); inW.Close() }()
	out := &capBuffer{max: cfg.MaxOutputBytes}
	outDone, errDone := make(chan struct{}), make(chan struct{})
	go func() { _, _ = io.Copy(out, outR); close(outDone) }()
	go func() { a.readStderr(errR); close(errDone) }()

	exited, killed := make(chan struct{}), make(chan struct{})
	var signalled atomic.Bool
	seen := map[int]uint64{} // processes signalled, to reap
	go func() { a.killer(pgid, exited, &signalled, seen); close(killed) }()

	_ = cmd.Wait()
	close(exited)
	<-killed
	// What the agent left running ends with it: its group, and on Linux
	// every process carrying its tag or re-parented from it.
	a.killLeftovers(pgid, seen)
	inW.Close()
	a.settle(outDone, errDone, outR, errR)

	state := cmd.ProcessState
	res := result{exit: state.ExitCode(), signalled: signalled.Load()}
	status := state.String() // "exit status 1", "signal: killed"
	if last := a.lastStderr(); last != "" {
		status += ": " + last
	}
	switch {
	case out.over:
		res.err = fmt.Sprintf("output too large: stdout exceeded the limit of %d bytes (%s)", cfg.MaxOutputBytes, state)
		res.retryable = res.exit != cfg.FatalExitCode
	case state.Success():
		res.ok, res.output = true, outputJSON(out.buf.Bytes())
		res = checkOutput(res)
	default:
		res.err, res.retryable = status, res.exit != cfg.FatalExitCode
	}
	a.log.Debug("agent exited", "pid", pgid, "state", state.String(), "duration", time.Since(start))
	return res
}

// killer stops the agent's processes once the attempt is stopped: SIGTERM,
// then SIGKILL if the agent has not exited after KillGrace. It records the
// processes it signals in seen.
func (a *attempt) killer(pgid int, exited <-chan struct{}, signalled *atomic.Bool, seen map[int]uint64) {
	select {
	case <-exited:
		return
	case <-a.ctx.Done():
	}
	signalled.Store(true)
	a.log.Info("sending SIGTERM to the agent's processes", "pgid", pgid)
	signalTree(pgid, a.tag, syscall.SIGTERM, seen)
	t := time.NewTimer(a.w.cfg.KillGrace)
	defer t.Stop()
	select {
	case <-exited:
	case <-t.C:
		a.log.Warn("agent still running after the grace period; sending SIGKILL", "pgid", pgid, "grace", a.w.cfg.KillGrace)
		signalTree(pgid, a.tag, syscall.SIGKILL, seen)
	}
}

// killLeftovers kills every process the agent left behind, until none is
// left (a process may fork while it is killed), and reaps those that were
// re-parented to the worker.
func (a *attempt) killLeftovers(pgid int, seen map[int]uint64) {
	for i := 0; ; i++ {
		alive := signalTree(pgid, a.tag, syscall.SIGKILL, seen)
		reap(seen)
		if alive == 0 {
			break
		}
		if i == 200 {
			a.log.Error("agent processes still alive after repeated SIGKILL", "pgid", pgid, "alive", alive)
			break
		}
		if i == 0 {
			a.log.Info("killing processes the agent left behind", "pgid", pgid, "alive", alive)
		}
		time.Sleep(10 * time.Millisecond) // SIGKILL is delivered asynchronously
	}
}

// checkOutput fails, for good, an attempt whose output no server store can
// hold (api.CheckJSON: too deep, invalid UTF-8): the server would refuse
// the completion, and a retry would produce the same output again.
func checkOutput(res result) result {
	if err := api.CheckJSON(res.output); err != nil {
		return result{err: fmt.Sprintf("the agent's output cannot be stored: %v (at most %d levels of nesting, valid UTF-8)", err, api.MaxJSONDepth), exit: res.exit}
	}
	return res
}

// settle waits for the stdout and stderr readers to reach EOF; a process
// that escaped the group may hold the pipes, so after settleWindow they are
// closed under it.
func (a *attempt) settle(outDone, errDone <-chan struct{}, outR, errR *os.File) {
	t := time.NewTimer(a.w.cfg.settleWindow)
	defer t.Stop()
	for _, ch := range []<-chan struct{}{outDone, errDone} {
		select {
		case <-ch:
		case <-t.C:
			a.log.Warn("agent pipes still open after it exited; closing them")
			outR.Close()
			errR.Close()
			<-outDone
			<-errDone
		}
	}
	outR.Close()
	errR.Close()
}

// readStderr turns the agent's stderr into usage reports and log lines,
// mirrored to Config.Stderr. It never blocks on the server.
func (a *attempt) readStderr(r io.Reader) {
	readLines(a.stderr.reader(r), maxLineBytes, func(line string) {
		defer a.stderr.lineHandled()
		if m := a.w.cfg.Stderr; m != nil {
			fmt.Fprintf(m, "[%s] %s\n", a.t.ID, line)
		}
		if u, ok := parseUsage(line); ok {
			a.addUsage(u)
			return
		}
		if isUsageLine(line) {
			a.log.Warn("malformed usage line; kept as a log line", "line", line)
		}
		if strings.TrimSpace(line) != "" {
			a.mu.Lock()
			a.lastLine = line
			a.mu.Unlock()
		}
		a.logs.add(line)
	})
}

func (a *attempt) lastStderr() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	s := strings.TrimSpace(a.lastLine)
	if len(s) > 500 {
		s = s[:500] + "…"
	}
	return s
}

// readLines calls fn with each line of r (without its line ending), cutting
// lines at limit bytes.
func readLines(r io.Reader, limit int, fn func(string)) {
	br := bufio.NewReaderSize(r, 64<<10)
	var buf []byte
	cut := false
	for {
		chunk, more, err := br.ReadLine()
		if err != nil {
			if len(buf) > 0 {
				fn(string(buf))
			}
			return
		}
		if room := limit - len(buf); len(chunk) > room {
			chunk, cut = chunk[:room], true
		}
		buf = append(buf, chunk...)
		if !more {
			line := string(buf)
			if cut {
				line += " …[line truncated]"
			}
			fn(line)
			buf, cut = buf[:0], false
		}
	}
}

// outputJSON is the task output of an agent's stdout: the JSON itself when
// it parses, else a JSON string of the trimmed text; null when empty.
func outputJSON(stdout []byte) json.RawMessage {
	s := bytes.TrimSpace(stdout)
	switch {
	case len(s) == 0:
		return json.RawMessage("null")
	case json.Valid(s):
		return bytes.Clone(s)
	}
	b, _ := json.Marshal(string(s))
	return b
}

// capBuffer keeps the first max bytes written and notes any more.
type capBuffer struct {
	buf  bytes.Buffer
	max  int
	over bool
}

func (c *capBuffer) Write(p []byte) (int, error) {
	if room := c.max - c.buf.Len(); len(p) > room {
		c.buf.Write(p[:room])
		c.over = true
	} else {
		c.buf.Write(p)
	}
	return len(p), nil
}

func closeAll(ps [][2]*os.File) {
	for _, p := range ps {
		p[0].Close()
		p[1].Close()
	}
}
