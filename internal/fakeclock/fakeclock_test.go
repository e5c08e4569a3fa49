package fakeclock

import (
	"context"
	"errors"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func TestSleepMovesTheTimeAtOnce(t *testing.T) {
	c := New(t0)
	if err := c.Sleep(context.Background(), 90*time.Minute); err != nil {
		t.Fatal(err)
	}
	if got := c.Now(); !got.Equal(t0.Add(90 * time.Minute)) {
		t.Errorf("Now = %v", got)
	}
	c.Advance(time.Second)
	c.SetTick(time.Millisecond)
	a, b := c.Now(), c.Now()
	if !a.Equal(t0.Add(90*time.Minute+time.Second)) || b.Sub(a) != time.Millisecond {
		t.Errorf("readings %v, %v", a, b)
	}
	c.Set(t0)
	if got := c.Now(); !got.Equal(t0) {
		t.Errorf("after Set: %v", got)
	}
}

func TestCutShortWaitsDoNotMoveTheTime(t *testing.T) {
	c := New(t0)
	stop := errors.New("stop")
	var seen []int
	c.OnSleep(func(_ context.Context, n int, _ time.Duration) error {
		seen = append(seen, n)
		if n == 2 {
			return stop
		}
		return nil
	})
	ctx := context.Background()
	if err := c.Sleep(ctx, time.Second); err != nil {
		t.Fatal(err)
	}
	if err := c.Sleep(ctx, time.Hour); !errors.Is(err, stop) {
		t.Fatalf("the hook's error: %v", err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := c.Sleep(cancelled, time.Hour); !errors.Is(err, context.Canceled) {
		t.Fatalf("a cancelled wait: %v", err)
	}
	if got := c.Now(); !got.Equal(t0.Add(time.Second)) {
		t.Errorf("Now = %v: the cut-short waits moved the time", got)
	}
	if got := c.Sleeps(); len(got) != 3 || got[0] != time.Second || got[2] != time.Hour || len(seen) != 3 {
		t.Errorf("Sleeps = %v, hook saw %v", got, seen)
	}
}
