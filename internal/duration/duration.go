// Package duration converts the collection's durations, given in seconds (module parameters,
// command-line arguments, state files), to time.Duration. Every such conversion goes through
// FromSeconds, so that all of them round the same way and none overflows.
package duration

import (
	"math"
	"time"
)

// FromSeconds returns s seconds as a Duration, rounded to the nearest nanosecond (halves away
// from zero, as math.Round). It never overflows: a value beyond the largest Duration (about 292
// years) gives the largest, one below the smallest gives the smallest, and NaN gives 0. Callers
// bound their values first (see the documented maxima of each parameter); saturation only keeps a
// value that slipped through from wrapping round to a negative duration.
func FromSeconds(s float64) time.Duration {
	ns := s * float64(time.Second)
	switch {
	case math.IsNaN(ns):
		return 0
	case ns >= math.MaxInt64: // float64(MaxInt64) is 2^63, itself out of range
		return math.MaxInt64
	case ns <= math.MinInt64:
		return math.MinInt64
	}
	return time.Duration(math.Round(ns))
}

// FromDays returns d days of 24 hours as a Duration, like FromSeconds.
func FromDays(d float64) time.Duration { return FromSeconds(d * 86400) }
