// Package clock is the one seam through which the collection reads the time and waits: the
// retry engine's waits, the guardrails' windows and bulkhead waits, the sessions' timestamps, the
// guard's lock times, the release's evaluation time and wait loop, the deliveries' retries. Real
// is the clock of package time; tests pass internal/fakeclock, so that nothing sleeps for real.
//
// Waits that belong to the operating system rather than to a feature (how long to wait for a
// file lock that another process holds, the grace period before a process is killed, a retry of
// an etcd member) and the time that orders etcd's audit keys use package time directly: they
// bound a system call or make a unique key, not a behaviour a user configures.
package clock

import (
	"context"
	"time"
)

// Clock reads the time and waits. Implementations are safe for concurrent use.
type Clock interface {
	Now() time.Time
	// Sleep waits for d, or until ctx is done and then returns ctx.Err().
	Sleep(ctx context.Context, d time.Duration) error
}

// Real is the clock of package time. Safe for concurrent use.
type Real struct{}

// Now returns time.Now().
func (Real) Now() time.Time { return time.Now() }

// Sleep waits for d, or until ctx is done and then returns ctx.Err().
func (Real) Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Or returns c, or Real when c is nil: the default of an optional clock.
func Or(c Clock) Clock {
	if c == nil {
		return Real{}
	}
	return c
}

// Func is a clock whose time is f() and which waits as Real does: for a fixed instant or a time
// shifted from the host's.
type Func func() time.Time

// Now returns f().
func (f Func) Now() time.Time { return f() }

// Sleep waits as Real does.
func (Func) Sleep(ctx context.Context, d time.Duration) error { return Real{}.Sleep(ctx, d) }
