//go:build unix

package retrymod

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestAttemptsReachSyslog: every attempt is logged with its error type and the delay before the
// next one, and a secret parameter never shows.
func TestAttemptsReachSyslog(t *testing.T) {
	dir, err := os.MkdirTemp("", "sl")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "log")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	t.Setenv("RESILIENCE_OPS_SYSLOG_ADDR", "unixgram:"+sock)

	res, code := runModule(t, newFakeClock(), map[string]any{
		"operation": "vmware_vm_create", "cmd": flaky(t, 3, "Connection timeout to vCenter"), "use_shell": true,
		"_ansible_module_name": "resilience.ops.retry_manager",
	})
	if code != 0 {
		t.Fatalf("exit %d: %v", code, res["msg"])
	}
	var got []string
	buf := make([]byte, 4096)
	for {
		_ = conn.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		n, err := conn.Read(buf)
		if err != nil {
			break
		}
		got = append(got, strings.TrimSpace(string(buf[:n])))
	}
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
