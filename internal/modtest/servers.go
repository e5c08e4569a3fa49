package modtest

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"
)

// DebianBinary returns /usr/bin/<name> (or <name> on the PATH), a program of Debian's package pkg.
// A missing program skips the test locally but fails it in CI (CI=true), where .ci/deps installs
// it.
func DebianBinary(t testing.TB, name, pkg string) string {
	t.Helper()
	path := "/usr/bin/" + name
	if _, err := os.Stat(path); err == nil {
		return path
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	msg := fmt.Sprintf("%s not found: install Debian's %s package (apt-get install %s)", name, pkg, pkg)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg + "; this test is required when CI=true")
	return ""
}

// FreeAddr returns a 127.0.0.1 address whose port was free a moment ago, for a server to listen on.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// StartServer runs a server program with args, waits until GET ready answers 200 and returns a
// function that stops it (also called when t ends). Its output is logged when t fails.
func StartServer(t testing.TB, bin string, args []string, ready string) (stop func()) {
	t.Helper()
	var logs syncBuffer
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	began := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			_ = cmd.Process.Kill()
			<-exited
		})
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("%s output:\n%s", bin, logs.String())
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-exited:
			t.Fatalf("%s exited before it was ready:\n%s", bin, logs.String())
		default:
		}
		if resp, err := http.Get(ready); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready after 30s:\n%s", bin, logs.String())
		}
		time.Sleep(100 * time.Millisecond) // polling the readiness of a real server
	}
	t.Logf("%s ready after %v", bin, time.Since(began).Round(time.Millisecond))
	return stop
}

// syncBuffer collects process output written from exec's copying goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
