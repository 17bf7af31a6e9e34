//go:build linux

package supervisor

import (
	"os"

	"golang.org/x/sys/unix"
)

// unreadBytes is how many bytes the pipe f holds unread (FIONREAD, which Linux names TIOCINQ),
// without putting f in blocking mode (as f.Fd would).
func unreadBytes(f *os.File) (int, bool) {
	rc, err := f.SyscallConn()
	if err != nil {
		return 0, false
	}
	n, ierr := 0, error(nil)
	if err := rc.Control(func(fd uintptr) { n, ierr = unix.IoctlGetInt(int(fd), unix.TIOCINQ) }); err != nil || ierr != nil {
		return 0, false
	}
	return n, true
}
