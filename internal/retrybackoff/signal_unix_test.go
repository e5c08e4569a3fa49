//go:build unix

package retrybackoff

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"resilience.ops/internal/modtest"
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
	// Wait until the child has started; the deadline is a safety net against a hang.
	for deadline := time.Now().Add(2 * time.Minute); childPid == 0 && time.Now().Before(deadline); {
		if b, err := os.ReadFile(pidFile); err == nil && strings.HasSuffix(string(b), "\n") {
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
	case <-time.After(2 * time.Minute): // a safety net against a hang, not a measurement
		cmd.Process.Kill()
		t.Fatal("retry_backoff did not stop on SIGTERM")
	}
	if code := cmd.ProcessState.ExitCode(); code != 130 || !strings.Contains(stderr.String(), "interrupted") {
		t.Errorf("exit %d, stderr %q", code, stderr.String())
	}
	if strings.Count(stderr.String(), "attempt ") > 1 {
		t.Errorf("retried after the signal: %q", stderr.String())
	}
	if !modtest.Ended(t, childPid) { // a zombie whose parent is gone does not count
		syscall.Kill(childPid, syscall.SIGKILL)
		t.Error("the command's child survived the signal")
	}
}
