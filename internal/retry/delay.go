package retry

import (
	"math"
	"math/rand/v2"
	"time"
)

// Delay returns the wait before the retry with index retry, counted from 0
// (retry 0 is the wait between attempts 1 and 2): the policy's delay capped
// by MaxDelay, then the jitter of JitterMode if JitterEnabled (see the
// PolicyKind and JitterMode constants for the formulas).
//
// prev is the wait used before the previous retry (0 before the first); only
// decorrelated jitter uses it. rnd returns uniform values in [0, 1); Delay
// calls it at most once, and not at all without jitter. A nil rnd means
// math/rand/v2.Float64. Schedule passes a source that returns 1 to get the
// upper bound of the jitter.
//
// Delay is the one delay formula of the package: the [Engine], [Policy.Schedule]
// and simulations all call it. It is NOT an attempt limit (any index gives a
// delay; max_attempts is the engine's business) and NOT a total time budget
// (that is max_total_time). Retry-After is applied by the engine on top of it
// (see [Result]). Delay assumes p is valid.
func (p Policy) Delay(retry int, prev time.Duration, rnd func() float64) time.Duration {
	mode := p.jitterMode()
	if mode == JitterDecorrelated {
		return p.decorrelated(prev, rnd)
	}
	d := p.nominal(retry)
	switch mode {
	case JitterAdditive:
		d += d * AdditiveJitterShare * draw(rnd)
	case JitterFull:
		d *= draw(rnd)
	case JitterEqual:
		d = d/2 + d/2*draw(rnd)
	}
	return toDuration(d)
}

// nominal is the policy's delay in nanoseconds for retry index retry, capped
// by MaxDelay, without jitter.
func (p Policy) nominal(retry int) float64 {
	retry = max(retry, 0)
	base := float64(p.BaseDelay)
	var d float64
	switch p.RetryPolicy {
	case LinearBackoff:
		d = base * float64(retry+1)
	case FixedDelay:
		d = base
	default: // ExponentialBackoff
		if base == 0 {
			return 0 // 0 * Inf would be NaN for huge indices
		}
		d = base * math.Pow(p.BackoffMultiplier, float64(retry))
	}
	return min(d, float64(p.MaxDelay))
}

// decorrelated is min(MaxDelay, U[BaseDelay, max(prev, BaseDelay)*DecorrelatedJitterGrowth]).
func (p Policy) decorrelated(prev time.Duration, rnd func() float64) time.Duration {
	lo := float64(p.BaseDelay)
	hi := max(float64(prev), lo) * DecorrelatedJitterGrowth
	return toDuration(min(lo+(hi-lo)*draw(rnd), float64(p.MaxDelay)))
}

// withRetryAfter returns the wait to use when the remote side asked for
// retryAfter: max(computed, min(retryAfter, MaxDelay)). Retry-After can
// lengthen the wait, never shorten it, and it is capped by max_delay so that
// one response cannot stall a play for hours; a server that still throttles
// after that fails the next attempt again, which is classified and retried
// or not like any other failure. Raise max_delay to honour longer values. A
// computed delay above max_delay (additive jitter at the cap) is kept.
func (p Policy) withRetryAfter(computed, retryAfter time.Duration) time.Duration {
	return max(computed, min(retryAfter, p.MaxDelay))
}

// draw calls rnd (or the default source) and clamps the result to [0, 1],
// so that a faulty source cannot produce a negative or runaway wait.
func draw(rnd func() float64) float64 {
	if rnd == nil {
		rnd = rand.Float64
	}
	r := rnd()
	switch {
	case !(r >= 0): // also NaN
		return 0
	case r > 1:
		return 1
	}
	return r
}

// toDuration rounds nanoseconds to a Duration, saturating instead of overflowing.
func toDuration(ns float64) time.Duration {
	switch {
	case !(ns > 0):
		return 0
	case ns >= math.MaxInt64:
		return math.MaxInt64
	}
	return time.Duration(math.Round(ns))
}
