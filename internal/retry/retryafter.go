package retry

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// httpDateLayouts are the HTTP-date formats of RFC 9110 section 5.6.7: the
// preferred IMF-fixdate and the two obsolete ones recipients must accept.
var httpDateLayouts = []string{
	"Mon, 02 Jan 2006 15:04:05 GMT", // IMF-fixdate
	time.RFC850,                     // Sunday, 06-Nov-94 08:49:37 GMT
	time.ANSIC,                      // Sun Nov  6 08:49:37 1994
}

// ParseRetryAfter parses the value of a Retry-After header: a number of
// seconds (digits only) or an HTTP date, which is turned into the time left
// from now (0 for a date in the past). It reports false for anything else,
// including negative or fractional numbers. Huge values saturate rather than
// overflow; the engine caps the wait by max_delay anyway (see [Result]).
func ParseRetryAfter(value string, now time.Time) (time.Duration, bool) {
	v := strings.TrimSpace(value)
	if v == "" {
		return 0, false
	}
	if strings.Trim(v, "0123456789") == "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n > math.MaxInt64/int64(time.Second) { // digits only: out of range
			return math.MaxInt64, true
		}
		return time.Duration(n) * time.Second, true
	}
	for _, layout := range httpDateLayouts {
		if t, err := time.Parse(layout, v); err == nil {
			return max(t.Sub(now), 0), true
		}
	}
	return 0, false
}
