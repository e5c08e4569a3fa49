package retry

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"resilience.ops/internal/field"
)

func TestDefaultPolicy(t *testing.T) {
	t.Parallel()
	want := Policy{
		MaxAttempts:       3,
		RetryPolicy:       "exponential_backoff",
		BaseDelay:         5 * time.Second,
		MaxDelay:          300 * time.Second,
		BackoffMultiplier: 2.0,
		JitterEnabled:     true,
		JitterMode:        "additive",
		MaxTotalTime:      0,
		AttemptTimeout:    0,
		RetryConditions: []ErrorType{
			"connection_error", "timeout", "temporary_failure", "network_error",
			"service_unavailable", "rate_limit_exceeded", "resource_busy",
		},
		RetryUnknown: true,
	}
	got := DefaultPolicy()
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("DefaultPolicy() mismatch (-want +got):\n%s", diff)
	}
	if err := got.Validate(); err != nil {
		t.Errorf("DefaultPolicy().Validate() = %v, want nil", err)
	}
	if MinMaxAttempts != 1 || MaxMaxAttempts != 10 || AdditiveJitterShare != 0.1 || DecorrelatedJitterGrowth != 3 {
		t.Errorf("limits = %d, %d, %g, %g; want 1, 10, 0.1, 3", MinMaxAttempts, MaxMaxAttempts, AdditiveJitterShare, DecorrelatedJitterGrowth)
	}
	// The slice is fresh each time.
	got.RetryConditions[0] = "x"
	if DefaultPolicy().RetryConditions[0] != ConnectionError {
		t.Error("DefaultPolicy shares RetryConditions between calls")
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		modify func(*Policy)
		want   []string // one message per problem, in order
	}{
		{"default is valid", func(*Policy) {}, nil},
		{"one attempt", func(p *Policy) { p.MaxAttempts = 1 }, nil},
		{"ten attempts", func(p *Policy) { p.MaxAttempts = 10 }, nil},
		{"zero delays", func(p *Policy) { p.BaseDelay, p.MaxDelay = 0, 0 }, nil},
		{"max equals base", func(p *Policy) { p.BaseDelay, p.MaxDelay = 10*time.Second, 10*time.Second }, nil},
		{"multiplier one", func(p *Policy) { p.BackoffMultiplier = 1 }, nil},
		{"unknown_error listed", func(p *Policy) { p.RetryConditions = []ErrorType{UnknownError} }, nil},
		{"empty conditions", func(p *Policy) { p.RetryConditions = []ErrorType{} }, nil},
		{"jitter mode checked when disabled", func(p *Policy) { p.JitterEnabled = false; p.JitterMode = JitterNone }, nil},
		{"zero attempts", func(p *Policy) { p.MaxAttempts = 0 },
			[]string{"max_attempts must be between 1 and 10, got 0"}},
		{"eleven attempts", func(p *Policy) { p.MaxAttempts = 11 },
			[]string{"max_attempts must be between 1 and 10, got 11"}},
		{"unknown policy", func(p *Policy) { p.RetryPolicy = "random" },
			[]string{`retry_policy must be one of exponential_backoff, linear_backoff, fixed_delay, got "random"`}},
		{"negative base", func(p *Policy) { p.BaseDelay = -time.Second },
			[]string{"base_delay must not be negative, got -1s"}},
		{"negative max", func(p *Policy) { p.MaxDelay = -1500 * time.Millisecond },
			[]string{"max_delay must not be negative, got -1.5s"}},
		{"max below base", func(p *Policy) { p.BaseDelay, p.MaxDelay = 10*time.Second, 5*time.Second },
			[]string{"max_delay must be at least base_delay (10s), got 5s"}},
		{"multiplier below one", func(p *Policy) { p.BackoffMultiplier = 0.5 },
			[]string{"backoff_multiplier must be a finite number of at least 1, got 0.5"}},
		{"multiplier NaN", func(p *Policy) { p.BackoffMultiplier = math.NaN() },
			[]string{"backoff_multiplier must be a finite number of at least 1, got NaN"}},
		{"multiplier Inf", func(p *Policy) { p.BackoffMultiplier = math.Inf(1) },
			[]string{"backoff_multiplier must be a finite number of at least 1, got +Inf"}},
		{"unknown jitter", func(p *Policy) { p.JitterMode = "wild" },
			[]string{`jitter_mode must be one of none, additive, full, equal, decorrelated, got "wild"`}},
		{"empty jitter", func(p *Policy) { p.JitterMode = "" },
			[]string{`jitter_mode must be one of none, additive, full, equal, decorrelated, got ""`}},
		{"negative total", func(p *Policy) { p.MaxTotalTime = -time.Second },
			[]string{"max_total_time must not be negative (0 means no deadline), got -1s"}},
		{"negative attempt timeout", func(p *Policy) { p.AttemptTimeout = -time.Second },
			[]string{"attempt_timeout must not be negative (0 means no timeout), got -1s"}},
		{"largest durations", func(p *Policy) {
			p.BaseDelay, p.MaxDelay, p.MaxTotalTime, p.AttemptTimeout = MaxDuration, MaxDuration, MaxDuration, MaxDuration
		}, nil},
		{"smallest timeouts", func(p *Policy) { p.MaxTotalTime, p.AttemptTimeout = MinTimeout, MinTimeout }, nil},
		{"largest multiplier", func(p *Policy) { p.BackoffMultiplier = MaxBackoffMultiplier }, nil},
		{"base above a day", func(p *Policy) { p.BaseDelay, p.MaxDelay = MaxDuration+1, MaxDuration+1 },
			[]string{"base_delay must be at most 86400s, got 86400.000000001s", "max_delay must be at most 86400s, got 86400.000000001s"}},
		{"multiplier above 100", func(p *Policy) { p.BackoffMultiplier = 1000 },
			[]string{"backoff_multiplier must be at most 100, got 1000"}},
		{"total time below a millisecond", func(p *Policy) { p.MaxTotalTime = time.Microsecond },
			[]string{"max_total_time must be 0 (no deadline) or between 0.001s and 86400s, got 0.000001s"}},
		{"total time above a day", func(p *Policy) { p.MaxTotalTime = 25 * time.Hour },
			[]string{"max_total_time must be 0 (no deadline) or between 0.001s and 86400s, got 90000s"}},
		{"attempt timeout below a millisecond", func(p *Policy) { p.AttemptTimeout = 1 },
			[]string{"attempt_timeout must be 0 (no timeout) or between 0.001s and 86400s, got 0.000000001s"}},
		{"attempt timeout above a day", func(p *Policy) { p.AttemptTimeout = math.MaxInt64 },
			[]string{"attempt_timeout must be 0 (no timeout) or between 0.001s and 86400s, got 9223372036.854776s"}},
		{"unknown condition", func(p *Policy) { p.RetryConditions = []ErrorType{Timeout, "flaky"} },
			[]string{`retry_conditions[1] must be one of connection_error, timeout, temporary_failure, network_error, service_unavailable, rate_limit_exceeded, resource_busy, authentication_error, authorization_error, permission_error, resource_not_found, configuration_error, invalid_parameter, quota_exceeded, unknown_error, got "flaky"`}},
		{"reserved condition", func(p *Policy) { p.RetryConditions = []ErrorType{CircuitOpen} },
			[]string{"retry_conditions[0] must not be circuit_open: reserved error types are never retried"}},
		{"several problems", func(p *Policy) { p.MaxAttempts = 0; p.BaseDelay = -time.Second; p.MaxDelay = -time.Second },
			[]string{
				"max_attempts must be between 1 and 10, got 0",
				"base_delay must not be negative, got -1s",
				"max_delay must not be negative, got -1s",
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := DefaultPolicy()
			tt.modify(&p)
			err := p.Validate()
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want %q", tt.want)
			}
			if got := strings.Split(err.Error(), "\n"); !cmp.Equal(got, tt.want) {
				t.Errorf("Validate() messages mismatch (-want +got):\n%s", cmp.Diff(tt.want, got))
			}
			var ve *field.Error
			if !errors.As(err, &ve) {
				t.Errorf("Validate() error %T has no *field.Error", err)
			}
		})
	}
}

func TestValidationErrorParam(t *testing.T) {
	t.Parallel()
	p := DefaultPolicy()
	p.BackoffMultiplier = 0
	var ve *field.Error
	if !errors.As(p.Validate(), &ve) {
		t.Fatal("no *field.Error")
	}
	if ve.Path != "backoff_multiplier" {
		t.Errorf("Param = %q, want backoff_multiplier", ve.Path)
	}
}

func TestShouldRetry(t *testing.T) {
	t.Parallel()
	noUnknown := DefaultPolicy()
	noUnknown.RetryUnknown = false
	only := DefaultPolicy()
	only.RetryConditions = []ErrorType{Timeout}
	only.RetryUnknown = false
	listedUnknown := only
	listedUnknown.RetryConditions = []ErrorType{UnknownError}
	reserved := DefaultPolicy()
	reserved.RetryConditions = []ErrorType{CircuitOpen} // invalid, but never retried anyway

	tests := []struct {
		name   string
		policy Policy
		typ    ErrorType
		want   bool
	}{
		{"default connection_error", DefaultPolicy(), ConnectionError, true},
		{"default timeout", DefaultPolicy(), Timeout, true},
		{"default temporary_failure", DefaultPolicy(), TemporaryFailure, true},
		{"default network_error", DefaultPolicy(), NetworkError, true},
		{"default service_unavailable", DefaultPolicy(), ServiceUnavailable, true},
		{"default rate_limit_exceeded", DefaultPolicy(), RateLimitExceeded, true},
		{"default resource_busy", DefaultPolicy(), ResourceBusy, true},
		{"default authentication_error", DefaultPolicy(), AuthenticationError, false},
		{"default authorization_error", DefaultPolicy(), AuthorizationError, false},
		{"default permission_error", DefaultPolicy(), PermissionError, false},
		{"default resource_not_found", DefaultPolicy(), ResourceNotFound, false},
		{"default configuration_error", DefaultPolicy(), ConfigurationError, false},
		{"default invalid_parameter", DefaultPolicy(), InvalidParameter, false},
		{"default quota_exceeded", DefaultPolicy(), QuotaExceeded, false},
		{"default unknown_error", DefaultPolicy(), UnknownError, true},
		{"default circuit_open", DefaultPolicy(), CircuitOpen, false},
		{"default bulkhead_full", DefaultPolicy(), BulkheadFull, false},
		{"default retry_budget_exhausted", DefaultPolicy(), RetryBudgetExhausted, false},
		{"retry_unknown false", noUnknown, UnknownError, false},
		{"custom list keeps listed", only, Timeout, true},
		{"custom list drops others", only, ConnectionError, false},
		{"unknown_error listed", listedUnknown, UnknownError, true},
		{"reserved never", reserved, CircuitOpen, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.policy.ShouldRetry(tt.typ); got != tt.want {
				t.Errorf("ShouldRetry(%s) = %v, want %v", tt.typ, got, tt.want)
			}
		})
	}
}

func TestErrorTypes(t *testing.T) {
	t.Parallel()
	got := ErrorTypes()
	if len(got) != 18 {
		t.Fatalf("len(ErrorTypes()) = %d, want 18", len(got))
	}
	for _, typ := range got {
		if !typ.Known() {
			t.Errorf("%s.Known() = false", typ)
		}
	}
	if ErrorType("nope").Known() {
		t.Error(`"nope".Known() = true`)
	}
	for _, typ := range []ErrorType{CircuitOpen, BulkheadFull, RetryBudgetExhausted} {
		if !typ.Reserved() {
			t.Errorf("%s.Reserved() = false", typ)
		}
	}
	if UnknownError.Reserved() {
		t.Error("unknown_error is reserved")
	}
}

func TestDecide(t *testing.T) {
	t.Parallel()
	p := DefaultPolicy()
	p.JitterEnabled = false
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name       string
		n          int
		typ        ErrorType
		retryAfter time.Duration
		deadline   time.Time
		reason     StopReason
		delay      time.Duration
	}{
		{"retryable", 1, ConnectionError, 0, time.Time{}, "", 5 * time.Second},
		{"second retry", 2, Timeout, 0, time.Time{}, "", 10 * time.Second},
		{"retry-after lengthens", 1, RateLimitExceeded, 30 * time.Second, time.Time{}, "", 30 * time.Second},
		{"non-retryable", 1, AuthenticationError, 0, time.Time{}, StopNonRetryable, 0},
		{"non-retryable wins over exhausted", 3, AuthenticationError, 0, time.Time{}, StopNonRetryable, 0},
		{"exhausted", 3, ConnectionError, 0, time.Time{}, StopAttemptsExhausted, 0},
		{"reserved types are rejected, never retried", 1, CircuitOpen, 0, time.Time{}, StopRejected, 0},
		{"the wait would reach the deadline", 1, ConnectionError, 0, now.Add(5 * time.Second), StopDeadlineExceeded, 0},
		{"the wait ends before the deadline", 1, ConnectionError, 0, now.Add(6 * time.Second), "", 5 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			reason, delay := p.Decide(tc.n, tc.typ, 0, tc.retryAfter, now, tc.deadline, nil)
			if reason != tc.reason || delay != tc.delay {
				t.Errorf("Decide = %q, %s; want %q, %s", reason, delay, tc.reason, tc.delay)
			}
		})
	}
}
