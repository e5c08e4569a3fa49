//go:build unix

package retrymod

import (
	"strings"
	"testing"
	"time"

	"resilience.ops/internal/modtest"
)

// TestAttemptsReachSyslog: every attempt is logged with its error type and the delay before the
// next one, and a secret parameter never shows.
func TestAttemptsReachSyslog(t *testing.T) {
	sink := modtest.ListenSyslog(t)

	res, code := runModule(t, newFakeClock(), map[string]any{
		"operation": "vmware_vm_create", "cmd": flaky(t, 3, "Connection timeout to vCenter"), "use_shell": true,
		"_ansible_module_name": "resilience.ops.retry_manager",
	})
	if code != 0 {
		t.Fatalf("exit %d: %v", code, res["msg"])
	}
	got := sink.Read(300 * time.Millisecond)
	want := []string{
		"retry vmware_vm_create: attempt 1 of 3 failed with connection_error; attempt 2 follows in 5s: Connection timeout to vCenter",
		"retry vmware_vm_create: attempt 2 of 3 failed with connection_error; attempt 3 follows in 10s: Connection timeout to vCenter",
		"retry vmware_vm_create: attempt 3 of 3 succeeded",
	}
	if len(got) != len(want) {
		t.Fatalf("syslog messages = %q; want %d", got, len(want))
	}
	for i, w := range want {
		if !strings.HasSuffix(got[i], w) || !strings.Contains(got[i], "ansible-resilience.ops.retry_manager") {
			t.Errorf("message %d = %q; want it to end with %q", i, got[i], w)
		}
	}
}
