package retry

import (
	"sync"
	"time"

	"resilience.ops/internal/fakeclock"
)

// t0 is the start of the reference operation record.
var t0 = time.Date(2023, 12, 1, 10, 0, 0, 0, time.UTC)

// fakeClock is the test clock (package fakeclock): nothing sleeps for real.
type fakeClock = fakeclock.Clock

func newFakeClock() *fakeClock { return fakeclock.New(t0) }

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
