package qosguard

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type run struct {
	code           int
	stdout, stderr string
}

func runCLI(t *testing.T, env map[string]string, args ...string) run {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(append([]string{"qos_guard"}, args...), &out, &errb, func(k string) string { return env[k] })
	return run{code, out.String(), errb.String()}
}

func TestCLIExitCodes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	env := map[string]string{"QOS_GUARD_FILE": filepath.Join(dir, "g")}
	steps := []struct {
		args     []string
		code     int
		contains string
	}{
		{[]string{"status"}, 0, "is unlocked"},
		{[]string{"lock", "10", "--reason", "rollback 42"}, 0, "reason: rollback 42"},
		{[]string{"status"}, 1, "(10m0s remaining)"},
		{[]string{"lock", "5"}, 0, "unchanged"}, // never shortened
		{[]string{"--force", "lock", "5"}, 0, "(5m0s remaining)"},
		{[]string{"unlock", "--id", "not-the-id"}, 1, "held by lock"},
		{[]string{"status"}, 1, "locked"},
		{[]string{"unlock"}, 0, "unlocked (was lock"},
		{[]string{"unlock"}, 0, "was not locked"},
		{[]string{"status"}, 0, "unlocked"},
	}
	for _, s := range steps {
		r := runCLI(t, env, s.args...)
		if r.code != s.code || !strings.Contains(r.stdout+r.stderr, s.contains) {
			t.Fatalf("qos_guard %s: exit %d, output %q%q; want exit %d and %q",
				strings.Join(s.args, " "), r.code, r.stdout, r.stderr, s.code, s.contains)
		}
		if n := strings.Count(strings.TrimSpace(r.stdout+r.stderr), "\n"); n != 0 {
			t.Errorf("qos_guard %s: want one line, got %q", strings.Join(s.args, " "), r.stdout+r.stderr)
		}
	}
}

func TestCLIUsageErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "g")
	for _, tc := range []struct {
		name     string
		env      map[string]string
		args     []string
		contains string
	}{
		{"no command", nil, nil, "missing command"},
		{"unknown command", nil, []string{"open"}, `unknown command "open"`},
		{"minutes not a number", nil, []string{"lock", "abc"}, `minutes must be a whole number of minutes between 1 and 10080, got "abc"`},
		{"minutes zero", nil, []string{"lock", "0"}, "between 1 and 10080"},
		{"minutes too large", nil, []string{"lock", "10081"}, "between 1 and 10080"},
		{"bad env window", map[string]string{"QOS_GUARD_WINDOW": "15x"}, []string{"lock"}, `QOS_GUARD_WINDOW must be a whole number`},
		{"extra argument", nil, []string{"status", "now"}, "status takes no argument"},
		{"unknown flag", nil, []string{"--minutes", "3", "lock"}, "flag provided but not defined"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{"QOS_GUARD_FILE": path}
			for k, v := range tc.env {
				env[k] = v
			}
			r := runCLI(t, env, tc.args...)
			if r.code != exitUsage || !strings.Contains(r.stderr, tc.contains) {
				t.Errorf("exit %d, stderr %q; want exit 2 and %q", r.code, r.stderr, tc.contains)
			}
			if _, err := os.Stat(path); err == nil {
				t.Errorf("a usage error wrote the guard file")
			}
		})
	}
}

func TestCLIEnvironmentAndJSON(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	env := map[string]string{"QOS_GUARD_FILE": filepath.Join(dir, "g"), "QOS_GUARD_WINDOW": "7"}
	if r := runCLI(t, env, "lock"); r.code != 0 {
		t.Fatalf("lock: %+v", r)
	}
	r := runCLI(t, env, "status", "--json")
	if r.code != 1 {
		t.Fatalf("status: exit %d, want 1", r.code)
	}
	var got Return
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("status --json: %v: %q", err, r.stdout)
	}
	if !got.Locked || got.WindowMinutes != 7 || got.Path != env["QOS_GUARD_FILE"] {
		t.Errorf("status --json = %+v; want locked for 7 minutes at %s", got, env["QOS_GUARD_FILE"])
	}
}

func TestCLICorruptGuardCountsAsLocked(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "g")
	if err := os.WriteFile(path, []byte("{garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"QOS_GUARD_FILE": path}
	if r := runCLI(t, env, "status"); r.code != 1 || !strings.Contains(r.stderr, "corrupt") {
		t.Errorf("status of a corrupt guard: %+v; want exit 1 and a message naming it corrupt", r)
	}
	if r := runCLI(t, env, "unlock"); r.code != 1 {
		t.Errorf("unlock of a corrupt guard without --force: exit %d, want 1", r.code)
	}
	if b, _ := os.ReadFile(path); string(b) != "{garbage" {
		t.Errorf("the corrupt guard was changed: %q", b)
	}
	if r := runCLI(t, env, "unlock", "--force"); r.code != 0 {
		t.Errorf("unlock --force: %+v", r)
	}
	if r := runCLI(t, env, "status"); r.code != 0 {
		t.Errorf("status after forced unlock: %+v", r)
	}
}

func TestCLIHelp(t *testing.T) {
	t.Parallel()
	r := runCLI(t, nil, "-h")
	if r.code != 0 || !strings.Contains(r.stdout, "usage: qos_guard") || !strings.Contains(r.stdout, "-reason") {
		t.Errorf("-h: %+v", r)
	}
}
