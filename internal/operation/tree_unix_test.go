//go:build unix

package operation

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// gone waits until process pid runs no more (it does not exist, or is a zombie), with a safety
// deadline against a hang: it measures nothing.
func gone(t *testing.T, pid int) bool {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			if _, err := os.Stat("/proc/self"); err != nil { // no /proc: ask the kernel
				return !alive(pid)
			}
			return true
		}
		if i := strings.LastIndexByte(string(b), ')'); i > 0 && len(b) > i+2 && (b[i+2] == 'Z' || b[i+2] == 'X') {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func alive(pid int) bool {
	p, err := os.FindProcess(pid)
	return err == nil && p.Signal(syscallZero) == nil
}

// readPID waits for file to hold a pid (written by a process of the command under test), with
// a safety deadline.
func readPID(t *testing.T, file string) int {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		b, _ := os.ReadFile(file)
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && strings.HasSuffix(string(b), "\n") {
			return pid
		}
		if time.Now().After(deadline) {
			t.Fatalf("no pid in %s", file)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestCommandLeavingAChild: a command that starts a background child and exits is reported
// with its own exit status, although the child holds its stdout and stderr open; the child is
// ended. It used to be reported failed, rc 127, "could not run: WaitDelay expired", and the
// child was left running.
func TestCommandLeavingAChild(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		script string
		rc     int
	}{
		{`echo started; (sleep 25) & echo $! >&2; exit 0`, 0},
		{`echo started; sleep 25 & echo $! >&2; exit 3`, 3},
		{`echo started; (trap "" TERM; exec sleep 25) & echo $! >&2; exit 0`, 0}, // ignores SIGTERM: SIGKILL after killGrace
	} {
		res, f := Command{Shell: tc.script}.Run(context.Background())
		if res.RC != tc.rc || res.Stdout != "started\n" || (tc.rc == 0) != (f == nil) {
			t.Errorf("%s: rc %d, stdout %q, failure %+v; want rc %d", tc.script, res.RC, res.Stdout, f, tc.rc)
		}
		if f != nil && (f.ExitCode == nil || *f.ExitCode != tc.rc || strings.Contains(f.Message, "could not run")) {
			t.Errorf("%s: failure %+v", tc.script, f)
		}
		pid, err := strconv.Atoi(strings.TrimSpace(res.Stderr))
		if err != nil {
			t.Fatalf("%s: no pid on stderr: %q", tc.script, res.Stderr)
		}
		if !gone(t, pid) {
			t.Errorf("%s: the background child %d still runs", tc.script, pid)
		}
	}
}

// TestCancelEndsTheProcessGroup: when the attempt is stopped, the command's children in its
// process group end with it.
func TestCancelEndsTheProcessGroup(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "pid")
	ctx, stop := newDeadline()
	failed := runAsync(ctx, Command{Shell: `sleep 300 & echo $! > ` + pidFile + `; wait`})
	pid := readPID(t, pidFile)
	stop()
	if f := <-failed; f == nil || !f.TimedOut {
		t.Errorf("failure %+v, want a timed-out attempt", f)
	}
	if !gone(t, pid) {
		t.Errorf("the child %d still runs", pid)
	}
}

// TestMissingChdir: a working directory that does not exist is reported naming chdir and the
// path, as a command that could not run (rc 127, classified configuration_error). The message
// used to be "fork/exec /usr/bin/pwd: no such file or directory".
func TestMissingChdir(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{
		filepath.Join(dir, "missing"): "chdir " + filepath.Join(dir, "missing") + ": the directory does not exist",
		file:                          "chdir " + file + ": not a directory",
	} {
		res, f := Command{Argv: []string{"pwd"}, Chdir: path}.Run(context.Background())
		if f == nil || f.Message != want || f.ExitCode == nil || *f.ExitCode != 127 || res.RC != 127 {
			t.Errorf("chdir %s: result %+v, failure %+v; want %q, rc 127", path, res, f, want)
		}
	}
	res, f := Command{Argv: []string{"pwd"}, Chdir: dir}.Run(context.Background())
	if f != nil || strings.TrimSpace(res.Stdout) != dir {
		t.Errorf("chdir %s: %+v, %+v", dir, res, f)
	}
}
