package operation

import (
	"context"
	"sync"
	"time"

	"resilience.ops/internal/retry"
)

// manualDeadline is a context whose deadline passes when the test says so, not by the clock:
// Err is context.DeadlineExceeded once stop was called. Tests use it to time out an attempt at a
// chosen point (after its processes started) without waiting for a real timeout.
type manualDeadline struct {
	done chan struct{}
	once sync.Once
}

func newDeadline() (context.Context, func()) {
	d := &manualDeadline{done: make(chan struct{})}
	return d, func() { d.once.Do(func() { close(d.done) }) }
}

func (d *manualDeadline) Deadline() (time.Time, bool) { return time.Time{}, false }
func (d *manualDeadline) Done() <-chan struct{}       { return d.done }
func (d *manualDeadline) Value(any) any               { return nil }
func (d *manualDeadline) Err() error {
	select {
	case <-d.done:
		return context.DeadlineExceeded
	default:
		return nil
	}
}

// runAsync runs c in a goroutine; its failure comes on the channel.
func runAsync(ctx context.Context, c Command) <-chan *retry.Failure {
	ch := make(chan *retry.Failure, 1)
	go func() {
		_, f := c.Run(ctx)
		ch <- f
	}()
	return ch
}
