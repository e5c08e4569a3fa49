//go:build unix

package qosguard

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"resilience.ops/internal/modtest"
)

// TestGuardChangesReachSyslog runs the module as ansible does and reads its log lines back from a
// local syslog socket.
func TestGuardChangesReachSyslog(t *testing.T) {
	sink := modtest.ListenSyslog(t)

	guardPath := filepath.Join(t.TempDir(), "g")
	for _, args := range []string{
		`{"path": "` + guardPath + `", "state": "locked", "reason": "rollback 9", "_ansible_module_name": "resilience.ops.qos_guard", "_ansible_syslog_facility": "LOG_USER"}`,
		`{"path": "` + guardPath + `", "state": "locked", "reason": "rollback 9", "_ansible_check_mode": true}`,
		`{"path": "` + guardPath + `", "state": "unlocked", "reason": "stable again"}`,
	} {
		dir := t.TempDir()
		f := filepath.Join(dir, "args")
		if err := os.WriteFile(f, []byte(args), 0o600); err != nil {
			t.Fatal(err)
		}
		var out strings.Builder
		if code := Main([]string{filepath.Join(dir, "AnsiballZ_qos_guard"), f}, &out, &out, func(string) string { return "" }); code != 0 {
			t.Fatalf("exit %d: %s", code, out.String())
		}
	}
	got := sink.Read(300 * time.Millisecond)
	if len(got) != 2 {
		t.Fatalf("want 2 messages (lock, unlock; none for the unchanged check-mode run), got %q", got)
	}
	if !strings.Contains(got[0], "ansible-resilience.ops.qos_guard") || !strings.Contains(got[0], "is locked until") || !strings.Contains(got[0], "reason: rollback 9") {
		t.Errorf("lock message = %q", got[0])
	}
	if !strings.Contains(got[1], "unlocked (was lock") || !strings.Contains(got[1], `unlock reason: "stable again"`) {
		t.Errorf("unlock message = %q", got[1])
	}
}

// TestGuardReasonCannotForgeASyslogLine: a reason with a newline used to write a second, forged
// line to the host's syslog. The lock's message now holds the reason escaped, on one line.
func TestGuardReasonCannotForgeASyslogLine(t *testing.T) {
	sink := modtest.ListenSyslog(t)
	dir := t.TempDir()
	f := filepath.Join(dir, "args")
	args := `{"path": "` + filepath.Join(dir, "g") + `", "state": "locked", "reason": "rollback\n<13>Jan  1 00:00:00 host qos_guard: QoS guard unlocked\r"}`
	if err := os.WriteFile(f, []byte(args), 0o600); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if code := Main([]string{filepath.Join(dir, "AnsiballZ_qos_guard"), f}, &out, &out, func(string) string { return "" }); code != 0 {
		t.Fatalf("exit %d: %s", code, out.String())
	}
	got := sink.Read(300 * time.Millisecond)
	if len(got) != 1 || strings.ContainsAny(got[0], "\r\n") ||
		!strings.Contains(got[0], `reason: rollback\n<13>Jan  1 00:00:00 host qos_guard: QoS guard unlocked\r`) {
		t.Errorf("want one message with the reason escaped, got %q", got)
	}
}
