package qosguard

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"resilience.ops/internal/modtest"
)

// A user that is not root keeps a guard in a directory of its own (made 0700 by the program in a
// directory like /tmp); root refuses that directory, which the user could change.
func TestNonRootUserKeepsItsOwnGuard(t *testing.T) {
	a := modtest.NewAttacker(t)
	built := modtest.BuildBinary(t, "resilience.ops/internal/cmd/qos_guard")
	bin := filepath.Join(modtest.PrivateDir(t), "qos_guard")
	data, err := os.ReadFile(built)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(modtest.SharedDir(t), "mine", "qos.guard")

	if out, err := a.Command(bin, "--path", path, "--reason", "own guard", "lock", "5").CombinedOutput(); err != nil {
		t.Fatalf("lock as %s: %v\n%s", a.Name, err, out)
	}
	out, err := a.Command(bin, "--path", path, "status").CombinedOutput()
	if code := exitCode(err); code != 1 || !strings.Contains(string(out), "own guard") {
		t.Errorf("status as %s: exit %d, %s; want locked (1) with the reason", a.Name, code, out)
	}
	for _, p := range []struct {
		path string
		mode os.FileMode
	}{{filepath.Dir(path), 0o700 | os.ModeDir}, {path, 0o600}, {path + ".lock", 0o600}, {path + ".audit.jsonl", 0o600}} {
		fi, err := os.Lstat(p.path)
		if err != nil {
			t.Fatal(err)
		}
		if st := fi.Sys().(*syscall.Stat_t); st.Uid != a.UID || fi.Mode() != p.mode {
			t.Errorf("%s: uid %d mode %v, want uid %d mode %v", p.path, st.Uid, fi.Mode(), a.UID, p.mode)
		}
	}

	// Root does not use it: the user could replace what is in it.
	out, err = exec.Command(bin, "--path", path, "status").CombinedOutput()
	if code := exitCode(err); code != 1 || !strings.Contains(string(out), "belongs to uid") || !strings.Contains(string(out), a.Name) {
		t.Errorf("status as root: exit %d, %s; want locked (1), refusing the user's directory", code, out)
	}
}

func exitCode(err error) int {
	if err == nil {
		return 0
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	return -1
}
