package modtest

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// SyslogSink is a local syslog socket that the module runtime is pointed at (through
// RESILIENCE_OPS_SYSLOG_ADDR), so that tests read back what modules log.
type SyslogSink struct{ conn *net.UnixConn }

// ListenSyslog starts a sink for the rest of t; t must not be parallel (it sets an environment
// variable).
func ListenSyslog(t *testing.T) *SyslogSink {
	t.Helper()
	dir, err := os.MkdirTemp("", "sl") // short: socket paths are limited to 108 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "log")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	t.Setenv("RESILIENCE_OPS_SYSLOG_ADDR", "unixgram:"+sock)
	return &SyslogSink{conn: conn}
}

// Read returns the messages received so far, trimmed, waiting up to wait for each next one.
func (s *SyslogSink) Read(wait time.Duration) []string {
	var out []string
	buf := make([]byte, 8192)
	for {
		_ = s.conn.SetReadDeadline(time.Now().Add(wait))
		n, err := s.conn.Read(buf)
		if err != nil {
			return out
		}
		out = append(out, strings.TrimSpace(string(buf[:n])))
	}
}

// BuildBinary compiles the main package pkg (an import path) as the Makefile does, for tests and
// benchmarks that run real processes, and returns its path.
func BuildBinary(tb testing.TB, pkg string) string {
	tb.Helper()
	bin := filepath.Join(tb.TempDir(), filepath.Base(pkg))
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("go build %s: %v\n%s", pkg, err, out)
	}
	return bin
}

// HangDeadline bounds how long Finishes waits: far longer than anything a test runs, even on a
// loaded machine, so that it only ever fires on a hang.
const HangDeadline = 2 * time.Minute

// Finishes runs f and fails t when f has not returned after HangDeadline. It is a safety net
// against a hang, not a measurement: a test shows that a timeout holds by making the call hang
// forever without it (a server that never answers, a timeout far longer than HangDeadline on the
// path that must not be taken), never by comparing how long the call took.
func Finishes(t testing.TB, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); f() }()
	select {
	case <-done:
	case <-time.After(HangDeadline):
		t.Fatalf("still running after %s: it hangs", HangDeadline)
	}
}
