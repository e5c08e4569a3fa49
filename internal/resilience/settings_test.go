package resilience

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"resilience.ops/internal/field"
)

func TestDefaultSettings(t *testing.T) {
	t.Parallel()
	s := DefaultSettings()
	if err := s.Validate(); err != nil {
		t.Fatalf("DefaultSettings is not valid: %v", err)
	}
	if s.CircuitBreaker.Enabled || s.Bulkhead.Enabled || s.RetryBudget.Enabled || s.Adaptive.Enabled {
		t.Error("a feature is enabled by default")
	}
	if s.Dir != DefaultDir {
		t.Errorf("Dir = %q, want %q", s.Dir, DefaultDir)
	}
	g, err := New(Settings{CircuitBreaker: s.CircuitBreaker, Bulkhead: s.Bulkhead, RetryBudget: s.RetryBudget, Adaptive: s.Adaptive})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := g.Dir(), DefaultDir+"/"+Subdir; got != want {
		t.Errorf("Dir() = %q, want %q", got, want)
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		modify func(*Settings)
		want   string // the whole message of the one error
	}{
		{"failure_threshold 0", func(s *Settings) { s.CircuitBreaker.FailureThreshold = 0 },
			"circuit_breaker.failure_threshold must be between 1 and 1000, got 0"},
		{"failure_rate_threshold above 1", func(s *Settings) { s.CircuitBreaker.FailureRateThreshold = 1.5 },
			"circuit_breaker.failure_rate_threshold must be a number from 0 to 1, got 1.5"},
		{"failure_rate_threshold NaN", func(s *Settings) { s.CircuitBreaker.FailureRateThreshold = math.NaN() },
			"circuit_breaker.failure_rate_threshold must be a number from 0 to 1, got NaN"},
		{"minimum_calls 0", func(s *Settings) { s.CircuitBreaker.MinimumCalls = 0 },
			"circuit_breaker.minimum_calls must be between 1 and 100000, got 0"},
		{"window 0", func(s *Settings) { s.CircuitBreaker.Window = 0 },
			"circuit_breaker.window must be above 0 seconds and at most 86400s, got 0s"},
		{"open_duration too long", func(s *Settings) { s.CircuitBreaker.OpenDuration = 25 * time.Hour },
			"circuit_breaker.open_duration must be at most 86400s, got 90000s"},
		{"half_open_max_calls 0", func(s *Settings) { s.CircuitBreaker.HalfOpenMaxCalls = 0 },
			"circuit_breaker.half_open_max_calls must be between 1 and 100, got 0"},
		{"max_concurrent 0", func(s *Settings) { s.Bulkhead.MaxConcurrent = 0 },
			"bulkhead.max_concurrent must be between 1 and 256, got 0"},
		{"max_wait negative", func(s *Settings) { s.Bulkhead.MaxWait = -time.Second },
			"bulkhead.max_wait must be above 0 seconds and at most 86400s, got -1s"},
		{"ratio negative", func(s *Settings) { s.RetryBudget.Ratio = -0.1 },
			"retry_budget.ratio must be a number from 0 to 1, got -0.1"},
		{"min_retries negative", func(s *Settings) { s.RetryBudget.MinRetries = -1 },
			"retry_budget.min_retries must be between 0 and 100000, got -1"},
		{"budget window 0", func(s *Settings) { s.RetryBudget.Window = 0 },
			"retry_budget.window must be above 0 seconds and at most 86400s, got 0s"},
		{"adaptive window 0", func(s *Settings) { s.Adaptive.Window = 0 },
			"adaptive_retry.window must be above 0 seconds and at most 86400s, got 0s"},
		{"adaptive minimum_calls 0", func(s *Settings) { s.Adaptive.MinimumCalls = 0 },
			"adaptive_retry.minimum_calls must be between 1 and 100000, got 0"},
		{"target_success_rate 0", func(s *Settings) { s.Adaptive.TargetSuccessRate = 0 },
			"adaptive_retry.target_success_rate must be a number from above 0 to 1, got 0"},
		{"max_delay_factor below 1", func(s *Settings) { s.Adaptive.MaxDelayFactor = 0.5 },
			"adaptive_retry.max_delay_factor must be a number from 1 to 100, got 0.5"},
		{"min_attempts 11", func(s *Settings) { s.Adaptive.MinAttempts = 11 },
			"adaptive_retry.min_attempts must be between 1 and 10, got 11"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := DefaultSettings()
			tt.modify(&s)
			err := s.Validate()
			if err == nil || err.Error() != tt.want {
				t.Fatalf("Validate() = %v, want %q", err, tt.want)
			}
			var ve *field.Error
			if !errors.As(err, &ve) || !strings.HasPrefix(tt.want, ve.Path+" ") {
				t.Errorf("error is not a *field.Error naming the parameter: %#v", err)
			}
			if _, err := New(s); err == nil {
				t.Error("New accepted invalid settings")
			}
		})
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	t.Parallel()
	err := Settings{}.Validate()
	if err == nil {
		t.Fatal("the zero Settings are valid")
	}
	for _, param := range []string{
		"circuit_breaker.failure_threshold", "circuit_breaker.minimum_calls", "circuit_breaker.window",
		"circuit_breaker.open_duration", "circuit_breaker.half_open_max_calls", "bulkhead.max_concurrent",
		"retry_budget.window", "adaptive_retry.window", "adaptive_retry.minimum_calls",
		"adaptive_retry.target_success_rate", "adaptive_retry.max_delay_factor", "adaptive_retry.min_attempts",
	} {
		if !strings.Contains(err.Error(), param+" ") {
			t.Errorf("error does not name %s:\n%v", param, err)
		}
	}
}
