package slo

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// barrier releases its waiters once n have arrived, or gives up after
// timeout; wait reports whether everyone arrived.
type barrier struct {
	mu      sync.Mutex
	n       int
	all     chan struct{}
	timeout time.Duration
}

func newBarrier(n int, timeout time.Duration) *barrier {
	return &barrier{n: n, all: make(chan struct{}), timeout: timeout}
}

func (b *barrier) wait() bool {
	b.mu.Lock()
	if b.n--; b.n == 0 {
		close(b.all)
	}
	b.mu.Unlock()
	select {
	case <-b.all:
		return true
	case <-time.After(b.timeout):
		return false
	}
}

// TestEvaluateRunsChecksConcurrently proves concurrency without timing: no
// server answers until all three checks have sent their request, so a
// sequential evaluation could never pass.
func TestEvaluateRunsChecksConcurrently(t *testing.T) {
	t.Parallel()
	b := newBarrier(3, 5*time.Second)
	gated := func(f fixture) http.HandlerFunc {
		h := serve(t, f)
		return func(w http.ResponseWriter, r *http.Request) {
			if !b.wait() {
				http.Error(w, "not all checks arrived", http.StatusServiceUnavailable)
				return
			}
			h(w, r)
		}
	}
	prom := newFake(t, func(q string) http.HandlerFunc {
		if strings.Contains(q, "health_ok") {
			return gated(promHealth)
		}
		return gated(promVector)
	})
	loki := newFake(t, func(string) http.HandlerFunc { return gated(lokiCount) })
	if r := evaluate(t, testConfig(prom.URL, loki.URL)); !r.Stable {
		t.Fatalf("status %s, checks %+v", r.Status, r.Checks)
	}
}

// BenchmarkEvaluateConcurrent reports the wall time of an evaluation whose
// three checks each take 100ms on the server: about 100ms when they run
// concurrently, 300ms if they did not. A report, not an assertion.
func BenchmarkEvaluateConcurrent(b *testing.B) {
	delayed := func(f fixture) http.HandlerFunc {
		h := serve(b, f)
		return func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(100 * time.Millisecond)
			h(w, r)
		}
	}
	prom := newFake(b, func(q string) http.HandlerFunc {
		if strings.Contains(q, "health_ok") {
			return delayed(promHealth)
		}
		return delayed(promVector)
	})
	loki := newFake(b, func(string) http.HandlerFunc { return delayed(lokiCount) })
	e, err := New(testConfig(prom.URL, loki.URL))
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	for b.Loop() {
		if r := e.Evaluate(context.Background()); !r.Stable {
			b.Fatalf("status %s", r.Status)
		}
	}
	b.ReportMetric(float64(time.Since(start).Milliseconds())/float64(b.N), "wall-ms/eval")
}
