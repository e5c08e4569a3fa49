//go:build unix

package retrymod

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"resilience.ops/internal/modtest"
)

// TestCommandLeavingABackgroundChild: the task's result is the command's own exit status when it
// leaves a child running that holds its output open, and the child is ended. It used to be
// "failed, rc 127, could not run: WaitDelay expired", retried, with the child left running.
func TestCommandLeavingABackgroundChild(t *testing.T) {
	t.Parallel()
	res, code := runModule(t, newFakeClock(), map[string]any{
		"operation": "bg", "use_shell": true, "cmd": "echo started; (sleep 25) & echo $! >&2; exit 0",
	})
	if code != 0 || res["failed"] == true || res["rc"] != 0.0 || res["stdout"] != "started" || len(attemptsOf(t, res)) != 1 {
		t.Fatalf("result = %v", res)
	}
	stderr, _ := res["stderr"].(string)
	pid, err := strconv.Atoi(strings.TrimSpace(stderr))
	if err != nil {
		t.Fatalf("no pid on stderr: %q", stderr)
	}
	if !modtest.Ended(t, pid) {
		t.Errorf("the background child %d still runs", pid)
	}
}

// TestMissingChdirNamesIt: a chdir that does not exist fails at once (configuration_error, not
// retried) with a message naming chdir and the path, not "fork/exec /usr/bin/pwd: no such file".
func TestMissingChdirNamesIt(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "missing")
	res, code := runModule(t, newFakeClock(), map[string]any{"operation": "pwd", "argv": []any{"pwd"}, "chdir": dir, "max_attempts": 3})
	msg, _ := res["msg"].(string)
	if code != 1 || !strings.Contains(msg, "chdir "+dir+": the directory does not exist") || strings.Contains(msg, "fork/exec") ||
		res["error_type"] != "configuration_error" || len(attemptsOf(t, res)) != 1 {
		t.Errorf("result = %v", res)
	}
}
