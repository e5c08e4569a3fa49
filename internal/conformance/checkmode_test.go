package conformance

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"resilience.ops/internal/modtest"
)

// TestCheckModeInEveryForm: ansible-core's Python modules read `_ansible_check_mode: "yes"` (or
// 1, "on", "1") as check mode; the binaries did not, and wrote for real. Run as ansible-core runs
// them, a guard lock and a command in check mode change nothing, and a value that is not a boolean
// fails the task without running it.
func TestCheckModeInEveryForm(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binaries")
	}
	guardBin := modtest.BuildBinary(t, "resilience.ops/internal/cmd/qos_guard")
	managerBin := modtest.BuildBinary(t, "resilience.ops/internal/cmd/retry_manager")
	runModule := func(t *testing.T, bin string, args map[string]any) map[string]any {
		t.Helper()
		b, _ := json.Marshal(args)
		out, _ := modtest.ModuleCommand(t, bin, b).Output()
		var res map[string]any
		if err := json.Unmarshal(out, &res); err != nil {
			t.Fatalf("not one JSON object: %v: %q", err, out)
		}
		return res
	}
	for _, check := range []any{true, "yes", "Yes", "1", "on", "true", "t", "y", 1} {
		dir := t.TempDir()
		guard, marker := filepath.Join(dir, "guard"), filepath.Join(dir, "ran")
		res := runModule(t, guardBin, map[string]any{"path": guard, "state": "locked", "reason": "rollback",
			"_ansible_check_mode": check})
		if res["failed"] == true || res["changed"] != true {
			t.Errorf("qos_guard lock, check mode %#v: %v; want a predicted change", check, res)
		}
		res = runModule(t, managerBin, map[string]any{"operation": "op", "argv": []any{"touch", marker},
			"state_dir": filepath.Join(dir, "state"), "_ansible_check_mode": check})
		if res["failed"] == true {
			t.Errorf("retry_manager, check mode %#v: %v", check, res)
		}
		if files := tree(t, dir); len(files) != 0 {
			t.Errorf("check mode %#v wrote %v", check, files)
		}
	}
	for _, check := range []any{"maybe", "", 2, "1.0", []any{}} {
		dir := t.TempDir()
		for _, r := range []map[string]any{
			runModule(t, guardBin, map[string]any{"path": filepath.Join(dir, "guard"), "state": "locked", "_ansible_check_mode": check}),
			runModule(t, managerBin, map[string]any{"operation": "op", "argv": []any{"touch", filepath.Join(dir, "ran")},
				"state_dir": filepath.Join(dir, "state"), "_ansible_check_mode": check}),
		} {
			if msg, _ := r["msg"].(string); r["failed"] != true || !strings.Contains(msg, "_ansible_check_mode") {
				t.Errorf("check mode %#v: %v; want a failure naming _ansible_check_mode", check, r)
			}
		}
		if files := tree(t, dir); len(files) != 0 {
			t.Errorf("check mode %#v wrote %v", check, files)
		}
	}
	// Every module fails closed the same way, before its handler runs.
	for _, m := range modules {
		dir := t.TempDir()
		args := m.valid(dir)
		args["_ansible_no_log"] = "sometimes"
		code, res, _ := run(t, m, dir, args)
		if msg, _ := res["msg"].(string); code != 1 || !strings.Contains(msg, "_ansible_no_log") {
			t.Errorf("%s with _ansible_no_log %q: exit %d, %v", m.name, "sometimes", code, res)
		}
		if files := tree(t, dir); len(files) != 0 {
			t.Errorf("%s wrote %v", m.name, files)
		}
	}
}
