package tasks

import "time"

// Waits check the queue's pollers again every 50ms in this package's tests
// (10 s in use), so that a test sees a recheck within its wait.
func init() { pollerRecheck = 50 * time.Millisecond }
