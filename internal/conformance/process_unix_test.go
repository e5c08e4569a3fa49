//go:build unix

package conformance

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"resilience.ops/internal/modtest"
)

// TestModuleCommandLeavingProcesses runs retry_manager as ansible-core does on commands that
// leave processes behind: a background child that holds the output open (reported failed, rc 127
// "WaitDelay expired" before, and left running) and a setsid daemon. The command's own status is
// reported, and nothing it started outlives the task.
func TestModuleCommandLeavingProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := modtest.BuildBinary(t, "resilience.ops/internal/cmd/retry_manager")
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "daemon")
	for _, tc := range []struct {
		cmd  string
		rc   float64
		pids func(stderr string) []string
	}{
		{"echo started; (sleep 25) & echo $! >&2; exit 0", 0, strings.Fields},
		{"echo started; sleep 25 & echo $! >&2; exit 4", 4, strings.Fields},
		{"echo started; setsid sh -c 'echo $$ > " + pidFile + "; exec sleep 300' & while [ ! -s " + pidFile + " ]; do :; done; exit 0", 0,
			func(string) []string { b, _ := os.ReadFile(pidFile); return strings.Fields(string(b)) }},
	} {
		args, _ := json.Marshal(map[string]any{"operation": "bg", "use_shell": true, "cmd": tc.cmd, "max_attempts": 1,
			"state_dir": filepath.Join(dir, "state")})
		out, _ := modtest.ModuleCommand(t, bin, args).Output()
		var res map[string]any
		if err := json.Unmarshal(out, &res); err != nil {
			t.Fatalf("%s: not one JSON object: %v: %q", tc.cmd, err, out)
		}
		if res["rc"] != tc.rc || res["stdout"] != "started" || (tc.rc == 0) == (res["failed"] == true) {
			t.Errorf("%s: %v; want rc %v", tc.cmd, res, tc.rc)
		}
		if msg, _ := res["msg"].(string); strings.Contains(msg, "could not run") || strings.Contains(msg, "WaitDelay") {
			t.Errorf("%s: msg %q", tc.cmd, msg)
		}
		stderr, _ := res["stderr"].(string)
		pids := tc.pids(stderr)
		if len(pids) != 1 {
			t.Fatalf("%s: no pid (stderr %q)", tc.cmd, stderr)
		}
		pid, _ := strconv.Atoi(pids[0])
		if !modtest.Ended(t, pid) {
			t.Errorf("%s: process %d outlived the task", tc.cmd, pid)
		}
	}
}
