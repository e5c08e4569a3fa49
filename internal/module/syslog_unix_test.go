//go:build unix

package module

import (
	"encoding/json"
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

// TestSyslogCannotForgeALine: a value that reaches a log message (a guard's reason, a server's
// error) cannot end the line and start a forged message: control characters are escaped. Before,
// a reason with a newline wrote a second line to the host's syslog.
func TestSyslogCannotForgeALine(t *testing.T) {
	conn := listenSyslog(t)
	forged := "rollback\n<13>Jan  1 00:00:00 host sudo: root : COMMAND=/bin/true\rX\x00\x1b[2J\u2028\u0085\xff end"
	h := func(c *Ctx) (Result, error) {
		c.Log("guard locked, reason: %s", c.Params.Str("reason"))
		return Result{}, nil
	}
	b, _ := json.Marshal(map[string]any{"reason": forged})
	if code, _, out := run(t, string(b), Spec{{Name: "reason"}}, h); code != 0 {
		t.Fatalf("exit %d: %s", code, out)
	}
	msg, ok := readSyslog(conn, 5*time.Second)
	if !ok {
		t.Fatal("no syslog message")
	}
	// log/syslog ends each message with one newline; JSON turned \xff into U+FFFD.
	body := strings.TrimSuffix(msg, "\n")
	want := `guard locked, reason: rollback\n<13>Jan  1 00:00:00 host sudo: root : COMMAND=/bin/true\rX\x00\x1b[2J\u2028\u0085\ufffd end`
	if !strings.HasSuffix(body, want) {
		t.Errorf("syslog message = %q, want it to end with %q", body, want)
	}
	for _, r := range body {
		if r < 0x20 || r == 0x7f || r == '\u2028' || r == '\u0085' {
			t.Errorf("a control character %U reached syslog: %q", r, body)
		}
	}
	if extra, ok := readSyslog(conn, 100*time.Millisecond); ok {
		t.Errorf("a second message was written: %q", extra)
	}
}

func TestLogLine(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"plain text, é and 日本 and \\n": "plain text, é and 日本 and \\n",
		"a\nb":                         `a\nb`,
		"a\r\nb\tc":                    `a\r\nb\tc`,
		"\x00\x07\x1b\x7f":             `\x00\x07\x1b\x7f`,
		"\u0085\u009b\u2028\u2029":     `\u0085\u009b\u2028\u2029`,
		"bad \xc3 utf-8 \xff":          `bad \xc3 utf-8 \xff`,
		"":                             "",
	} {
		if got := logLine(in); got != want {
			t.Errorf("logLine(%q) = %q, want %q", in, got, want)
		}
	}
}
