//go:build unix

package retrymod

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestBackoffSignalStopsChild sends SIGTERM to a real retry_backoff process whose command hangs:
// the command's process group and the retries stop at once.
func TestBackoffSignalStopsChild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	t.Parallel()
	dir := t.TempDir()
	bin := filepath.Join(dir, "retry_backoff")
	build := exec.Command("go", "build", "-o", bin, "resilience.ops/internal/cmd/retry_backoff")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	pidFile := filepath.Join(dir, "child.pid")
	cmd := exec.Command(bin, "3", "5", "--", "sh", "-c", "sleep 300 & echo $! > "+pidFile+"; wait")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var childPid int
	for i := 0; i < 500 && childPid == 0; i++ { // wait until the child has started
		if b, err := os.ReadFile(pidFile); err == nil {
			childPid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		}
		if childPid == 0 {
			time.Sleep(10 * time.Millisecond)
		}
	}
	if childPid == 0 {
		t.Fatal("the command never started")
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		t.Fatal("retry_backoff did not stop on SIGTERM")
	}
	if code := cmd.ProcessState.ExitCode(); code != 130 || !strings.Contains(stderr.String(), "interrupted") {
		t.Errorf("exit %d, stderr %q", code, stderr.String())
	}
	if strings.Count(stderr.String(), "attempt ") > 1 {
		t.Errorf("retried after the signal: %q", stderr.String())
	}
	if alive(childPid) {
		syscall.Kill(childPid, syscall.SIGKILL)
		t.Error("the command's child survived the signal")
	}
}

// alive reports whether pid runs, polling briefly: a killed process whose parent is gone stays a
// zombie until init reaps it, which does not count.
func alive(pid int) bool {
	for i := 0; i < 100; i++ {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return false
		}
		if f := strings.Fields(string(b)); len(f) > 2 && (f[2] == "Z" || f[2] == "X") {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}
