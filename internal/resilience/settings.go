package resilience

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"resilience.ops/internal/field"
	"resilience.ops/internal/retry"
)

// DefaultDir is the default state directory: the same as the retry sessions' (session.DefaultDir),
// so that one state_dir parameter serves both. This package keeps its files in the Subdir folder
// of it.
const DefaultDir = "/tmp/ansible_retry"

// Subdir is the folder of the state directory that holds the per-key files.
const Subdir = "circuit"

// Defaults and limits of the circuit breaker (the circuit_breaker parameter).
const (
	// DefaultFailureThreshold is the default circuit_breaker.failure_threshold: this many
	// consecutive counted failures open the breaker. Only failures of a type the policy retries
	// count (see [Guardrails.AfterAttempt]).
	DefaultFailureThreshold = 5
	// MaxFailureThreshold bounds failure_threshold.
	MaxFailureThreshold = 1000
	// DefaultFailureRateThreshold is the default circuit_breaker.failure_rate_threshold: the
	// breaker also opens when at least this share of the counted calls in the window failed
	// (>=, as in Resilience4j), once the window holds minimum_calls calls. 0 turns the rule off.
	DefaultFailureRateThreshold = 0.5
	// DefaultMinimumCalls is the default circuit_breaker.minimum_calls: the failure rate is not
	// judged on fewer counted calls in the window.
	DefaultMinimumCalls = 10
	// MaxMinimumCalls bounds minimum_calls.
	MaxMinimumCalls = 100000
	// DefaultBreakerWindow is the default circuit_breaker.window, the sliding time window of
	// the failure rate.
	DefaultBreakerWindow = 60 * time.Second
	// DefaultOpenDuration is the default circuit_breaker.open_duration (the reset timeout): how
	// long an open breaker refuses calls before it lets trial calls through (half-open).
	DefaultOpenDuration = 30 * time.Second
	// DefaultHalfOpenMaxCalls is the default circuit_breaker.half_open_max_calls: how many trial
	// calls may run at the same time while half-open. It is NOT a number of successes to
	// collect: the first counted trial result decides (success closes, failure re-opens).
	DefaultHalfOpenMaxCalls = 1
	// MaxHalfOpenMaxCalls bounds half_open_max_calls.
	MaxHalfOpenMaxCalls = 100
)

// Defaults and limits of the bulkhead (the bulkhead parameter).
const (
	// DefaultMaxConcurrent is the default bulkhead.max_concurrent: operations on one key that
	// may run at the same time on this host, across processes.
	DefaultMaxConcurrent = 10
	// MaxMaxConcurrent bounds max_concurrent: each slot is one small lock file.
	MaxMaxConcurrent = 256
	// DefaultMaxWait is the default bulkhead.max_wait: how long an operation waits for a free
	// slot before it fails with bulkhead_full. 0 means do not wait. It is NOT part of
	// max_total_time: the retry deadline starts when the attempt is admitted.
	DefaultMaxWait = 60 * time.Second
	// BulkheadPollInterval is the mean interval at which a waiting operation tries the slots
	// again (randomised between 0.5 and 1.5 times it, so that waiters do not poll in step).
	// Waiting is not first-come first-served.
	BulkheadPollInterval = 50 * time.Millisecond
)

// Defaults and limits of the retry budget (the retry_budget parameter).
const (
	// DefaultBudgetRatio is the default retry_budget.ratio: retries may make up at most this
	// share of the calls (attempts, retries included) of the window, as the Google SRE book's
	// per-client retry budget of 10%.
	DefaultBudgetRatio = 0.1
	// DefaultMinRetries is the default retry_budget.min_retries: this many retries per window
	// are always allowed, so that low traffic can still retry. The budget of a window is
	// max(min_retries, ratio * calls).
	DefaultMinRetries = 10
	// MaxMinRetries bounds min_retries.
	MaxMinRetries = 100000
	// DefaultBudgetWindow is the default retry_budget.window, the sliding time window of the
	// budget.
	DefaultBudgetWindow = 60 * time.Second
)

// Defaults and limits of adaptive retry (the adaptive_retry parameter).
const (
	// DefaultAdaptiveWindow is the default adaptive_retry.window: the success rate is taken
	// over the counted calls of this sliding window.
	DefaultAdaptiveWindow = 10 * time.Minute
	// DefaultAdaptiveMinimumCalls is the default adaptive_retry.minimum_calls: with fewer
	// counted calls in the window the configured policy applies unchanged.
	DefaultAdaptiveMinimumCalls = 10
	// DefaultTargetSuccessRate is the default adaptive_retry.target_success_rate: at or above
	// it the configured policy applies unchanged; below it the policy is adapted in proportion
	// to the shortfall (see [Guardrails.Adapt]).
	DefaultTargetSuccessRate = 0.9
	// DefaultMaxDelayFactor is the default adaptive_retry.max_delay_factor: at a success rate
	// of 0, base_delay and max_delay are multiplied by this; never more.
	DefaultMaxDelayFactor = 4.0
	// MaxMaxDelayFactor bounds max_delay_factor.
	MaxMaxDelayFactor = 100.0
	// DefaultAdaptiveMinAttempts is the default adaptive_retry.min_attempts: at a success rate
	// of 0, max_attempts is lowered to this (attempts, not retries: 2 keeps one retry). It
	// never raises max_attempts.
	DefaultAdaptiveMinAttempts = 2
)

// MaxWindow bounds every window, open_duration and max_wait: one day.
const MaxWindow = 24 * time.Hour

// Settings are the guardrails of the operations that share a state directory. Start from
// [DefaultSettings] and check with [Settings.Validate]. Every feature is off unless enabled:
// turning one on changes how failures are reported, so existing playbooks keep their behaviour.
// All processes that use one key should use the same settings; the state files follow whoever
// writes last.
//
// Settings is a plain value: safe for concurrent use as long as nobody modifies it.
type Settings struct {
	// Dir (state_dir) is the state directory; "" means DefaultDir. The files are in its
	// Subdir folder.
	Dir            string
	CircuitBreaker CircuitBreakerSettings
	Bulkhead       BulkheadSettings
	RetryBudget    RetryBudgetSettings
	Adaptive       AdaptiveSettings
}

// CircuitBreakerSettings is the circuit_breaker parameter. See the Default constants.
type CircuitBreakerSettings struct {
	Enabled              bool          // circuit_breaker.enabled, default false
	FailureThreshold     int           // circuit_breaker.failure_threshold, 1 to MaxFailureThreshold
	FailureRateThreshold float64       // circuit_breaker.failure_rate_threshold, 0 (off) to 1
	MinimumCalls         int           // circuit_breaker.minimum_calls, 1 to MaxMinimumCalls
	Window               time.Duration // circuit_breaker.window, above 0 and at most MaxWindow
	OpenDuration         time.Duration // circuit_breaker.open_duration, above 0 and at most MaxWindow
	HalfOpenMaxCalls     int           // circuit_breaker.half_open_max_calls, 1 to MaxHalfOpenMaxCalls
}

// BulkheadSettings is the bulkhead parameter. See the Default constants.
type BulkheadSettings struct {
	Enabled       bool          // bulkhead.enabled, default false
	MaxConcurrent int           // bulkhead.max_concurrent, 1 to MaxMaxConcurrent
	MaxWait       time.Duration // bulkhead.max_wait, 0 (no wait) to MaxWindow
}

// RetryBudgetSettings is the retry_budget parameter. See the Default constants.
type RetryBudgetSettings struct {
	Enabled    bool          // retry_budget.enabled, default false
	Ratio      float64       // retry_budget.ratio, 0 to 1
	MinRetries int           // retry_budget.min_retries, 0 to MaxMinRetries
	Window     time.Duration // retry_budget.window, above 0 and at most MaxWindow
}

// AdaptiveSettings is the adaptive_retry parameter. See the Default constants.
type AdaptiveSettings struct {
	Enabled           bool          // adaptive_retry.enabled, default false
	Window            time.Duration // adaptive_retry.window, above 0 and at most MaxWindow
	MinimumCalls      int           // adaptive_retry.minimum_calls, 1 to MaxMinimumCalls
	TargetSuccessRate float64       // adaptive_retry.target_success_rate, above 0 and at most 1
	MaxDelayFactor    float64       // adaptive_retry.max_delay_factor, 1 to MaxMaxDelayFactor
	MinAttempts       int           // adaptive_retry.min_attempts, retry.MinMaxAttempts to retry.MaxMaxAttempts
}

// DefaultSettings returns every Default constant, with every feature disabled. It is valid.
func DefaultSettings() Settings {
	return Settings{
		Dir: DefaultDir,
		CircuitBreaker: CircuitBreakerSettings{
			FailureThreshold:     DefaultFailureThreshold,
			FailureRateThreshold: DefaultFailureRateThreshold,
			MinimumCalls:         DefaultMinimumCalls,
			Window:               DefaultBreakerWindow,
			OpenDuration:         DefaultOpenDuration,
			HalfOpenMaxCalls:     DefaultHalfOpenMaxCalls,
		},
		Bulkhead: BulkheadSettings{
			MaxConcurrent: DefaultMaxConcurrent,
			MaxWait:       DefaultMaxWait,
		},
		RetryBudget: RetryBudgetSettings{
			Ratio:      DefaultBudgetRatio,
			MinRetries: DefaultMinRetries,
			Window:     DefaultBudgetWindow,
		},
		Adaptive: AdaptiveSettings{
			Window:            DefaultAdaptiveWindow,
			MinimumCalls:      DefaultAdaptiveMinimumCalls,
			TargetSuccessRate: DefaultTargetSuccessRate,
			MaxDelayFactor:    DefaultMaxDelayFactor,
			MinAttempts:       DefaultAdaptiveMinAttempts,
		},
	}
}

// Validate reports every invalid setting, enabled or not, each as a *field.Error
// naming the parameter, what is allowed and what was given, for example
// "circuit_breaker.failure_threshold must be between 1 and 1000, got 0". It returns nil when s
// is valid.
func (s Settings) Validate() error {
	var ps []error
	add := func(param, format string, args ...any) {
		ps = append(ps, &field.Error{Path: param, Problem: fmt.Sprintf(format, args...), Form: field.Sentence})
	}
	intIn := func(param string, v, lo, hi int) {
		if v < lo || v > hi {
			add(param, "must be between %d and %d, got %d", lo, hi, v)
		}
	}
	window := func(param string, d time.Duration, zeroOK bool) {
		switch {
		case d < 0 || (d == 0 && !zeroOK):
			add(param, "must be above 0 seconds and at most %s, got %s", seconds(MaxWindow), seconds(d))
		case d > MaxWindow:
			add(param, "must be at most %s, got %s", seconds(MaxWindow), seconds(d))
		}
	}
	share := func(param string, v float64, zeroOK bool) {
		if math.IsNaN(v) || v < 0 || v > 1 || (v == 0 && !zeroOK) {
			lo := "above 0"
			if zeroOK {
				lo = "0"
			}
			add(param, "must be a number from %s to 1, got %g", lo, v)
		}
	}

	cb := s.CircuitBreaker
	intIn("circuit_breaker.failure_threshold", cb.FailureThreshold, 1, MaxFailureThreshold)
	share("circuit_breaker.failure_rate_threshold", cb.FailureRateThreshold, true)
	intIn("circuit_breaker.minimum_calls", cb.MinimumCalls, 1, MaxMinimumCalls)
	window("circuit_breaker.window", cb.Window, false)
	window("circuit_breaker.open_duration", cb.OpenDuration, false)
	intIn("circuit_breaker.half_open_max_calls", cb.HalfOpenMaxCalls, 1, MaxHalfOpenMaxCalls)

	bh := s.Bulkhead
	intIn("bulkhead.max_concurrent", bh.MaxConcurrent, 1, MaxMaxConcurrent)
	window("bulkhead.max_wait", bh.MaxWait, true)

	rb := s.RetryBudget
	share("retry_budget.ratio", rb.Ratio, true)
	intIn("retry_budget.min_retries", rb.MinRetries, 0, MaxMinRetries)
	window("retry_budget.window", rb.Window, false)

	ad := s.Adaptive
	window("adaptive_retry.window", ad.Window, false)
	intIn("adaptive_retry.minimum_calls", ad.MinimumCalls, 1, MaxMinimumCalls)
	share("adaptive_retry.target_success_rate", ad.TargetSuccessRate, false)
	if f := ad.MaxDelayFactor; math.IsNaN(f) || f < 1 || f > MaxMaxDelayFactor {
		add("adaptive_retry.max_delay_factor", "must be a number from 1 to %g, got %g", MaxMaxDelayFactor, f)
	}
	intIn("adaptive_retry.min_attempts", ad.MinAttempts, retry.MinMaxAttempts, retry.MaxMaxAttempts)
	return errors.Join(ps...)
}

// seconds formats d in seconds, the unit of the Ansible parameters: "2.5s".
func seconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + "s"
}

// secs is d in seconds for the reports, rounded to the millisecond.
func secs(d time.Duration) float64 { return math.Round(d.Seconds()*1000) / 1000 }

// percent formats a share as a percentage: "62.5%".
func percent(f float64) string {
	return strconv.FormatFloat(math.Round(f*1000)/10, 'f', -1, 64) + "%"
}
