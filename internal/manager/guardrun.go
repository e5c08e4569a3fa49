package manager

import (
	"context"
	"fmt"
	"strings"

	"resilience.ops/internal/resilience"
	"resilience.ops/internal/retry"
)

// The guardrails of package resilience around the attempts of one operation: circuit_breaker,
// bulkhead, retry_budget and adaptive retry, with the state kept in the state directory or etcd
// (GuardConfig, resolved by ResolveGuardrails).

// EtcdDir is the folder of the guardrails' documents and slots in etcd, under etcd_prefix.
const EtcdDir = "/" + resilience.Subdir

// newGuardrails builds the guardrails of c; in check mode they read state and never change it.
func newGuardrails(c *GuardConfig, check bool, env Env) (*resilience.Guardrails, error) {
	opts := []resilience.Option{resilience.WithCheckMode(check), resilience.WithClock(env.Clock)}
	if env.Rand != nil {
		opts = append(opts, resilience.WithRandom(env.Rand))
	}
	if c.Etcd != nil {
		// The fleet shares a key whatever each host's state_dir: <etcd_prefix>state/circuit/<name>.json.
		opts = append(opts, resilience.WithStore(c.Etcd), resilience.WithSlots(c.Etcd), resilience.WithDir(EtcdDir))
	}
	return resilience.New(c.Settings, opts...)
}

// GuardReport is what the guardrails did to one operation: the result keys circuit_key,
// circuit_breaker, bulkhead, retry_budget, adaptation and retry_in. A disabled guardrail shows as
// {"enabled": false}. The keys are present when any guardrail is enabled.
type GuardReport struct {
	CircuitKey     string   `json:"circuit_key,omitempty"`
	CircuitBreaker any      `json:"circuit_breaker,omitempty"`
	Bulkhead       any      `json:"bulkhead,omitempty"`
	RetryBudget    any      `json:"retry_budget,omitempty"`
	Adaptation     any      `json:"adaptation,omitempty"`
	RetryIn        *float64 `json:"retry_in,omitempty"`
}

var disabled = map[string]any{"enabled": false}

// BreakerJSON is the breaker's part of a result: its state after the operation (the report of
// package resilience), the state the last attempt was admitted in, and every transition the
// operation made.
type BreakerJSON struct {
	resilience.BreakerReport
	AdmittedState resilience.CircuitState `json:"admitted_state,omitempty"`
}

// BulkheadJSON is the bulkhead's part of a result: the last attempt's slot, and the time waited
// for slots over all the attempts.
type BulkheadJSON struct {
	resilience.BulkheadReport
	TotalWaited float64 `json:"total_waited"`
	// NotApplied says why the bulkhead did not apply (tasks files run by the role).
	NotApplied string `json:"not_applied,omitempty"`
}

// guardRun applies the guardrails to the attempts of one operation and collects the report.
// Not safe for concurrent use: the engine calls its gate and hook from one goroutine.
type guardRun struct {
	g   *resilience.Guardrails
	key string
	pol retry.Policy

	cur         *resilience.Admission // the admission of the attempt that is running
	breaker     *resilience.BreakerReport
	admitted    resilience.CircuitState
	transitions []resilience.Transition
	bulkhead    *resilience.BulkheadReport
	waited      float64
	budget      *resilience.BudgetDecision
	adaptation  *resilience.Adaptation
	retryIn     *float64
	warnings    []string
}

func newGuardRun(g *resilience.Guardrails, key string) *guardRun { return &guardRun{g: g, key: key} }

// startGuardRun starts applying the guardrails gc (nil: none is enabled): it returns the run and
// pol adapted (adaptive retry). Without guardrails it returns nil and pol.
func startGuardRun(gc *GuardConfig, pol retry.Policy, check bool, env Env) (*guardRun, retry.Policy, error) {
	if gc == nil {
		return nil, pol, nil
	}
	g, err := newGuardrails(gc, check, env)
	if err != nil {
		return nil, pol, err
	}
	r := newGuardRun(g, gc.Key)
	return r, r.adapt(pol), nil
}

// warnAll passes the run's warnings on.
func (r *guardRun) warnAll(env Env) {
	for _, w := range r.warnings {
		env.Warn(w)
	}
}

// adapt adapts pol (adaptive retry) and keeps the policy for the retryable test of results.
func (r *guardRun) adapt(pol retry.Policy) retry.Policy {
	q, a, err := r.g.Adapt(r.key, pol)
	if err != nil { // the key was validated: not expected
		r.warn("adaptive retry: %v", err)
		q = pol
	}
	if r.g.Settings().Adaptive.Enabled {
		r.adaptation = &a
		r.warnings = append(r.warnings, a.Warnings...)
	}
	r.pol = q
	return q
}

func (r *guardRun) warn(format string, args ...any) {
	r.warnings = append(r.warnings, fmt.Sprintf(format, args...))
}

// gate is the engine's gate: before a retry it asks the retry budget, before every attempt the
// circuit breaker and the bulkhead. A refusal stops the run with the reserved type.
func (r *guardRun) gate(ctx context.Context, n int) *retry.Failure {
	if n > 1 {
		if f := r.allowRetry(); f != nil {
			return f
		}
	}
	return r.admit(ctx)
}

// allowRetry asks the retry budget for one retry.
func (r *guardRun) allowRetry() *retry.Failure {
	if !r.g.Settings().RetryBudget.Enabled {
		return nil
	}
	d, err := r.g.AllowRetry(r.key)
	if err != nil {
		r.warn("retry budget: %v", err)
		return nil
	}
	r.budget = &d
	r.warnings = append(r.warnings, d.Warnings...)
	if d.Allowed {
		return nil
	}
	why := strings.TrimPrefix(d.Reason, "retry budget exhausted: ")
	return &retry.Failure{Type: retry.RetryBudgetExhausted, Message: fmt.Sprintf("the retry budget of %q is exhausted: %s", r.key, why)}
}

// admit asks the circuit breaker and the bulkhead for one attempt and keeps the admission.
func (r *guardRun) admit(ctx context.Context) *retry.Failure {
	adm, err := r.g.Before(ctx, r.key)
	if adm == nil { // an invalid key: validated before, not expected
		r.warn("guardrails: %v", err)
		return nil
	}
	r.noteAdmission(adm)
	if err != nil { // ctx done while waiting for a slot
		return &retry.Failure{Type: retry.BulkheadFull, Err: err, Message: fmt.Sprintf("bulkhead %q: stopped waiting for a slot: %v", r.key, err)}
	}
	if !adm.Admitted {
		return &retry.Failure{Type: adm.ErrorType, Message: adm.Message}
	}
	r.cur = adm
	return nil
}

// noteAdmission keeps what an admission reports.
func (r *guardRun) noteAdmission(adm *resilience.Admission) {
	s := r.g.Settings()
	r.warnings = append(r.warnings, adm.Warnings...)
	if s.CircuitBreaker.Enabled {
		b := adm.Breaker
		r.breaker, r.admitted = &b, b.State
		r.transitions = append(r.transitions, b.Transitions...)
	}
	if s.Bulkhead.Enabled {
		bh := adm.Bulkhead
		r.bulkhead = &bh
		r.waited += bh.Waited
	}
	if !adm.Admitted && adm.ErrorType == retry.CircuitOpen {
		in := secondsOf(adm.RetryIn)
		r.retryIn = &in
	}
}

// after records the result of the attempt that ran (the engine's OnAttempt hook).
func (r *guardRun) after(a retry.Attempt) {
	if r.cur == nil {
		return
	}
	adm := r.cur
	r.cur = nil
	rep := r.g.AfterAttempt(adm, a.ErrorType, r.pol.ShouldRetry(a.ErrorType))
	r.noteRecord(rep)
}

// record records the result of an attempt that ran elsewhere (the role's tasks).
func (r *guardRun) record(typ retry.ErrorType, retryable bool) {
	rep, err := r.g.Record(r.key, typ, retryable)
	if err != nil {
		r.warn("guardrails: %v", err)
		return
	}
	r.noteRecord(rep)
}

func (r *guardRun) noteRecord(rep resilience.AttemptReport) {
	r.warnings = append(r.warnings, rep.Warnings...)
	if rep.Recorded && rep.Breaker.Enabled {
		b := rep.Breaker
		r.transitions = append(r.transitions, b.Transitions...)
		r.breaker = &b
	}
}

// release gives back what the running attempt holds, if the engine stopped before it ran.
func (r *guardRun) release() {
	if r.cur != nil {
		r.cur.Release()
		r.cur = nil
	}
}

// report is what applied, for the result.
func (r *guardRun) report() GuardReport {
	s := r.g.Settings()
	rep := GuardReport{CircuitKey: r.key, CircuitBreaker: disabled, Bulkhead: disabled, RetryBudget: disabled,
		Adaptation: disabled, RetryIn: r.retryIn}
	if s.CircuitBreaker.Enabled {
		if r.breaker == nil { // not asked (check mode of a session action): the state as it is
			if snap, err := r.g.Inspect(r.key); err == nil {
				b := snap.Breaker
				r.breaker = &b
				r.warnings = append(r.warnings, snap.Warnings...)
			}
		}
		if r.breaker != nil {
			b := BreakerJSON{BreakerReport: *r.breaker, AdmittedState: r.admitted}
			b.Transitions = r.transitions
			rep.CircuitBreaker = b
		}
	}
	if s.Bulkhead.Enabled {
		b := BulkheadJSON{TotalWaited: round3(r.waited)}
		if r.bulkhead != nil {
			b.BulkheadReport = *r.bulkhead
		} else {
			b.BulkheadReport = resilience.BulkheadReport{Enabled: true, MaxConcurrent: s.Bulkhead.MaxConcurrent,
				MaxWait: s.Bulkhead.MaxWait.Seconds()}
		}
		rep.Bulkhead = b
	}
	if s.RetryBudget.Enabled {
		if r.budget != nil {
			rep.RetryBudget = *r.budget
		} else {
			rep.RetryBudget = resilience.BudgetDecision{Enabled: true, Allowed: true, Window: s.RetryBudget.Window.Seconds(),
				Reason: "no retry was asked"}
		}
	}
	if r.adaptation != nil {
		rep.Adaptation = *r.adaptation
	}
	return rep
}

// refusal describes the failure a guardrail stopped an operation with, for messages.
func refusal(name string, typ retry.ErrorType, attempts, maxAttempts int, last, why string) string {
	switch typ {
	case retry.RetryBudgetExhausted:
		return fmt.Sprintf("%s failed with %s on attempt %d of %d and was not retried (%s): %s",
			name, last, attempts, maxAttempts, typ, why)
	case retry.CircuitOpen, retry.BulkheadFull:
		if attempts == 0 {
			return fmt.Sprintf("%s failed at once with %s: %s", name, typ, why)
		}
		return fmt.Sprintf("%s failed with %s before attempt %d of %d (last error %s): %s", name, typ, attempts+1, maxAttempts, last, why)
	}
	return fmt.Sprintf("%s was refused (%s): %s", name, typ, why)
}

func round3(f float64) float64 { return secondsOf(durationOf(f)) }
