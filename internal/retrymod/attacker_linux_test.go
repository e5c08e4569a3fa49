package retrymod

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"resilience.ops/internal/modtest"
	"resilience.ops/internal/resilience"
)

// Issue 16, finding 2, end to end: the built retry_manager run as root (as ansible-core runs it,
// on an argument file) against state that a real unprivileged user prepared.

// runBinary runs bin on args with extra environment and returns the decoded result. A watchdog
// kills it long after any sane bound: the runs under test used to hang for ever.
func runBinary(t *testing.T, bin string, args map[string]any, env ...string) map[string]any {
	t.Helper()
	b, err := json.Marshal(args)
	if err != nil {
		t.Fatal(err)
	}
	prog, f := modtest.ModuleDir(t, bin, b) // as ansible-core runs a binary module
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, prog, f)
	cmd.Env = append(os.Environ(), env...)
	out, _ := cmd.Output()
	if ctx.Err() != nil {
		t.Fatalf("retry_manager hangs (killed by the watchdog); output so far: %s", out)
	}
	var res map[string]any
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("output is not one JSON object: %v: %q", err, out)
	}
	return res
}

func warningsOf(res map[string]any) string {
	var ws []string
	for _, w := range asList(res["warnings"]) {
		s, _ := w.(string)
		ws = append(ws, s)
	}
	return strings.Join(ws, "\n")
}

func asList(v any) []any { l, _ := v.([]any); return l }

func TestAttackerStateEndToEnd(t *testing.T) {
	a := modtest.NewAttacker(t)
	bin := modtest.BuildBinary(t, "resilience.ops/internal/cmd/retry_manager")

	t.Run("a state directory the attacker made, then an open breaker planted in it", func(t *testing.T) {
		shared := modtest.SharedDir(t)
		stateDir := filepath.Join(shared, "ansible_retry")
		a.Run(t, "mkdir", "-m", "0755", stateDir)
		marker := filepath.Join(modtest.PrivateDir(t), "ran")
		args := map[string]any{
			"operation": "vcenter01", "argv": []string{"sh", "-c", "echo ran >> " + marker},
			"state_dir": stateDir, "track_session": true, "log_individual_attempts": true,
			"circuit_breaker": map[string]any{"enabled": true}, "retry_budget": map[string]any{"enabled": true},
			"_ansible_check_mode": false,
		}
		res := runBinary(t, bin, args)
		if res["failed"] == true {
			t.Fatalf("the run failed: %v", res["msg"])
		}
		if w := warningsOf(res); !strings.Contains(w, stateDir) || !strings.Contains(w, a.Name) {
			t.Errorf("warnings %q do not name the refused directory and its owner", w)
		}
		if ents, _ := os.ReadDir(stateDir); len(ents) != 0 {
			t.Fatalf("root created %v in the attacker's state directory", ents)
		}

		// The attacker makes circuit/ a link to a directory of theirs that holds the key's
		// breaker, open until 9999.
		doc := map[string]any{"format_version": resilience.FormatVersion, "key": "vcenter01",
			"circuit_breaker": map[string]any{"state": "open", "generation": 1, "open_until": "9999-01-01T00:00:00Z",
				"consecutive_failures": 0, "opens": 1}}
		data, _ := json.Marshal(doc)
		src := filepath.Join(modtest.PrivateDir(t), "open.json")
		if err := os.WriteFile(src, data, 0o644); err != nil {
			t.Fatal(err)
		}
		mine := filepath.Join(shared, "mine")
		a.Run(t, "mkdir", "-m", "0755", mine)
		a.Run(t, "cp", src, filepath.Join(mine, resilience.FileName("vcenter01")+".json"))
		a.Run(t, "ln", "-s", mine, filepath.Join(stateDir, "circuit"))

		for i := range 2 {
			res := runBinary(t, bin, args)
			if res["failed"] == true || res["error_type"] == "circuit_open" {
				t.Fatalf("run %d after the attacker planted an open breaker: failed %v, error_type %v: %v", i, res["failed"], res["error_type"], res["msg"])
			}
		}
		if b, _ := os.ReadFile(marker); strings.Count(string(b), "ran") != 3 {
			t.Errorf("the command ran %d times, want 3", strings.Count(string(b), "ran"))
		}
	})

	t.Run("a session lock the attacker holds", func(t *testing.T) {
		stateDir := modtest.PrivateDir(t) // root's, readable by others
		marker := filepath.Join(modtest.PrivateDir(t), "ran")
		const id = "retry_1700000000_123456"
		args := map[string]any{
			"operation": "deploy", "argv": []string{"sh", "-c", "echo ran >> " + marker},
			"state_dir": stateDir, "track_session": true, "session_id": id, "_ansible_check_mode": false,
		}
		if res := runBinary(t, bin, args); res["failed"] == true {
			t.Fatalf("first run failed: %v", res["msg"])
		}
		lock := filepath.Join(stateDir, "retry_session_"+id+".json.lock")
		if err := os.Chmod(lock, 0o644); err != nil { // as another tool may have left it
			t.Fatal(err)
		}
		a.HoldLock(t, lock)
		res := runBinary(t, bin, args, "RESILIENCE_OPS_LOCK_WAIT=0s")
		if res["failed"] == true {
			t.Fatalf("the run failed: %v", res["msg"])
		}
		w := warningsOf(res)
		for _, want := range []string{"was not recorded", lock, a.Name} {
			if !strings.Contains(w, want) {
				t.Errorf("warnings %q do not contain %q", w, want)
			}
		}
		if b, _ := os.ReadFile(marker); strings.Count(string(b), "ran") != 2 {
			t.Errorf("the command ran %d times, want 2", strings.Count(string(b), "ran"))
		}
	})
}
