//go:build linux

package supervisor

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// On Linux the worker is a child subreaper (PR_SET_CHILD_SUBREAPER): a
// process an agent leaves behind is re-parented to the worker instead of
// init, so it stays in the worker's tree and the worker reaps it. An
// attempt's processes are found by walking /proc: the agent's descendants,
// the members of its process group, and every process whose environment
// carries the attempt's tag (BATON_AGENT_TAG), which survives setsid and
// double forks. Only a process that both leaves the group and clears its
// environment escapes (docs/security.md).

// protectProcess makes the worker a child subreaper and not dumpable:
// other processes of the same user (agents included) can no longer read
// /proc/PID/environ or /proc/PID/mem of the worker, nor ptrace it, so the
// key in its environment or memory stays its own. Errors are returned for
// the log; the worker runs on without the protection.
func protectProcess() error {
	var errs []string
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		errs = append(errs, "PR_SET_CHILD_SUBREAPER: "+err.Error())
	}
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		errs = append(errs, "PR_SET_DUMPABLE: "+err.Error())
	}
	if len(errs) > 0 {
		return fmt.Errorf("protect the worker process: %s", strings.Join(errs, "; "))
	}
	return nil
}

// proc is one process of /proc/PID/stat.
type proc struct {
	pid, ppid, pgid int
	state           byte
	start           uint64 // start time in clock ticks after boot: tells a reused pid apart
}

// readProcs lists every process visible in /proc.
func readProcs() map[int]proc {
	out := map[int]proc{}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return out
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if p, ok := readProc(pid); ok {
			out[pid] = p
		}
	}
	return out
}

func readProc(pid int) (proc, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return proc{}, false
	}
	return parseStat(pid, b)
}

// parseStat reads "pid (comm) state ppid pgrp session tty tpgid flags
// minflt cminflt majflt cmajflt utime stime cutime cstime priority nice
// threads itrealvalue starttime …"; comm may hold spaces and parentheses,
// so the fields start after the last ')'.
func parseStat(pid int, b []byte) (proc, bool) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return proc{}, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return proc{}, false
	}
	ppid, err1 := strconv.Atoi(f[1])
	pgid, err2 := strconv.Atoi(f[2])
	start, err3 := strconv.ParseUint(f[19], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || len(f[0]) != 1 {
		return proc{}, false
	}
	return proc{pid: pid, ppid: ppid, pgid: pgid, state: f[0][0], start: start}, true
}

// hasEnv reports whether process pid has kv ("K=V") in its environment.
func hasEnv(pid int, kv string) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
	if err != nil {
		return false
	}
	for _, e := range bytes.Split(b, []byte{0}) {
		if string(e) == kv {
			return true
		}
	}
	return false
}

// attemptProcs are the processes of the attempt whose agent is pid (its
// group's leader) and whose tag is tag, the worker itself excluded: the
// agent's descendants, its group, the processes carrying its tag, the
// processes seen before (re-parented to the worker when their parent died)
// and their descendants.
func attemptProcs(procs map[int]proc, pid int, tag string, seen map[int]uint64) []proc {
	self := os.Getpid()
	children := map[int][]int{}
	for _, p := range procs {
		children[p.ppid] = append(children[p.ppid], p.pid)
	}
	in := map[int]bool{}
	var walk func(int)
	walk = func(p int) {
		if in[p] || p == self {
			return
		}
		if _, ok := procs[p]; !ok {
			return
		}
		in[p] = true
		for _, c := range children[p] {
			walk(c)
		}
	}
	walk(pid)
	for _, p := range procs {
		start, known := seen[p.pid]
		switch {
		case in[p.pid]:
		case p.pgid == pid, known && start == p.start:
			walk(p.pid)
		case p.state != 'Z' && p.pid != self && hasEnv(p.pid, tagVar+"="+tag):
			walk(p.pid)
		}
	}
	out := make([]proc, 0, len(in))
	for p := range in {
		out = append(out, procs[p])
	}
	return out
}

// signalTree sends sig to every process of the attempt and records them in
// seen (pid → start time), to find them again once re-parented and to reap
// them once dead. The tree is read before any signal: a parent that dies
// hands its children to the worker, out of the agent's tree. It returns how
// many processes of the attempt are still alive (not zombies).
func signalTree(pid int, tag string, sig syscall.Signal, seen map[int]uint64) int {
	procs := attemptProcs(readProcs(), pid, tag, seen)
	alive := 0
	for _, p := range procs {
		seen[p.pid] = p.start
		if p.state != 'Z' {
			alive++
		}
	}
	_ = syscall.Kill(-pid, sig)
	for _, p := range procs {
		if p.state != 'Z' {
			_ = syscall.Kill(p.pid, sig)
		}
	}
	return alive
}

// reap waits for the processes in seen that died as the worker's children
// (re-parented to it, the subreaper), so they leave no zombies, and
// forgets those that are gone. os/exec waits for the agent itself.
func reap(seen map[int]uint64) {
	self := os.Getpid()
	for pid, start := range seen {
		p, ok := readProc(pid)
		switch {
		case !ok || p.start != start:
			delete(seen, pid)
		case p.ppid == self && p.state == 'Z':
			var ws syscall.WaitStatus
			if n, _ := syscall.Wait4(pid, &ws, syscall.WNOHANG, nil); n == pid {
				delete(seen, pid)
			}
		}
	}
}
