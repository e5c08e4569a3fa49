package conformance

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"resilience.ops/internal/modtest"
)

// TestCommandLineIgnoresWorkingDirectory: a CI job runs the tools in a checkout that any pull
// request can add files to. A file named like a word of the command line (status, lock, -h,
// --wait) must never be read as module arguments: module mode is entered only the way ansible-core
// runs a binary module (module.ArgsFile). Each case failed before: the file's arguments were run.
func TestCommandLineIgnoresWorkingDirectory(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binaries")
	}
	guardBin := modtest.BuildBinary(t, "resilience.ops/internal/cmd/qos_guard")
	backoffBin := modtest.BuildBinary(t, "resilience.ops/internal/cmd/retry_backoff")
	managerBin := modtest.BuildBinary(t, "resilience.ops/internal/cmd/retry_manager")
	releaseBin := modtest.BuildBinary(t, "resilience.ops/internal/cmd/qos_guard_release")

	// checkout returns a directory holding hostile files (name -> JSON arguments).
	checkout := func(t *testing.T, files map[string]any) string {
		t.Helper()
		dir := t.TempDir()
		for name, args := range files {
			b, _ := json.Marshal(args)
			if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	command := func(dir, bin string, env []string, args ...string) *exec.Cmd {
		cmd := exec.Command(bin, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), env...)
		return cmd
	}
	exitCode := func(err error) int {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			return -1
		}
		return 0
	}

	t.Run("qos_guard status beside a file named status that force-unlocks", func(t *testing.T) {
		g := filepath.Join(t.TempDir(), "guard")
		if out, err := exec.Command(guardBin, "--path", g, "lock", "30", "--reason", "rollback").CombinedOutput(); err != nil {
			t.Fatalf("lock: %v: %s", err, out)
		}
		dir := checkout(t, map[string]any{"status": map[string]any{"path": g, "state": "unlocked", "force": true}})
		out, err := command(dir, guardBin, []string{"QOS_GUARD_FILE=" + g}, "status").CombinedOutput()
		if code := exitCode(err); code != 1 || !strings.Contains(string(out), "is locked until") {
			t.Errorf("qos_guard status: exit %d, want 1 (locked): %s", code, out)
		}
		if _, err := os.Stat(g); err != nil {
			t.Errorf("the guard is gone: %v", err)
		}
	})

	t.Run("qos_guard lock beside a file named lock that names another file", func(t *testing.T) {
		victim := filepath.Join(t.TempDir(), "victim")
		if err := os.WriteFile(victim, []byte("precious\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		g := filepath.Join(t.TempDir(), "guard")
		dir := checkout(t, map[string]any{"lock": map[string]any{"path": victim, "state": "locked", "force": true}})
		out, err := command(dir, guardBin, []string{"QOS_GUARD_FILE=" + g}, "lock").CombinedOutput()
		if err != nil {
			t.Fatalf("qos_guard lock: %v: %s", err, out)
		}
		if b, _ := os.ReadFile(victim); string(b) != "precious\n" {
			t.Errorf("the file named in ./lock was overwritten: %q", b)
		}
		if _, err := os.Stat(g); err != nil {
			t.Errorf("the guard of $QOS_GUARD_FILE was not locked: %v", err)
		}
	})

	for _, bin := range []string{backoffBin, managerBin} {
		t.Run(filepath.Base(bin)+" -h beside a file named -h that runs a command", func(t *testing.T) {
			pwned := filepath.Join(t.TempDir(), "pwned")
			dir := checkout(t, map[string]any{"-h": map[string]any{"operation": "x", "argv": []string{"touch", pwned}}})
			out, err := command(dir, bin, nil, "-h").CombinedOutput()
			if err != nil || !strings.Contains(string(out), "usage: retry_backoff") {
				t.Errorf("%s -h: %v, want the usage: %s", filepath.Base(bin), err, out)
			}
			if _, err := os.Stat(pwned); err == nil {
				t.Errorf("the command of ./-h ran")
			}
		})
	}

	t.Run("qos_guard_release --wait beside a file named --wait that names other servers", func(t *testing.T) {
		var attacker atomic.Int32
		evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			attacker.Add(1)
			w.WriteHeader(http.StatusServiceUnavailable)
		}))
		defer evil.Close()
		queried := make(chan struct{})
		var once atomic.Bool
		legit := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if once.CompareAndSwap(false, true) {
				close(queried)
			}
			w.WriteHeader(http.StatusServiceUnavailable) // unknown: --wait keeps polling
		}))
		defer legit.Close()

		// A guard locked long enough ago that its window can be evaluated.
		g := filepath.Join(t.TempDir(), "guard")
		lock := `{"id": "0123456789abcdef", "locked_at": "2020-01-01T00:00:00Z", "window_start": "2020-01-01T00:00:00Z", "expires_at": "2099-01-01T00:00:00Z", "owner": "ci@runner", "reason": "rollback", "window_minutes": 60}`
		if err := os.WriteFile(g, []byte(lock), 0o600); err != nil {
			t.Fatal(err)
		}
		dir := checkout(t, map[string]any{"--wait": map[string]any{"path": g, "prom_url": evil.URL, "loki_url": evil.URL, "window": "1m"}})
		cmd := command(dir, releaseBin, []string{"QOS_GUARD_FILE=" + g, "PROMETHEUS_URL=" + legit.URL, "LOKI_URL=" + legit.URL}, "--wait")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		select {
		case <-queried: // the command line's servers were asked: it runs as the command line
			_ = cmd.Process.Kill()
			<-exited
		case err := <-exited:
			t.Fatalf("qos_guard_release --wait ended without asking $PROMETHEUS_URL (%v): %s", err, out.String())
		case <-time.After(2 * time.Minute): // a safety net against a hang, not a measurement
			_ = cmd.Process.Kill()
			t.Fatalf("qos_guard_release --wait never asked $PROMETHEUS_URL: %s", out.String())
		}
		if n := attacker.Load(); n != 0 {
			t.Errorf("the servers named in ./--wait got %d requests", n)
		}
		if b, err := os.ReadFile(g); err != nil || !bytes.Equal(b, []byte(lock)) {
			t.Errorf("the guard changed: %q, %v", b, err)
		}
	})
}
