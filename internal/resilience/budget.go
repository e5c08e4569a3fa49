package resilience

import (
	"fmt"
	"math"
	"strconv"
	"time"
)

// BudgetDecision is the retry budget's answer to one retry, the retry_budget part of a result.
// A plain value: safe for concurrent use.
type BudgetDecision struct {
	Enabled bool `json:"enabled"`
	// Allowed says the retry may run. When false the failure is returned without retrying and
	// reported as retry_budget_exhausted. Always true when the budget is disabled.
	Allowed bool `json:"allowed"`
	// Retries and Calls are the window's retries and calls (attempts, retries included) before
	// this decision; Budget is max(min_retries, ratio * calls). A retry is allowed while
	// Retries < Budget: while the share of retries is below ratio, or fewer than min_retries.
	Retries int     `json:"retries"`
	Calls   int     `json:"calls"`
	Budget  float64 `json:"budget"`
	// Denied counts the retries refused in the window, this one included.
	Denied int     `json:"denied"`
	Window float64 `json:"window"` // seconds
	Reason string  `json:"reason,omitempty"`
	// Warnings says why the decision was made without the state (fail-open) and what was
	// repaired.
	Warnings []string `json:"warnings,omitempty"`
}

// decide is the budget's decision on the window of series at now, without recording it.
func (s RetryBudgetSettings) decide(series Series, now time.Time) BudgetDecision {
	w := series.sum(now, s.Window)
	budget := math.Max(float64(s.MinRetries), s.Ratio*float64(w.Calls))
	d := BudgetDecision{
		Enabled: true, Retries: w.Retries, Calls: w.Calls, Budget: math.Round(budget*1000) / 1000,
		Denied: w.Denied, Window: secs(s.Window),
	}
	d.Allowed = float64(w.Retries) < budget
	state := fmt.Sprintf("%d retries and %d calls in the last %s; budget max(min_retries %d, ratio %s of calls) = %s",
		w.Retries, w.Calls, seconds(s.Window), s.MinRetries, percent(s.Ratio), strconv.FormatFloat(d.Budget, 'f', -1, 64))
	if d.Allowed {
		d.Reason = "retry allowed: " + state
	} else {
		d.Denied++
		d.Reason = "retry budget exhausted: " + state
	}
	return d
}
