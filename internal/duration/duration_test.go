package duration

import (
	"math"
	"testing"
	"time"
)

func TestFromSeconds(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in   float64
		want time.Duration
	}{
		{0, 0},
		{1, time.Second},
		{2.5, 2500 * time.Millisecond},
		{0.001, time.Millisecond},
		{1e-9, 1},
		{1.4e-9, 1},                   // rounded to the nearest nanosecond...
		{1.5e-9, 2},                   // ...halves away from zero
		{0.3, 300 * time.Millisecond}, // 0.3*1e9 is 299999999.99999994: truncation gave 299.999999ms
		{1e-10, 0},
		{-2.5, -2500 * time.Millisecond},
		{86400, 24 * time.Hour},
		{9.3e9, math.MaxInt64}, // 294 years: beyond the largest Duration
		{1e10, math.MaxInt64},  // base_delay: 1e10 gave -9223372036.8s
		{1e308, math.MaxInt64}, // retry_backoff 3 1e308
		{math.Inf(1), math.MaxInt64},
		{-1e308, math.MinInt64},
		{math.Inf(-1), math.MinInt64},
		{math.NaN(), 0},
	} {
		if got := FromSeconds(tt.in); got != tt.want {
			t.Errorf("FromSeconds(%g) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

func TestFromDays(t *testing.T) {
	t.Parallel()
	if got := FromDays(1.5); got != 36*time.Hour {
		t.Errorf("FromDays(1.5) = %s", got)
	}
	if got := FromDays(1e10); got != math.MaxInt64 {
		t.Errorf("FromDays(1e10) = %d: overflowed", got)
	}
}
