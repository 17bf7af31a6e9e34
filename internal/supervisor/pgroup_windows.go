//go:build windows

package supervisor

import (
	"os"
	"syscall"
)

// On Windows there are no process-group signals: the agent gets a new
// process group (so Ctrl-C to the worker does not reach it), and stopping
// it kills the agent process itself, at once (no grace period, and
// processes it started are not reached). Documented in `worker run --help`.

// groupAttr ignores u: Config.AgentUser is refused on Windows.
func groupAttr(_ *AgentUser) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{CreationFlags: syscall.CREATE_NEW_PROCESS_GROUP}
}

func terminateGroup(pid int) { killGroup(pid) }

func killGroup(pid int) {
	if p, err := os.FindProcess(pid); err == nil {
		_ = p.Kill()
	}
}
