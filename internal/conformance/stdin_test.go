package conformance

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"resilience.ops/internal/modtest"
	"resilience.ops/internal/module"
)

// TestArgumentsOnStdin: the action plugin runs the copy of a module that it keeps in the host's
// module cache as "<cache>/AnsiballZ_<name> -" with the task's arguments on standard input. Each
// module then acts on those arguments, and only on them: a file named "-" or "args" in the
// working directory is never read. The same binary under an installed tool's name stays a command
// line with "-" as its argument.
func TestArgumentsOnStdin(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binaries")
	}
	guardBin := modtest.BuildBinary(t, "resilience.ops/internal/cmd/qos_guard")
	managerBin := modtest.BuildBinary(t, "resilience.ops/internal/cmd/retry_manager")
	releaseBin := modtest.BuildBinary(t, "resilience.ops/internal/cmd/qos_guard_release")

	// cached returns bin linked into a cache-like directory as AnsiballZ_<name>.
	cached := func(t *testing.T, bin string) string {
		t.Helper()
		p := filepath.Join(t.TempDir(), "0123abcd", module.ModulePrefix+filepath.Base(bin))
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Link(bin, p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// hostile is a working directory whose files "-" and "args" would unlock a guard.
	hostile := func(t *testing.T, guard string) string {
		dir := t.TempDir()
		b, _ := json.Marshal(map[string]any{"path": guard, "state": "unlocked", "force": true})
		for _, name := range []string{"-", "args"} {
			if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	result := func(t *testing.T, out []byte) map[string]any {
		t.Helper()
		var res map[string]any
		if err := json.Unmarshal(out, &res); err != nil {
			t.Fatalf("stdout is not one JSON object: %v: %q", err, out)
		}
		return res
	}

	t.Run("qos_guard locks with the arguments from stdin", func(t *testing.T) {
		g := filepath.Join(t.TempDir(), "guard")
		cmd := exec.Command(cached(t, guardBin), module.Stdin)
		cmd.Dir = hostile(t, g)
		cmd.Stdin = strings.NewReader(`{"path": "` + g + `", "state": "locked", "minutes": 5, "reason": "from stdin", "_ansible_check_mode": false}` + "\n")
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		if res := result(t, out); res["changed"] != true || res["locked"] != true {
			t.Errorf("result %v, want changed and locked", res)
		}
		if b, err := os.ReadFile(g); err != nil || !strings.Contains(string(b), "from stdin") {
			t.Errorf("the guard was not locked with the reason from stdin: %q, %v", b, err)
		}
	})

	t.Run("check mode from stdin changes nothing", func(t *testing.T) {
		g := filepath.Join(t.TempDir(), "guard")
		cmd := exec.Command(cached(t, guardBin), module.Stdin)
		cmd.Stdin = strings.NewReader(`{"path": "` + g + `", "state": "locked", "_ansible_check_mode": true}`)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		if res := result(t, out); res["changed"] != true {
			t.Errorf("result %v, want changed (predicted)", res)
		}
		if _, err := os.Stat(g); !os.IsNotExist(err) {
			t.Errorf("check mode wrote the guard: %v", err)
		}
	})

	for _, bin := range []string{managerBin, releaseBin} {
		t.Run(filepath.Base(bin)+" rejects bad input on stdin as on a file", func(t *testing.T) {
			cmd := exec.Command(cached(t, bin), module.Stdin)
			cmd.Stdin = strings.NewReader(`{"no_such_option": 1}`)
			out, _ := cmd.Output()
			res := result(t, out)
			if msg, _ := res["msg"].(string); res["failed"] != true || !strings.Contains(msg, "no_such_option") {
				t.Errorf("result %v, want a failure naming no_such_option", res)
			}
		})
	}

	t.Run("an empty stdin fails the task", func(t *testing.T) {
		cmd := exec.Command(cached(t, guardBin), module.Stdin)
		out, _ := cmd.Output()
		if res := result(t, out); res["failed"] != true {
			t.Errorf("result %v, want failed", res)
		}
	})

	t.Run("qos_guard - under its installed name is the command line", func(t *testing.T) {
		g := filepath.Join(t.TempDir(), "guard")
		if out, err := exec.Command(guardBin, "--path", g, "lock", "30").CombinedOutput(); err != nil {
			t.Fatalf("lock: %v: %s", err, out)
		}
		cmd := exec.Command(guardBin, module.Stdin)
		cmd.Dir = hostile(t, g)
		cmd.Env = append(os.Environ(), "QOS_GUARD_FILE="+g)
		b, _ := json.Marshal(map[string]any{"path": g, "state": "unlocked", "force": true})
		cmd.Stdin = strings.NewReader(string(b))
		out, _ := cmd.CombinedOutput()
		if strings.HasPrefix(strings.TrimSpace(string(out)), "{") {
			t.Errorf("qos_guard - ran as a module: %s", out)
		}
		if _, err := os.Stat(g); err != nil {
			t.Errorf("the guard was unlocked: %v", err)
		}
	})
}
