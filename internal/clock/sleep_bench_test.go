package clock

import (
	"context"
	"slices"
	"testing"
	"time"
)

// BenchmarkSleepOvershoot measures how far the engine's real waits overshoot the planned delay
// (goal: p99 under 10 ms). A report, never a test: it reports p50 and p99 overshoot in ms.
func BenchmarkSleepOvershoot(b *testing.B) {
	const delay = 5 * time.Millisecond
	var c Real
	over := make([]time.Duration, 0, b.N)
	for i := 0; i < b.N; i++ {
		start := time.Now()
		_ = c.Sleep(context.Background(), delay)
		over = append(over, time.Since(start)-delay)
	}
	slices.Sort(over)
	pct := func(p float64) float64 { return float64(over[int(p*float64(len(over)-1))]) / float64(time.Millisecond) }
	b.ReportMetric(pct(0.50), "p50-overshoot-ms")
	b.ReportMetric(pct(0.99), "p99-overshoot-ms")
}
