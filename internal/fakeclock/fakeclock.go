// Package fakeclock is the clock of the tests: Sleep records the wait and moves the time on at
// once, so that nothing sleeps for real. It implements clock.Clock (Now, Sleep) and is
// safe for concurrent use. It is imported only from _test.go files.
package fakeclock

import (
	"context"
	"sync"
	"time"
)

// Clock is a fake clock. The zero value is not usable: use New.
type Clock struct {
	mu      sync.Mutex
	now     time.Time
	tick    time.Duration
	sleeps  []time.Duration
	onSleep func(ctx context.Context, n int, d time.Duration) error
}

// New returns a clock that reads start until it is moved on.
func New(start time.Time) *Clock { return &Clock{now: start} }

// SetTick makes every Now move the time on by d after reading it, as if a little time passed
// between two readings.
func (c *Clock) SetTick(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.tick = d
}

// OnSleep sets a hook that runs at the start of each Sleep with the number of waits so far
// (from 1) and the wait. An error from it ends the wait without moving the time.
func (c *Clock) OnSleep(hook func(ctx context.Context, n int, d time.Duration) error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.onSleep = hook
}

// Now returns the time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.now
	c.now = c.now.Add(c.tick)
	return t
}

// Advance moves the time on by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Set sets the time.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// Sleep records the wait, runs the hook, and moves the time on by d unless the hook or ctx ends
// the wait first: then it returns their error.
func (c *Clock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	c.sleeps = append(c.sleeps, d)
	n, hook := len(c.sleeps), c.onSleep
	c.mu.Unlock()
	if hook != nil {
		if err := hook(ctx, n, d); err != nil {
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	c.Advance(d)
	return nil
}

// Sleeps returns the waits asked for so far, also those that were cut short.
func (c *Clock) Sleeps() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.sleeps...)
}
