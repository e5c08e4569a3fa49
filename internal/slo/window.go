package slo

import (
	"time"

	"github.com/prometheus/common/model"
)

// ParseWindow parses a Prometheus duration ("15m", "1h30m", "1d") and
// requires it to be positive. The error is a *field.Error for "window".
func ParseWindow(s string) (time.Duration, error) {
	d, err := model.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fieldErr("window", "%q is not a positive Prometheus duration; use a number and a unit "+
			"(ms, s, m, h, d, w, y), units from largest to smallest, for example 15m or 1h30m", s)
	}
	return time.Duration(d), nil
}

// formatWindow renders d the way PromQL and LogQL range selectors expect it.
func formatWindow(d time.Duration) string { return model.Duration(d).String() }

// Evaluable reports whether a window ending at now lies entirely after
// lockedAt, so that no sample from before the lock (the incident that caused
// it) can count towards stability. When it does not, wait is how long until
// it does. A zero lockedAt means "no lock": always evaluable.
func Evaluable(lockedAt, now time.Time, window time.Duration) (ok bool, wait time.Duration) {
	if lockedAt.IsZero() {
		return true, 0
	}
	wait = lockedAt.Add(window).Sub(now)
	if wait <= 0 {
		return true, 0
	}
	return false, wait
}
