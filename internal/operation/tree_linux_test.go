//go:build linux

package operation

import (
	"context"
	"path/filepath"
	"strconv"
	"testing"
)

// TestTimeoutEndsProcessesThatLeftTheGroup: when an attempt times out, the processes its command
// started are ended, also those that left its process group: a setsid grandchild, a daemon that
// double-forked into a new session, and the children those started. A setsid grandchild used to
// survive attempt_timeout.
func TestTimeoutEndsProcessesThatLeftTheGroup(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := func(n int) string { return filepath.Join(dir, "pid"+strconv.Itoa(n)) }
	// 1: a setsid grandchild; 2: its own child; 3: a daemon that double-forks into a new session
	// and whose intermediate parent exits (it is re-parented); then the command waits.
	script := `setsid sh -c 'sleep 300 & echo $! > ` + p(2) + `; echo $$ > ` + p(1) + `; wait' &
setsid sh -c '(sleep 300 & echo $! > ` + p(3) + `) ; exit 0' &
sleep 300`
	ctx, stop := newDeadline()
	failed := runAsync(ctx, Command{Shell: script})
	pids := []int{readPID(t, p(1)), readPID(t, p(2)), readPID(t, p(3))}
	stop()
	if f := <-failed; f == nil || !f.TimedOut {
		t.Errorf("failure %+v, want a timed-out attempt", f)
	}
	for i, pid := range pids {
		if !gone(t, pid) {
			t.Errorf("process %d (pid%d) outlived the attempt", pid, i+1)
		}
	}
}

// TestExitEndsProcessesThatLeftTheGroup: a command that exits at once after starting a setsid
// daemon is reported as it exited, and the daemon is ended.
func TestExitEndsProcessesThatLeftTheGroup(t *testing.T) {
	t.Parallel()
	pidFile := filepath.Join(t.TempDir(), "pid")
	script := `setsid sh -c 'echo $$ > ` + pidFile + `; exec sleep 300' & while [ ! -s ` + pidFile + ` ]; do :; done; exit 0`
	res, f := Command{Shell: script}.Run(context.Background())
	if f != nil || res.RC != 0 {
		t.Errorf("rc %d, failure %+v; want success", res.RC, f)
	}
	if pid := readPID(t, pidFile); !gone(t, pid) {
		t.Errorf("the setsid daemon %d outlived the command", pid)
	}
}
