//go:build unix

package operation

import (
	"crypto/rand"
	"encoding/hex"
	"os/exec"
	"syscall"
	"time"
)

// procTree is the processes of one run of a command: its process group (the command leads a
// group of its own) and, where the system can tell (Linux, see proc_linux.go), every process it
// started, also those that left the group.
type procTree struct {
	cmd    *exec.Cmd
	marker string // AttemptEnv=<random>, in the command's environment; "" without a subreaper
}

// newProcTree prepares cmd to start in a process group of its own, marked when the system can
// follow the processes that leave the group.
func newProcTree(cmd *exec.Cmd) *procTree {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	t := &procTree{cmd: cmd}
	if becomeSubreaper() {
		var b [16]byte
		_, _ = rand.Read(b[:])
		t.marker = AttemptEnv + "=" + hex.EncodeToString(b[:])
		cmd.Env = append(cmd.Env, t.marker)
	}
	return t
}

// kill ends every process of the command at once (SIGKILL), the command itself included; it is
// called while the command's pid is still held (not yet waited for).
func (t *procTree) kill() {
	if t.cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-t.cmd.Process.Pid, syscall.SIGKILL)
	t.signalRest(syscall.SIGKILL, map[int]bool{})
}

// end ends what the command left running once it has exited: SIGTERM when graceful, then, for
// what is still there after killGrace, SIGKILL; it returns when they are gone or after another
// killGrace. Without a subreaper it signals the process group.
func (t *procTree) end(graceful bool) {
	if t.cmd.Process == nil {
		return
	}
	known := map[int]bool{}
	if !t.tracked() {
		// The group, by its id: the command was its leader, and a group id is not reused while
		// the group has members.
		pg := -t.cmd.Process.Pid
		if syscall.Kill(pg, 0) != nil {
			return
		}
		if graceful {
			_ = syscall.Kill(pg, syscall.SIGTERM)
			waitGone(func() bool { return syscall.Kill(pg, 0) == nil })
		}
		_ = syscall.Kill(pg, syscall.SIGKILL)
		return
	}
	if len(t.signalRest(0, known)) == 0 {
		return
	}
	if graceful {
		t.signalRest(syscall.SIGTERM, known)
		if waitGone(func() bool { return len(t.signalRest(0, known)) > 0 }) {
			return
		}
	}
	t.signalRest(syscall.SIGKILL, known)
	waitGone(func() bool { return len(t.signalRest(syscall.SIGKILL, known)) > 0 })
}

// waitGone polls alive until it is false, at most killGrace; it reports whether it became false.
func waitGone(alive func() bool) bool {
	deadline := time.Now().Add(killGrace)
	for alive() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}

func shellArgv(s string) []string { return []string{"/bin/sh", "-c", s} }
