package retry

import (
	"math"
	"testing"
	"time"
)

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2015, 10, 21, 7, 28, 0, 0, time.UTC)
	tests := []struct {
		value  string
		want   time.Duration
		wantOK bool
	}{
		{"120", 120 * time.Second, true},
		{"0", 0, true},
		{" 5 ", 5 * time.Second, true},
		{"Wed, 21 Oct 2015 07:29:00 GMT", time.Minute, true},          // IMF-fixdate
		{"Wednesday, 21-Oct-15 07:28:30 GMT", 30 * time.Second, true}, // RFC 850
		{"Wed Oct 21 07:28:10 2015", 10 * time.Second, true},          // ANSI C asctime
		{"Wed, 21 Oct 2015 07:00:00 GMT", 0, true},                    // in the past
		{"99999999999999999999", time.Duration(math.MaxInt64), true},  // saturates
		{"9223372037", time.Duration(math.MaxInt64), true},            // seconds beyond Duration
		{"", 0, false},
		{"soon", 0, false},
		{"-5", 0, false},
		{"1.5", 0, false},
		{"+5", 0, false},
		{"2015-10-21T07:29:00Z", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			t.Parallel()
			got, ok := ParseRetryAfter(tt.value, now)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("ParseRetryAfter(%q) = %v, %v; want %v, %v", tt.value, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func FuzzParseRetryAfter(f *testing.F) {
	for _, seed := range []string{"120", "Wed, 21 Oct 2015 07:29:00 GMT", "Wed Oct 21 07:28:10 2015", "", "-1", "99999999999999999999"} {
		f.Add(seed)
	}
	now := time.Date(2015, 10, 21, 7, 28, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, value string) {
		if d, ok := ParseRetryAfter(value, now); d < 0 || (!ok && d != 0) {
			t.Errorf("ParseRetryAfter(%q) = %v, %v", value, d, ok)
		}
	})
}
