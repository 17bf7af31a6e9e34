package supervisor

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// maxLineBytes caps one stderr line; the rest of a longer line is dropped.
const maxLineBytes = 16 << 10

// Environment variables the agent gets. BATON_API_KEY is never passed on:
// a shared worker's operator key must not reach tenant code.
var agentEnvDrop = []string{"BATON_API_KEY", "BATON_TASK_ID", "BATON_ATTEMPT", "BATON_QUEUE", "BATON_WORKSPACE_ID"}

func (a *attempt) env() []string {
	env := make([]string, 0, len(a.w.cfg.Env)+4)
outer:
	for _, kv := range a.w.cfg.Env {
		k, _, _ := strings.Cut(kv, "=")
		for _, d := range agentEnvDrop {
			if k == d {
				continue outer
			}
		}
		env = append(env, kv)
	}
	return append(env, "BATON_TASK_ID="+a.t.ID, "BATON_ATTEMPT="+strconv.Itoa(a.t.Attempt),
		"BATON_QUEUE="+a.t.Queue, "BATON_WORKSPACE_ID="+a.t.WorkspaceID)
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
	cmd := exec.Command(cfg.Command[0], cfg.Command[1:]...)
	cmd.Env = a.env()
	cmd.Stdin, cmd.Stdout, cmd.Stderr = inR, outW, errW
	cmd.SysProcAttr = groupAttr()
	err := cmd.Start()
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

	exited := make(chan struct{})
	var signalled atomic.Bool
	go a.killer(pgid, exited, &signalled)

	_ = cmd.Wait()
	close(exited)
	// What the agent left running in its group ends with it.
	killGroup(pgid)
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
	default:
		res.err, res.retryable = status, res.exit != cfg.FatalExitCode
	}
	a.log.Debug("agent exited", "pid", pgid, "state", state.String(), "duration", time.Since(start))
	return res
}

// killer stops the agent's group once the attempt is stopped: SIGTERM, then
// SIGKILL if the agent has not exited after KillGrace.
func (a *attempt) killer(pgid int, exited <-chan struct{}, signalled *atomic.Bool) {
	select {
	case <-exited:
		return
	case <-a.ctx.Done():
	}
	signalled.Store(true)
	a.log.Info("sending SIGTERM to the agent's process group", "pgid", pgid)
	terminateGroup(pgid)
	t := time.NewTimer(a.w.cfg.KillGrace)
	defer t.Stop()
	select {
	case <-exited:
	case <-t.C:
		a.log.Warn("agent still running after the grace period; sending SIGKILL", "pgid", pgid, "grace", a.w.cfg.KillGrace)
		killGroup(pgid)
	}
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
	readLines(r, maxLineBytes, func(line string) {
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
