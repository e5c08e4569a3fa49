package resilience

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"resilience.ops/internal/retry"
)

// t0 is the fake clock's start.
var t0 = time.Date(2025, 1, 1, 10, 0, 0, 0, time.UTC)

// fakeClock is the test clock: Sleep advances the time at once, so nothing sleeps for real.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
	// onSleep, if set, runs before each wait with the number of waits so far (from 1).
	onSleep func(n int)
}

var _ retry.Clock = (*fakeClock)(nil)

func newFakeClock() *fakeClock { return &fakeClock{now: t0} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	c.sleeps = append(c.sleeps, d)
	n, hook := len(c.sleeps), c.onSleep
	c.mu.Unlock()
	if hook != nil {
		hook(n)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	c.Advance(d)
	return nil
}

func (c *fakeClock) Sleeps() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.sleeps...)
}

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
