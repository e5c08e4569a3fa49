package resilience

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"resilience.ops/internal/clock"
	"resilience.ops/internal/fakeclock"
	"resilience.ops/internal/retry"
)

// t0 is the fake clock's start.
var t0 = time.Date(2025, 1, 1, 10, 0, 0, 0, time.UTC)

// fakeClock is the test clock (package fakeclock): nothing sleeps for real.
type fakeClock = fakeclock.Clock

var _ clock.Clock = (*fakeClock)(nil)

func newFakeClock() *fakeClock { return fakeclock.New(t0) }

// enabled returns the default settings in dir with every feature on.
func enabled(dir string) Settings {
	s := DefaultSettings()
	s.Dir = dir
	s.CircuitBreaker.Enabled = true
	s.Bulkhead.Enabled = true
	s.RetryBudget.Enabled = true
	s.Adaptive.Enabled = true
	return s
}

// newTest builds guardrails on s with a fake clock and a fixed random source.
func newTest(t testing.TB, s Settings, opts ...Option) (*Guardrails, *fakeClock) {
	t.Helper()
	clk := newFakeClock()
	g, err := New(s, append([]Option{WithClock(clk), WithRandom(func() float64 { return 0.5 })}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return g, clk
}

// before runs Before and fails the test on an error.
func before(t testing.TB, g *Guardrails, key string) *Admission {
	t.Helper()
	adm, err := g.Before(context.Background(), key)
	if err != nil {
		t.Fatalf("Before(%q): %v", key, err)
	}
	return adm
}

// attempt runs one admitted attempt with result typ ("" for a success), retryable as the
// default policy says.
func attempt(t testing.TB, g *Guardrails, key string, typ retry.ErrorType) (*Admission, AttemptReport) {
	t.Helper()
	adm := before(t, g, key)
	if !adm.Admitted {
		return adm, AttemptReport{}
	}
	return adm, g.AfterAttempt(adm, typ, retry.DefaultPolicy().ShouldRetry(typ))
}

// readDoc decodes key's state file, failing on a problem.
func readDoc(t testing.TB, g *Guardrails, key string) Document {
	t.Helper()
	data, err := g.store.Load(g.StateFile(key))
	if err != nil || data == nil {
		t.Fatalf("state of %s: %q, %v", key, data, err)
	}
	doc, problem := decode(key, data)
	if problem != "" {
		t.Fatalf("state file: %s\n%s", problem, data)
	}
	return doc
}

func toJSON(v any) string {
	b, _ := json.MarshalIndent(v, "", "  ")
	return string(b)
}
