//go:build unix

package module

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// listenSyslog is a local syslog socket; the runtime is pointed at it through syslogAddrEnv.
func listenSyslog(t *testing.T) *net.UnixConn {
	t.Helper()
	dir, err := os.MkdirTemp("", "sl") // short: socket paths are limited to 108 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "log")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	t.Setenv(syslogAddrEnv, "unixgram:"+path)
	return conn
}

func readSyslog(conn *net.UnixConn, wait time.Duration) (string, bool) {
	buf := make([]byte, 4096)
	_ = conn.SetReadDeadline(time.Now().Add(wait))
	n, err := conn.Read(buf)
	if err != nil {
		return "", false
	}
	return string(buf[:n]), true
}

func TestLogToSyslog(t *testing.T) {
	conn := listenSyslog(t)
	spec := Spec{{Name: "token", Type: TypeStr, Secret: true}}
	h := func(c *Ctx) (Result, error) {
		c.Log("guard locked by deploy with token %s", c.Params.Str("token"))
		return Result{}, nil
	}
	if code, _, out := run(t, `{"token": "tok-123456", "_ansible_module_name": "resilience.ops.qos_guard", "_ansible_syslog_facility": "LOG_LOCAL0"}`, spec, h); code != 0 {
		t.Fatalf("exit %d: %s", code, out)
	}
	msg, ok := readSyslog(conn, 5*time.Second)
	if !ok {
		t.Fatal("no syslog message")
	}
	// LOG_LOCAL0 (16<<3) | LOG_INFO (6) = 134
	if !strings.HasPrefix(msg, "<134>") || !strings.Contains(msg, "ansible-resilience.ops.qos_guard") ||
		!strings.Contains(msg, "guard locked by deploy with token ********") {
		t.Errorf("syslog message = %q", msg)
	}
	if strings.Contains(msg, "tok-123456") {
		t.Errorf("the secret reached syslog: %q", msg)
	}
}

func TestNoLogWritesNothingToSyslog(t *testing.T) {
	conn := listenSyslog(t)
	h := func(c *Ctx) (Result, error) {
		c.Log("should not be logged")
		return Result{}, nil
	}
	run(t, `{"_ansible_no_log": true}`, Spec{}, h)
	if msg, ok := readSyslog(conn, 300*time.Millisecond); ok {
		t.Errorf("a no_log task logged %q", msg)
	}
}
