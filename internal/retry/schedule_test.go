package retry

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestSchedule(t *testing.T) {
	t.Parallel()
	with := func(f func(*Policy)) Policy {
		p := DefaultPolicy()
		f(&p)
		return p
	}
	type d = []time.Duration
	tests := []struct {
		name         string
		policy       Policy
		delay, worst d
		wait, total  time.Duration
		wantBounded  bool
	}{
		{"defaults: additive jitter at its upper bound", DefaultPolicy(),
			d{0, secs(5), secs(10)}, d{0, secs(5.5), secs(11)}, secs(16.5), secs(16.5), false},
		{"no jitter", noJitter(), d{0, secs(5), secs(10)}, d{0, secs(5), secs(10)}, secs(15), secs(15), false},
		{"one attempt", with(func(p *Policy) { p.MaxAttempts = 1 }), d{0}, d{0}, 0, 0, false},
		{"full jitter worst case is the delay", with(func(p *Policy) { p.JitterMode = JitterFull }),
			d{0, secs(5), secs(10)}, d{0, secs(5), secs(10)}, secs(15), secs(15), false},
		{"decorrelated worst case chains times 3, capped", with(func(p *Policy) {
			p.MaxAttempts, p.JitterMode = 6, JitterDecorrelated
		}), d{0, secs(5), secs(10), secs(20), secs(40), secs(80)},
			d{0, secs(15), secs(45), secs(135), secs(300), secs(300)}, secs(795), secs(795), false},
		{"linear with attempt timeouts", with(func(p *Policy) {
			p.MaxAttempts, p.RetryPolicy, p.BaseDelay, p.JitterEnabled, p.AttemptTimeout = 4, LinearBackoff, 10*time.Second, false, time.Minute
		}), d{0, secs(10), secs(20), secs(30)}, d{0, secs(10), secs(20), secs(30)}, secs(60), secs(300), true},
		{"max_total_time caps the total", with(func(p *Policy) {
			p.JitterEnabled, p.AttemptTimeout, p.MaxTotalTime = false, time.Minute, 100*time.Second
		}), d{0, secs(5), secs(10)}, d{0, secs(5), secs(10)}, secs(15), secs(100), true},
		{"max_total_time alone bounds", with(func(p *Policy) {
			p.JitterEnabled, p.MaxTotalTime = false, time.Hour
		}), d{0, secs(5), secs(10)}, d{0, secs(5), secs(10)}, secs(15), secs(15), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			plan := tt.policy.Schedule()
			var want []PlannedAttempt
			for i := range tt.delay {
				want = append(want, PlannedAttempt{Number: i + 1, Delay: tt.delay[i], WorstCaseDelay: tt.worst[i]})
			}
			if diff := cmp.Diff(want, plan.Attempts); diff != "" {
				t.Errorf("Attempts mismatch (-want +got):\n%s", diff)
			}
			if plan.WorstCaseWait != tt.wait || plan.WorstCaseTotal != tt.total || plan.Bounded != tt.wantBounded {
				t.Errorf("wait, total, bounded = %v, %v, %v; want %v, %v, %v",
					plan.WorstCaseWait, plan.WorstCaseTotal, plan.Bounded, tt.wait, tt.total, tt.wantBounded)
			}
			if again := tt.policy.Schedule(); !cmp.Equal(plan, again) {
				t.Error("Schedule is not deterministic")
			}
		})
	}
}

func TestScheduleJSON(t *testing.T) {
	t.Parallel()
	assertSameJSON(t, DefaultPolicy().Schedule(), `{
		"attempts": [
			{"attempt_number": 1, "delay": 0, "worst_case_delay": 0},
			{"attempt_number": 2, "delay": 5, "worst_case_delay": 5.5},
			{"attempt_number": 3, "delay": 10, "worst_case_delay": 11}
		],
		"worst_case_wait": 16.5, "worst_case_total": 16.5, "bounded": false}`)
}
