package resilience

import "time"

// Overrides is a partial Settings: the guardrail keys that one layer of settings gives (the
// task's parameters, the role's settings, an operation_configs entry). A nil field is not set and
// inherits; a set one replaces the inherited value, key by key inside each guardrail. A plain
// value: safe for concurrent use as long as nobody modifies it.
type Overrides struct {
	CircuitBreaker CircuitBreakerOverrides
	Bulkhead       BulkheadOverrides
	RetryBudget    RetryBudgetOverrides
	Adaptive       AdaptiveOverrides
}

// CircuitBreakerOverrides are the keys of circuit_breaker that a layer sets.
type CircuitBreakerOverrides struct {
	Enabled              *bool
	FailureThreshold     *int
	FailureRateThreshold *float64
	MinimumCalls         *int
	Window               *time.Duration
	OpenDuration         *time.Duration
	HalfOpenMaxCalls     *int
}

// BulkheadOverrides are the keys of bulkhead that a layer sets.
type BulkheadOverrides struct {
	Enabled       *bool
	MaxConcurrent *int
	MaxWait       *time.Duration
}

// RetryBudgetOverrides are the keys of retry_budget that a layer sets.
type RetryBudgetOverrides struct {
	Enabled    *bool
	Ratio      *float64
	MinRetries *int
	Window     *time.Duration
}

// AdaptiveOverrides are the keys of adaptive_retry that a layer sets.
type AdaptiveOverrides struct {
	Enabled           *bool
	Window            *time.Duration
	MinimumCalls      *int
	TargetSuccessRate *float64
	MaxDelayFactor    *float64
	MinAttempts       *int
}

// Apply returns s with every set field of o replacing s's. It does not validate.
func (o Overrides) Apply(s Settings) Settings {
	cb, c := &s.CircuitBreaker, o.CircuitBreaker
	set(&cb.Enabled, c.Enabled)
	set(&cb.FailureThreshold, c.FailureThreshold)
	set(&cb.FailureRateThreshold, c.FailureRateThreshold)
	set(&cb.MinimumCalls, c.MinimumCalls)
	set(&cb.Window, c.Window)
	set(&cb.OpenDuration, c.OpenDuration)
	set(&cb.HalfOpenMaxCalls, c.HalfOpenMaxCalls)
	bh, b := &s.Bulkhead, o.Bulkhead
	set(&bh.Enabled, b.Enabled)
	set(&bh.MaxConcurrent, b.MaxConcurrent)
	set(&bh.MaxWait, b.MaxWait)
	rb, r := &s.RetryBudget, o.RetryBudget
	set(&rb.Enabled, r.Enabled)
	set(&rb.Ratio, r.Ratio)
	set(&rb.MinRetries, r.MinRetries)
	set(&rb.Window, r.Window)
	ad, a := &s.Adaptive, o.Adaptive
	set(&ad.Enabled, a.Enabled)
	set(&ad.Window, a.Window)
	set(&ad.MinimumCalls, a.MinimumCalls)
	set(&ad.TargetSuccessRate, a.TargetSuccessRate)
	set(&ad.MaxDelayFactor, a.MaxDelayFactor)
	set(&ad.MinAttempts, a.MinAttempts)
	return s
}

// Enabled reports whether any guardrail of s is on.
func (s Settings) Enabled() bool {
	return s.CircuitBreaker.Enabled || s.Bulkhead.Enabled || s.RetryBudget.Enabled || s.Adaptive.Enabled
}

func set[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}
