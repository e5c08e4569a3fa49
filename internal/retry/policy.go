package retry

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"resilience.ops/internal/field"
)

// PolicyKind says how the delay grows from one retry to the next: the
// retry_policy parameter. It is a string value: safe for concurrent use.
type PolicyKind string

// The retry policies. In the formulas n counts retries, not attempts: with
// max_attempts 3 there are two retries, so two delays.
const (
	// ExponentialBackoff (the default): delay = min(base_delay *
	// backoff_multiplier^n, max_delay) for the n-th retry counted from 0.
	// Base 5 s, multiplier 2 gives 5, 10, 20, 40, 80 s.
	ExponentialBackoff PolicyKind = "exponential_backoff"
	// LinearBackoff: delay = min(base_delay * n, max_delay) for the n-th retry
	// counted from 1. Base 10 s gives 10, 20, 30, 40, 50 s.
	LinearBackoff PolicyKind = "linear_backoff"
	// FixedDelay: delay = base_delay before every retry.
	FixedDelay PolicyKind = "fixed_delay"
)

var policyKinds = []PolicyKind{ExponentialBackoff, LinearBackoff, FixedDelay}

// JitterMode says how randomness is applied to the policy's delay: the
// jitter_mode parameter. Jitter spreads out clients that failed together,
// so that they do not all retry at the same instant (the thundering herd).
// The modes trade total calls (contention on the server) against how long
// the slowest client takes to finish; the notes below follow the AWS
// Architecture Blog post "Exponential Backoff And Jitter".
// A JitterMode is a string value: safe for concurrent use.
type JitterMode string

// The jitter modes. Let d be the policy's delay for the retry (already
// capped by max_delay) and U[a, b] a uniform random value between a and b.
const (
	// JitterNone uses d as is. Clients that failed together retry together:
	// under contention the most calls and the longest completion time, but
	// the schedule is exact.
	JitterNone JitterMode = "none"
	// JitterAdditive (the default when jitter is enabled) waits
	// d + U[0, AdditiveJitterShare*d]. It keeps the documented schedule
	// (5, 10, 20 s become at most 5.5, 11, 22 s) and de-synchronises clients
	// only slightly, so it behaves close to none under contention. Because
	// the share is added after the max_delay cap, the wait may exceed
	// max_delay by up to AdditiveJitterShare: clients that reached the cap
	// stay spread out.
	JitterAdditive JitterMode = "additive"
	// JitterFull waits U[0, d]: the fewest total calls of all modes, with a
	// completion time slightly longer than decorrelated. Some waits are
	// close to zero.
	JitterFull JitterMode = "full"
	// JitterEqual waits d/2 + U[0, d/2]: never less than half the delay, at
	// the price of slightly more calls than full and a much longer
	// completion time.
	JitterEqual JitterMode = "equal"
	// JitterDecorrelated waits min(max_delay, U[base_delay, prev*DecorrelatedJitterGrowth]),
	// where prev is the previous wait (base_delay before the first retry).
	// It replaces the policy's growth: retry_policy and backoff_multiplier
	// are not used. Slightly more calls than full, slightly shorter
	// completion time.
	JitterDecorrelated JitterMode = "decorrelated"
)

var jitterModes = []JitterMode{JitterNone, JitterAdditive, JitterFull, JitterEqual, JitterDecorrelated}

// Defaults and limits of the settings. A Default constant is the value a
// setting takes when neither the global settings nor the operation's
// settings give one (see [Resolve]); Min and Max constants bound what
// [Policy.Validate] accepts.
const (
	// DefaultMaxAttempts is the default max_attempts. It counts attempts, not
	// retries: 3 means the first attempt and at most 2 retries.
	DefaultMaxAttempts = 3
	// MinMaxAttempts and MaxMaxAttempts bound max_attempts. 1 means no retry.
	MinMaxAttempts = 1
	MaxMaxAttempts = 10
	// DefaultRetryPolicy is the default retry_policy.
	DefaultRetryPolicy = ExponentialBackoff
	// DefaultBaseDelay is the default base_delay: the first retry's delay for
	// exponential_backoff and linear_backoff, every delay for fixed_delay.
	DefaultBaseDelay = 5 * time.Second
	// DefaultMaxDelay is the default max_delay, the cap on any one delay
	// (before additive jitter; see JitterAdditive). It is NOT a total time
	// budget: that is max_total_time.
	DefaultMaxDelay = 300 * time.Second
	// DefaultBackoffMultiplier is the default backoff_multiplier, used by
	// exponential_backoff only.
	DefaultBackoffMultiplier = 2.0
	// MinBackoffMultiplier is the smallest backoff_multiplier: delays never shrink.
	MinBackoffMultiplier = 1.0
	// MaxBackoffMultiplier is the largest backoff_multiplier: 100 reaches max_delay from a
	// millisecond in four retries.
	MaxBackoffMultiplier = 100.0
	// MaxDuration is the largest base_delay, max_delay, max_total_time and attempt_timeout (and
	// of the retry_backoff tool's seconds): one day. Larger values are refused, never clamped.
	MaxDuration = 24 * time.Hour
	// MinTimeout is the smallest max_total_time and attempt_timeout besides 0 (none): a positive
	// value below it is refused rather than rounded to 0, which would mean no limit at all.
	MinTimeout = time.Millisecond
	// DefaultJitterEnabled is the default jitter_enabled. When false no
	// jitter is applied, whatever jitter_mode says.
	DefaultJitterEnabled = true
	// DefaultJitterMode is the default jitter_mode.
	DefaultJitterMode = JitterAdditive
	// AdditiveJitterShare is the largest share of the delay that
	// JitterAdditive adds: 0.1 adds up to 10%.
	AdditiveJitterShare = 0.1
	// DecorrelatedJitterGrowth is the factor on the previous wait that bounds
	// the next one in JitterDecorrelated (3, as in the AWS post).
	DecorrelatedJitterGrowth = 3.0
	// DefaultMaxTotalTime is the default max_total_time: 0, no overall deadline.
	DefaultMaxTotalTime time.Duration = 0
	// DefaultAttemptTimeout is the default attempt_timeout: 0, attempts are
	// not bounded one by one.
	DefaultAttemptTimeout time.Duration = 0
	// DefaultRetryUnknown is the default of retry_unknown: a failure that no
	// rule classifies is retried, as Ansible's until loop retries any failure.
	DefaultRetryUnknown = true
)

// Policy is the complete set of retry settings for one operation. Start from
// [DefaultPolicy] or [Resolve] and check it with [Policy.Validate]: the zero
// Policy is not valid. The comments give each field's Ansible parameter.
//
// Policy is a plain value: safe for concurrent use as long as nobody
// modifies it, including the backing array of RetryConditions.
type Policy struct {
	// MaxAttempts (max_attempts) is the number of attempts, from
	// MinMaxAttempts to MaxMaxAttempts. It is NOT the number of retries.
	MaxAttempts int
	// RetryPolicy (retry_policy) sets how the delay grows.
	RetryPolicy PolicyKind
	// BaseDelay (base_delay) is the starting delay, zero or more.
	BaseDelay time.Duration
	// MaxDelay (max_delay) caps each delay, at least BaseDelay.
	MaxDelay time.Duration
	// BackoffMultiplier (backoff_multiplier) is the growth factor of
	// exponential_backoff, finite and at least MinBackoffMultiplier.
	BackoffMultiplier float64
	// JitterEnabled (jitter_enabled) turns jitter on; JitterMode says which.
	JitterEnabled bool
	// JitterMode (jitter_mode) applies only when JitterEnabled is true.
	JitterMode JitterMode
	// MaxTotalTime (max_total_time) is the overall deadline from the start of
	// the first attempt; 0 means none. The engine bounds attempts by it and
	// does not retry when the next delay would reach it.
	MaxTotalTime time.Duration
	// AttemptTimeout (attempt_timeout) bounds each attempt; 0 means none.
	AttemptTimeout time.Duration
	// RetryConditions (retry_conditions) lists the error types that are
	// retried. The list is used as is: empty retries nothing but, with
	// RetryUnknown, unknown_error. Reserved types are not allowed.
	RetryConditions []ErrorType
	// RetryUnknown (retry_unknown) also retries unknown_error, the type of
	// failures no rule matched.
	RetryUnknown bool
}

// DefaultPolicy returns the default settings, each one of the Default
// constants above. It is valid.
func DefaultPolicy() Policy {
	return Policy{
		MaxAttempts:       DefaultMaxAttempts,
		RetryPolicy:       DefaultRetryPolicy,
		BaseDelay:         DefaultBaseDelay,
		MaxDelay:          DefaultMaxDelay,
		BackoffMultiplier: DefaultBackoffMultiplier,
		JitterEnabled:     DefaultJitterEnabled,
		JitterMode:        DefaultJitterMode,
		MaxTotalTime:      DefaultMaxTotalTime,
		AttemptTimeout:    DefaultAttemptTimeout,
		RetryConditions:   DefaultRetryConditions(),
		RetryUnknown:      DefaultRetryUnknown,
	}
}

// invalid is one invalid setting or classification rule: a *field.Error in the Sentence form,
// whose Path is the Ansible parameter ("max_attempts") or the rule field ("rules[2].pattern").
// [Policy.Validate] and [NewClassifier] join several with errors.Join.
func invalid(param, format string, args ...any) *field.Error {
	return &field.Error{Path: param, Problem: fmt.Sprintf(format, args...), Form: field.Sentence}
}

// problems collects invalid settings.
type problems []error

func (ps *problems) add(param, format string, args ...any) {
	*ps = append(*ps, invalid(param, format, args...))
}

// Validate reports every invalid setting, each as a *field.Error naming
// the parameter, what is allowed and what was given, for example
// "max_attempts must be between 1 and 10, got 0". It returns nil when p is
// valid.
func (p Policy) Validate() error {
	var ps problems
	if p.MaxAttempts < MinMaxAttempts || p.MaxAttempts > MaxMaxAttempts {
		ps.add("max_attempts", "must be between %d and %d, got %d", MinMaxAttempts, MaxMaxAttempts, p.MaxAttempts)
	}
	if !slices.Contains(policyKinds, p.RetryPolicy) {
		ps.add("retry_policy", "must be one of %s, got %q", joinStrings(policyKinds), p.RetryPolicy)
	}
	switch {
	case p.BaseDelay < 0:
		ps.add("base_delay", "must not be negative, got %s", seconds(p.BaseDelay))
	case p.BaseDelay > MaxDuration:
		ps.add("base_delay", "must be at most %s, got %s", seconds(MaxDuration), seconds(p.BaseDelay))
	}
	switch {
	case p.MaxDelay < 0:
		ps.add("max_delay", "must not be negative, got %s", seconds(p.MaxDelay))
	case p.MaxDelay < p.BaseDelay:
		ps.add("max_delay", "must be at least base_delay (%s), got %s", seconds(p.BaseDelay), seconds(p.MaxDelay))
	case p.MaxDelay > MaxDuration:
		ps.add("max_delay", "must be at most %s, got %s", seconds(MaxDuration), seconds(p.MaxDelay))
	}
	switch m := p.BackoffMultiplier; {
	case math.IsNaN(m) || math.IsInf(m, 0) || m < MinBackoffMultiplier:
		ps.add("backoff_multiplier", "must be a finite number of at least %g, got %g", MinBackoffMultiplier, m)
	case m > MaxBackoffMultiplier:
		ps.add("backoff_multiplier", "must be at most %g, got %g", MaxBackoffMultiplier, m)
	}
	if !slices.Contains(jitterModes, p.JitterMode) {
		ps.add("jitter_mode", "must be one of %s, got %q", joinStrings(jitterModes), p.JitterMode)
	}
	switch d := p.MaxTotalTime; {
	case d < 0:
		ps.add("max_total_time", "must not be negative (0 means no deadline), got %s", seconds(d))
	case d > 0 && d < MinTimeout || d > MaxDuration:
		ps.add("max_total_time", "must be 0 (no deadline) or between %s and %s, got %s", seconds(MinTimeout), seconds(MaxDuration), seconds(d))
	}
	switch d := p.AttemptTimeout; {
	case d < 0:
		ps.add("attempt_timeout", "must not be negative (0 means no timeout), got %s", seconds(d))
	case d > 0 && d < MinTimeout || d > MaxDuration:
		ps.add("attempt_timeout", "must be 0 (no timeout) or between %s and %s, got %s", seconds(MinTimeout), seconds(MaxDuration), seconds(d))
	}
	for i, t := range p.RetryConditions {
		param := fmt.Sprintf("retry_conditions[%d]", i)
		switch {
		case t.Reserved():
			ps.add(param, "must not be %s: reserved error types are never retried", t)
		case !t.Known():
			ps.add(param, "must be one of %s, got %q", joinStrings(assignableTypes()), t)
		}
	}
	return errors.Join(ps...)
}

// assignableTypes lists the error types allowed in retry_conditions and as a
// rule's error_type: all but the reserved ones.
func assignableTypes() []ErrorType {
	return slices.DeleteFunc(ErrorTypes(), ErrorType.Reserved)
}

// ShouldRetry reports whether a failure of type t may be retried: t is in
// RetryConditions, or t is unknown_error and RetryUnknown is set. Reserved
// types are never retried. Whether attempts or time remain is the engine's
// business, not this method's.
func (p Policy) ShouldRetry(t ErrorType) bool {
	switch {
	case t.Reserved():
		return false
	case slices.Contains(p.RetryConditions, t):
		return true
	default:
		return t == UnknownError && p.RetryUnknown
	}
}

// jitterMode is the mode in effect: none when jitter is disabled.
func (p Policy) jitterMode() JitterMode {
	if !p.JitterEnabled {
		return JitterNone
	}
	return p.JitterMode
}

// seconds formats d in seconds, the unit of the Ansible parameters: "2.5s".
func seconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + "s"
}

func joinStrings[S ~string](values []S) string {
	parts := make([]string, len(values))
	for i, v := range values {
		parts[i] = string(v)
	}
	return strings.Join(parts, ", ")
}
