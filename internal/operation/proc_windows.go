//go:build windows

package operation

import "os/exec"

// procTree on Windows is the command's own process: on timeout it is killed, and the processes it
// started are left running (Windows has no process group to signal here; a job object would be
// needed). When the command exits, its output is read for at most killGrace more.
type procTree struct{ cmd *exec.Cmd }

func newProcTree(cmd *exec.Cmd) *procTree { return &procTree{cmd: cmd} }

func (t *procTree) kill() {
	if t.cmd.Process != nil {
		_ = t.cmd.Process.Kill()
	}
}

func (t *procTree) end(bool) {}

func shellArgv(s string) []string { return []string{"cmd.exe", "/C", s} }
