// Package duration converts the collection's durations, given in seconds (module parameters,
// command-line arguments, state files), to time.Duration. Every such conversion goes through
// FromSeconds, so that all of them round the same way and none overflows.
package duration

import (
	"fmt"
	"math"
	"strconv"
	"strings"
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

// Parse reads a duration given as a number of seconds ("30", "1.5") or as a number and a unit
// ("30s", "5m", "1h30m"). A number of seconds that is negative, not finite or above max is
// refused, as is a negative duration; forms names the accepted forms in the message, as
// "seconds (30) or a number and a unit (30s, 5m, 1h30m)". Callers check their own range after.
func Parse(s string, max time.Duration, forms string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		if math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f > max.Seconds() {
			return 0, fmt.Errorf("%q is not a usable number of seconds", s)
		}
		return FromSeconds(f), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%q is not a duration: use %s", s, forms)
	}
	return d, nil
}

// Text writes d as a parameter's default is written, without zero units: "30s", "30m", "1h",
// "1h30m", "500ms".
func Text(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
