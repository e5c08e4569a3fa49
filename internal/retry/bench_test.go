package retry

import (
	"context"
	"math/rand/v2"
	"syscall"
	"testing"
	"time"
)

// noSleep is a clock whose waits return at once.
type noSleep struct{}

func (noSleep) Now() time.Time                                   { return time.Now() }
func (noSleep) Sleep(ctx context.Context, _ time.Duration) error { return ctx.Err() }

// BenchmarkEngineAttemptOverhead measures what the engine adds per attempt:
// every attempt fails retryably, with zero delay and a no-op sleeper. The
// goal is under 50 µs per attempt (report only, see the ns/attempt metric).
func BenchmarkEngineAttemptOverhead(b *testing.B) {
	failures := []struct {
		name    string
		failure Failure
	}{
		{"go_error", Failure{Err: dialErr(syscall.ECONNREFUSED)}},
		{"message", Failure{Message: "Datastore is busy", Stderr: "waiting for the datastore lock"}},
		{"unknown", Failure{Message: "something odd", Stdout: "a line of output\nand another"}},
	}
	for _, fc := range failures {
		b.Run(fc.name, func(b *testing.B) {
			p := noJitter()
			p.MaxAttempts = MaxMaxAttempts
			p.BaseDelay, p.MaxDelay = 0, 0
			e, err := NewEngine(p, WithClock(noSleep{}))
			if err != nil {
				b.Fatal(err)
			}
			res := Result{Failure: &fc.failure}
			op := func(context.Context, int) Result { return res }
			ctx := context.Background()
			b.ReportAllocs()
			runs := 0
			for b.Loop() {
				if out := e.Do(ctx, op); len(out.Attempts) != MaxMaxAttempts {
					b.Fatalf("attempts = %d", len(out.Attempts))
				}
				runs++
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(runs*MaxMaxAttempts), "ns/attempt")
		})
	}
}

func BenchmarkDelay(b *testing.B) {
	for _, mode := range jitterModes {
		b.Run(string(mode), func(b *testing.B) {
			p := DefaultPolicy()
			p.JitterMode = mode
			rnd := rand.New(rand.NewPCG(1, 2)).Float64
			var prev time.Duration
			i := 0
			for b.Loop() {
				prev = p.Delay(i%MaxMaxAttempts, prev, rnd)
				i++
			}
		})
	}
}
