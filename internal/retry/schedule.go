package retry

import (
	"encoding/json"
	"time"
)

// Plan is the check-mode schedule of a policy: what the engine would wait
// before each attempt, and the worst case overall. A plain value: safe for
// concurrent use as long as nobody modifies it. It marshals with durations
// in seconds (float).
type Plan struct {
	// Attempts has one entry per attempt, max_attempts in all.
	Attempts []PlannedAttempt `json:"attempts"`
	// WorstCaseWait is the sum of the worst-case delays.
	WorstCaseWait time.Duration `json:"-"`
	// WorstCaseTotal adds max_attempts times attempt_timeout to
	// WorstCaseWait and caps the sum by max_total_time when set. When
	// Bounded is false (neither is set) attempts may run for any time and
	// WorstCaseTotal is only the waiting.
	WorstCaseTotal time.Duration `json:"-"`
	Bounded        bool          `json:"bounded"`
}

// PlannedAttempt is one attempt of a Plan.
// A plain value: safe for concurrent use.
type PlannedAttempt struct {
	Number int `json:"attempt_number"`
	// Delay is the wait before this attempt without jitter (as with
	// jitter_enabled false); 0 for attempt 1.
	Delay time.Duration `json:"-"`
	// WorstCaseDelay is the wait with the jitter at its upper bound.
	WorstCaseDelay time.Duration `json:"-"`
}

// Schedule returns the deterministic plan of p for check mode, from
// [Policy.Delay] with the jitter at its upper bound. A Retry-After from the
// server can lengthen any wait up to max_delay; the plan does not assume
// one. The engine may stop sooner than planned (max_total_time, a
// non-retryable failure, success). Schedule assumes p is valid.
func (p Policy) Schedule() Plan {
	plain := p
	plain.JitterEnabled = false
	upper := func() float64 { return 1 }

	plan := Plan{Attempts: make([]PlannedAttempt, 0, max(p.MaxAttempts, 0))}
	var prevWorst time.Duration
	for n := 1; n <= p.MaxAttempts; n++ {
		a := PlannedAttempt{Number: n}
		if n > 1 {
			a.Delay = plain.Delay(n-2, 0, nil)
			a.WorstCaseDelay = p.Delay(n-2, prevWorst, upper)
			prevWorst = a.WorstCaseDelay
		}
		plan.Attempts = append(plan.Attempts, a)
		plan.WorstCaseWait += a.WorstCaseDelay
	}
	plan.WorstCaseTotal = plan.WorstCaseWait + time.Duration(p.MaxAttempts)*p.AttemptTimeout
	plan.Bounded = p.AttemptTimeout > 0 || p.MaxTotalTime > 0
	if p.MaxTotalTime > 0 {
		plan.WorstCaseTotal = min(plan.WorstCaseTotal, p.MaxTotalTime)
	}
	return plan
}

// MarshalJSON adds delay and worst_case_delay in seconds.
func (a PlannedAttempt) MarshalJSON() ([]byte, error) {
	type plain PlannedAttempt
	return json.Marshal(struct {
		plain
		Delay          float64 `json:"delay"`
		WorstCaseDelay float64 `json:"worst_case_delay"`
	}{plain(a), a.Delay.Seconds(), a.WorstCaseDelay.Seconds()})
}

// MarshalJSON adds worst_case_wait and worst_case_total in seconds.
func (p Plan) MarshalJSON() ([]byte, error) {
	type plain Plan
	return json.Marshal(struct {
		plain
		WorstCaseWait  float64 `json:"worst_case_wait"`
		WorstCaseTotal float64 `json:"worst_case_total"`
	}{plain(p), p.WorstCaseWait.Seconds(), p.WorstCaseTotal.Seconds()})
}
