package clock_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"resilience.ops/internal/clock"
	"resilience.ops/internal/fakeclock"
)

// The test clock is a Clock.
var _ clock.Clock = (*fakeclock.Clock)(nil)

func TestRealClockSleep(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		if err := (clock.Real{}).Sleep(context.Background(), 0); err != nil || time.Since(start) != 0 {
			t.Errorf("Sleep(0) = %v after %v", err, time.Since(start))
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := (clock.Real{}).Sleep(ctx, 0); !errors.Is(err, context.Canceled) {
			t.Errorf("Sleep(0) on a cancelled context = %v", err)
		}
		if err := (clock.Real{}).Sleep(context.Background(), time.Minute); err != nil || time.Since(start) != time.Minute {
			t.Errorf("Sleep(1m) = %v after %v", err, time.Since(start))
		}
	})
}

func TestOrAndFunc(t *testing.T) {
	t.Parallel()
	if _, ok := clock.Or(nil).(clock.Real); !ok {
		t.Error("Or(nil) is not the real clock")
	}
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	c := clock.Or(clock.Func(func() time.Time { return at }))
	if !c.Now().Equal(at) {
		t.Errorf("Func clock reads %v", c.Now())
	}
}
