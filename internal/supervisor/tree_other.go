//go:build !linux

package supervisor

import "syscall"

// Elsewhere than Linux there is no subreaper and no /proc walk: an
// attempt's processes are its process group (Unix) or the agent itself
// (Windows); see pgroup_*.go.

func protectProcess() error { return nil }

func signalTree(pid int, _ string, sig syscall.Signal, _ map[int]uint64) int {
	if sig == syscall.SIGKILL {
		killGroup(pid)
	} else {
		terminateGroup(pid)
	}
	return 0
}

func reap(map[int]uint64) {}
