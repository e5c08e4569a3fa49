package manager

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"resilience.ops/internal/duration"
)

// fmtSeconds formats seconds to the millisecond without trailing zeros: "0.1", "5", "2.25".
func fmtSeconds(f float64) string {
	return strconv.FormatFloat(math.Round(f*1000)/1000, 'f', -1, 64)
}

// secondsOf is d in seconds, rounded to the millisecond.
func secondsOf(d time.Duration) float64 { return math.Round(d.Seconds()*1000) / 1000 }

// durationOf is s seconds as a Duration (duration.FromSeconds: rounded, never overflowing).
func durationOf(s float64) time.Duration { return duration.FromSeconds(s) }

// trimFloat writes f to the millisecond, without ".000".
func trimFloat(f float64) string { return strings.TrimSuffix(fmt.Sprintf("%.3f", f), ".000") }

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
