package resilience

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"resilience.ops/internal/retry"
)

// Adaptation says what adaptive retry did to a policy and why: the adaptive_retry part of a
// result. A plain value: safe for concurrent use.
type Adaptation struct {
	Enabled bool `json:"enabled"`
	// Adapted says the policy differs from the configured one; Changes lists how.
	Adapted bool `json:"adapted"`
	// SuccessRate is successes / Calls over the window; nil without calls.
	SuccessRate *float64 `json:"success_rate,omitempty"`
	Calls       int      `json:"calls"`
	Window      float64  `json:"window"` // seconds
	// DelayFactor multiplies base_delay and max_delay (1 when not adapted).
	DelayFactor float64  `json:"delay_factor"`
	Reason      string   `json:"reason,omitempty"`
	Changes     []Change `json:"changes,omitempty"`
	Warnings    []string `json:"warnings,omitempty"`
}

// Change is one adapted setting. Durations are in seconds.
type Change struct {
	Param string  `json:"param"`
	From  float64 `json:"from"`
	To    float64 `json:"to"`
}

// adapt returns p adapted to the history at now (see Guardrails.Adapt).
func (s AdaptiveSettings) adapt(history Series, now time.Time, p retry.Policy) (retry.Policy, Adaptation) {
	w := history.sum(now, s.Window)
	a := Adaptation{Enabled: true, Calls: w.Successes + w.Failures, Window: secs(s.Window), DelayFactor: 1}
	if a.Calls == 0 || a.Calls < s.MinimumCalls {
		a.Reason = fmt.Sprintf("%d counted calls in the last %s, fewer than minimum_calls %d: the configured policy applies",
			a.Calls, seconds(s.Window), s.MinimumCalls)
		return p, a
	}
	rate := float64(w.Successes) / float64(a.Calls)
	a.SuccessRate = &rate
	observed := fmt.Sprintf("success rate %s of %d counted calls in the last %s", percent(rate), a.Calls, seconds(s.Window))
	if rate >= s.TargetSuccessRate {
		a.Reason = fmt.Sprintf("%s is at or above target_success_rate %s: the configured policy applies",
			observed, percent(s.TargetSuccessRate))
		return p, a
	}
	// shortfall is 0 at the target and 1 at a success rate of 0; everything scales linearly.
	shortfall := (s.TargetSuccessRate - rate) / s.TargetSuccessRate
	factor := 1 + shortfall*(s.MaxDelayFactor-1)
	a.DelayFactor = math.Round(factor*1000) / 1000

	q := p
	q.BaseDelay = scale(p.BaseDelay, factor)
	q.MaxDelay = scale(p.MaxDelay, factor)
	floor := min(s.MinAttempts, p.MaxAttempts)
	q.MaxAttempts = p.MaxAttempts - int(math.Round(shortfall*float64(p.MaxAttempts-floor)))

	var parts []string
	change := func(param string, from, to float64, show string) {
		if from != to {
			a.Changes = append(a.Changes, Change{Param: param, From: from, To: to})
			parts = append(parts, show)
		}
	}
	change("base_delay", secs(p.BaseDelay), secs(q.BaseDelay), seconds(p.BaseDelay)+" -> "+seconds(q.BaseDelay)+" base_delay")
	change("max_delay", secs(p.MaxDelay), secs(q.MaxDelay), seconds(p.MaxDelay)+" -> "+seconds(q.MaxDelay)+" max_delay")
	change("max_attempts", float64(p.MaxAttempts), float64(q.MaxAttempts),
		fmt.Sprintf("%d -> %d max_attempts", p.MaxAttempts, q.MaxAttempts))
	below := fmt.Sprintf("%s is below target_success_rate %s", observed, percent(s.TargetSuccessRate))
	if len(parts) == 0 {
		a.Reason = below + ", but the policy has nothing to adapt (no delay, max_attempts at min_attempts)"
		return p, a
	}
	a.Adapted = true
	a.Reason = fmt.Sprintf("%s: delays x%s (max_delay_factor %g), %s", below,
		strconv.FormatFloat(a.DelayFactor, 'f', -1, 64), s.MaxDelayFactor, strings.Join(parts, ", "))
	return q, a
}

// scale multiplies d by f, rounded to the millisecond and saturating.
func scale(d time.Duration, f float64) time.Duration {
	v := float64(d) * f
	if v >= math.MaxInt64 {
		return math.MaxInt64
	}
	return time.Duration(v).Round(time.Millisecond)
}
