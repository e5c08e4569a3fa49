package export

import (
	"io"
	"net/http"
	"net/http/httptest"
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
