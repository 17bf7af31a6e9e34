//go:build unix

package supervisor

import "syscall"

// groupAttr starts the agent in its own process group, so signals reach
// everything it starts (grandchildren too), as user u when set.
func groupAttr(u *AgentUser) *syscall.SysProcAttr {
	a := &syscall.SysProcAttr{Setpgid: true}
	if u != nil {
		a.Credential = &syscall.Credential{Uid: u.UID, Gid: u.GID, Groups: u.Groups}
	}
	return a
}

// terminateGroup asks the agent's whole group to stop (SIGTERM).
func terminateGroup(pgid int) { _ = syscall.Kill(-pgid, syscall.SIGTERM) }

// killGroup kills the agent's whole group (SIGKILL).
func killGroup(pgid int) { _ = syscall.Kill(-pgid, syscall.SIGKILL) }
