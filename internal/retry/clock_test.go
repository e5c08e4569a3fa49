package retry

import (
	"context"
	"sync"
	"time"
)

// t0 is the start of the reference operation record.
var t0 = time.Date(2023, 12, 1, 10, 0, 0, 0, time.UTC)

// fakeClock is the test clock: Sleep records the wait and advances the
// time at once, so nothing sleeps for real.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
	// onSleep, if set, runs before a wait; a non-nil error ends the wait
	// without advancing the time (a cancellation).
	onSleep func(ctx context.Context, d time.Duration) error
}

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
	hook := c.onSleep
	c.mu.Unlock()
	if hook != nil {
		if err := hook(ctx, d); err != nil {
			return err
		}
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

// fixed returns a random source that always returns r.
func fixed(r float64) func() float64 { return func() float64 { return r } }

// sequence returns a random source that returns rs in turn, then repeats the last.
func sequence(rs ...float64) func() float64 {
	var mu sync.Mutex
	i := 0
	return func() float64 {
		mu.Lock()
		defer mu.Unlock()
		r := rs[min(i, len(rs)-1)]
		i++
		return r
	}
}

// noJitter is the default policy without jitter.
func noJitter() Policy {
	p := DefaultPolicy()
	p.JitterEnabled = false
	return p
}

func secs(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
