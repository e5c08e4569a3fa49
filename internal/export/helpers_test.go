package export

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"resilience.ops/internal/fakeclock"
)

// fakeClock is the test clock (package fakeclock): nothing sleeps for real.
type fakeClock = fakeclock.Clock

func newFakeClock() *fakeClock { return fakeclock.New(time.Date(2023, 12, 1, 10, 5, 30, 0, time.UTC)) }

// testOptions are options with a fake clock.
func testOptions(clk *fakeClock, alerts, check bool) Options {
	return Options{Alerts: alerts, CheckMode: check, clock: clk}
}

// testSnapshot is a session of five operations, two breached thresholds.
func testSnapshot() Snapshot {
	return Snapshot{
		SessionID: "retry_1640995200_123456",
		Time:      time.Date(2023, 12, 1, 10, 5, 30, 0, time.UTC),
		Duration:  330,
		Operations: []OperationStats{
			{Operation: "vmware_vm_create", Status: "completed", Operations: 3, Attempts: 5, Retries: 2, ExecutionSeconds: 200,
				Failures: map[string]int{"connection_error": 1, "timeout": 1}},
			{Operation: "vmware_vm_create", Status: "failed", Operations: 1, Attempts: 3, Retries: 2, ExecutionSeconds: 100,
				Failures: map[string]int{"connection_error": 2, "timeout": 1}},
			{Operation: "network_configuration", Status: "completed", Operations: 1, Attempts: 1, ExecutionSeconds: 30},
		},
		Statistics: Statistics{TotalOperations: 5, SuccessfulOperations: 4, FailedOperations: 1, SuccessRate: 80, FailureRate: 20,
			RetryRate: 40, AverageRetryCount: 0.8, TotalExecutionTime: 330, OperationsPerMinute: 0.91},
		Alerts: []Alert{
			{Name: "min_success_rate", Metric: "success_rate", Value: 80, Threshold: 85},
			{Name: "max_error_rate", Metric: "failure_rate", Value: 20, Threshold: 15},
		},
	}
}

// mustSystems parses entries or fails the test.
func mustSystems(t testing.TB, entries ...map[string]any) []System {
	t.Helper()
	list := make([]any, len(entries))
	for i, e := range entries {
		list[i] = e
	}
	sys, err := ParseSystems(list)
	if err != nil {
		t.Fatalf("ParseSystems: %v", err)
	}
	return sys
}

// request is what a recording server saw.
type request struct {
	Method string
	Path   string
	Query  string
	Header http.Header
	Body   []byte
}

// recorder is a local HTTP server that records requests and answers with reply.
type recorder struct {
	*httptest.Server
	mu    sync.Mutex
	reqs  []request
	reply func(n int, w http.ResponseWriter, r *http.Request) // n counts requests from 1
}

func newRecorder(t *testing.T, reply func(n int, w http.ResponseWriter, r *http.Request)) *recorder {
	t.Helper()
	rec := &recorder{reply: reply}
	rec.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rec.mu.Lock()
		rec.reqs = append(rec.reqs, request{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Header: r.Header.Clone(), Body: body})
		n := len(rec.reqs)
		rec.mu.Unlock()
		if rec.reply != nil {
			rec.reply(n, w, r)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(rec.Close)
	return rec
}

func (r *recorder) requests() []request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]request(nil), r.reqs...)
}

// binary returns /usr/bin/<name> (or <name> on the PATH). A missing binary skips the test
// locally but fails it in CI (CI=true), where apt installs it.
func binary(t *testing.T, name, pkg string) string {
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

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startServer runs a server binary with args and waits until GET ready answers 200.
func startServer(t *testing.T, bin string, args []string, ready string) {
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
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
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
		time.Sleep(100 * time.Millisecond) // polling readiness of a real server
	}
	t.Logf("%s ready after %v", bin, time.Since(began).Round(time.Millisecond))
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
