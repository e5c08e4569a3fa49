package resilience

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"resilience.ops/internal/retry"
)

func TestAdapt(t *testing.T) {
	t.Parallel()
	s := DefaultSettings().Adaptive // window 10m, minimum_calls 10, target 90%, factor 4, min_attempts 2
	s.Enabled = true
	now := t0.Add(time.Hour)
	at := now.Truncate(bucketWidth(s.Window))
	p := retry.DefaultPolicy()
	p.MaxAttempts = 5
	tests := []struct {
		name                string
		successes, failures int
		wantAdapted         bool
		wantFactor          float64
		wantAttempts        int
		wantReason          string
	}{
		{name: "no history", wantFactor: 1, wantAttempts: 5,
			wantReason: "0 counted calls in the last 600s, fewer than minimum_calls 10: the configured policy applies"},
		{name: "too little history", failures: 9, wantFactor: 1, wantAttempts: 5,
			wantReason: "9 counted calls in the last 600s, fewer than minimum_calls 10: the configured policy applies"},
		{name: "healthy", successes: 9, failures: 1, wantFactor: 1, wantAttempts: 5,
			wantReason: "success rate 90% of 10 counted calls in the last 600s is at or above target_success_rate 90%: the configured policy applies"},
		{name: "half the target", successes: 9, failures: 11, wantAdapted: true, wantFactor: 2.5, wantAttempts: 3,
			wantReason: "success rate 45% of 20 counted calls in the last 600s is below target_success_rate 90%: delays x2.5 (max_delay_factor 4), 5s -> 12.5s base_delay, 300s -> 750s max_delay, 5 -> 3 max_attempts"},
		{name: "down", failures: 10, wantAdapted: true, wantFactor: 4, wantAttempts: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			history := Series{{Start: at, Successes: tt.successes, Failures: tt.failures}}
			q, a := s.adapt(history, now, p)
			if a.Adapted != tt.wantAdapted || a.DelayFactor != tt.wantFactor || q.MaxAttempts != tt.wantAttempts {
				t.Fatalf("adapt = %s, max_attempts %d", toJSON(a), q.MaxAttempts)
			}
			if tt.wantReason != "" && a.Reason != tt.wantReason {
				t.Errorf("reason = %q\nwant     %q", a.Reason, tt.wantReason)
			}
			if got, want := q.BaseDelay, scale(p.BaseDelay, tt.wantFactor); got != want {
				t.Errorf("base_delay = %s, want %s", got, want)
			}
			if got, want := q.MaxDelay, scale(p.MaxDelay, tt.wantFactor); got != want {
				t.Errorf("max_delay = %s, want %s", got, want)
			}
			if err := q.Validate(); err != nil {
				t.Errorf("the adapted policy is not valid: %v", err)
			}
			if !tt.wantAdapted && (len(a.Changes) != 0 || !cmp.Equal(p, q)) {
				t.Errorf("not adapted, but the policy changed: %s", toJSON(a))
			}
		})
	}
}

func TestAdaptBounds(t *testing.T) {
	t.Parallel()
	s := DefaultSettings().Adaptive
	s.MinAttempts = 4
	now := t0
	down := Series{{Start: now.Truncate(bucketWidth(s.Window)), Failures: 50}}
	t.Run("never raises max_attempts", func(t *testing.T) {
		t.Parallel()
		p := retry.DefaultPolicy() // 3 attempts, below min_attempts 4
		q, _ := s.adapt(down, now, p)
		if q.MaxAttempts != 3 {
			t.Errorf("max_attempts = %d, want 3", q.MaxAttempts)
		}
	})
	t.Run("nothing to adapt", func(t *testing.T) {
		t.Parallel()
		p := retry.DefaultPolicy()
		p.BaseDelay, p.MaxDelay, p.MaxAttempts = 0, 0, 1
		q, a := s.adapt(down, now, p)
		if a.Adapted || !cmp.Equal(p, q) || !strings.Contains(a.Reason, "nothing to adapt") {
			t.Errorf("adapt = %s", toJSON(a))
		}
	})
}

// The policy follows the service: adapted while it fails, back to the configured one as the
// failures leave the window.
func TestAdaptFollowsRecovery(t *testing.T) { eachStore(t, testAdaptFollowsRecovery) }

func testAdaptFollowsRecovery(t *testing.T, b backend) {
	t.Parallel()
	s := DefaultSettings()
	s.Dir = t.TempDir()
	s.Adaptive.Enabled = true
	s.Adaptive.Window = 10 * time.Minute
	g, clk := b.newTest(t, s)
	p := retry.DefaultPolicy()

	for range 10 {
		attempt(t, g, key, retry.ServiceUnavailable)
	}
	q, a, err := g.Adapt(key, p)
	if err != nil {
		t.Fatal(err)
	}
	if !a.Adapted || q.BaseDelay != 4*p.BaseDelay || q.MaxAttempts != 2 {
		t.Fatalf("while failing: %s", toJSON(a))
	}
	// Recovering: successes dilute the failures.
	clk.Advance(5 * time.Minute)
	for range 10 {
		attempt(t, g, key, "")
	}
	q, a, _ = g.Adapt(key, p)
	if !a.Adapted || q.BaseDelay >= 4*p.BaseDelay || q.BaseDelay <= p.BaseDelay || *a.SuccessRate != 0.5 {
		t.Fatalf("recovering: %s", toJSON(a))
	}
	// The failures leave the window: the configured policy again.
	clk.Advance(5*time.Minute + time.Second)
	q, a, _ = g.Adapt(key, p)
	if a.Adapted || !cmp.Equal(p, q) || *a.SuccessRate != 1 {
		t.Fatalf("recovered: %s", toJSON(a))
	}
	// Failures the policy does not retry say nothing about the service.
	for range 20 {
		attempt(t, g, key, retry.AuthenticationError)
	}
	if _, a, _ = g.Adapt(key, p); a.Adapted || a.Calls != 10 {
		t.Fatalf("after ignored failures: %s", toJSON(a))
	}
}
