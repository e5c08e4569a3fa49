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

func TestText(t *testing.T) {
	t.Parallel()
	for d, want := range map[time.Duration]string{30 * time.Second: "30s", 30 * time.Minute: "30m", time.Hour: "1h",
		90 * time.Minute: "1h30m", 500 * time.Millisecond: "500ms", 10 * time.Second: "10s", 61 * time.Second: "1m1s"} {
		if got := Text(d); got != want {
			t.Errorf("Text(%s) = %q, want %q", d, got, want)
		}
	}
}

func TestParse(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]time.Duration{"30": 30 * time.Second, " 1.5 ": 1500 * time.Millisecond, "5m": 5 * time.Minute, "1h30m": 90 * time.Minute} {
		if got, err := Parse(in, time.Hour, "x"); err != nil || got != want {
			t.Errorf("Parse(%q) = %s, %v", in, got, err)
		}
	}
	for in, want := range map[string]string{"-1": `"-1" is not a usable number of seconds`, "3601": `"3601" is not a usable number of seconds`,
		"NaN": `"NaN" is not a usable number of seconds`, "soon": `"soon" is not a duration: use seconds (5)`, "-5s": `"-5s" is not a duration: use seconds (5)`} {
		if _, err := Parse(in, time.Hour, "seconds (5)"); err == nil || err.Error() != want {
			t.Errorf("Parse(%q) error = %v, want %q", in, err, want)
		}
	}
}
