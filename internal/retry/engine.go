package retry

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"time"

	"resilience.ops/internal/clock"
)

// Operation is one attempt of the work being retried. attempt counts from 1.
// ctx carries the attempt's deadline (attempt_timeout, bounded by
// max_total_time) when one applies; the operation should give up when it is
// done. Do calls it from its own goroutine, one attempt at a time, so it
// needs to be safe for concurrent use only if it is passed to concurrent Do
// calls.
type Operation func(ctx context.Context, attempt int) Result

// Result is what an attempt returns. The zero Result is a success.
// A plain value: safe for concurrent use as long as nobody modifies it.
type Result struct {
	// Failure describes the failure; nil means the attempt succeeded.
	Failure *Failure
	// RetryAfter is the wait the remote side asked for (see
	// [ParseRetryAfter]); 0 means none. The wait before the next attempt is
	// then max(computed delay, min(RetryAfter, max_delay)): Retry-After can
	// lengthen the wait up to max_delay but never shorten it.
	RetryAfter time.Duration
}

// BeforeRetryFunc is the idempotency hook, called after the wait and just
// before each retry (never before the first attempt) with the number of the
// attempt about to run and the type of the last failure. Returning true says
// the operation's effect is already present (a timed-out create did in fact
// create): the engine then stops with already_done, a success, without
// running the attempt. A hook that cannot tell should return false. Do
// calls it from its own goroutine; an Engine's hook must be safe for
// concurrent use if the Engine is.
type BeforeRetryFunc func(ctx context.Context, attempt int, last ErrorType) (alreadyDone bool)

// Option configures an Engine. NewEngine applies options once, in order,
// before the Engine is shared, so an Option is not used concurrently.
type Option func(*Engine)

// WithClassifier sets the classifier; the default uses the built-in rules only.
func WithClassifier(c *Classifier) Option { return func(e *Engine) { e.classifier = c } }

// WithRandom sets the random source for jitter, returning uniform values in
// [0, 1). The default is math/rand/v2.Float64. The engine may call it from
// concurrent Do calls.
func WithRandom(rnd func() float64) Option { return func(e *Engine) { e.rnd = rnd } }

// WithBeforeRetry sets the idempotency hook.
func WithBeforeRetry(h BeforeRetryFunc) Option { return func(e *Engine) { e.beforeRetry = h } }

// GateFunc is asked whether attempt (counted from 1) may run, just before it
// runs: after the wait, the BeforeRetry hook and the deadline check. It
// returns nil to let the attempt run, or the failure that stops the run
// instead: the attempt does not run, is not in [Outcome.Attempts], and the
// engine stops with [StopRejected] (or cancelled and deadline_exceeded when
// ctx is done), with the failure as [Outcome.LastFailure]. Set its
// [Failure.Type] to a reserved type (circuit_open, bulkhead_full,
// retry_budget_exhausted): those are never retried. A gate may wait (for a
// bulkhead slot); the wait before the first attempt does not count against
// max_total_time, which starts when the first attempt is admitted.
//
// A gate that takes something for the attempt (a slot) gives it back when
// the attempt's record reaches [WithOnAttempt]; a gate's admission is
// followed by the attempt, unless ctx is done or the deadline passed while
// the gate waited, so release what the gate holds when Do returns too.
type GateFunc func(ctx context.Context, attempt int) *Failure

// WithGate sets the gate: circuit breakers, bulkheads and retry budgets
// plug in here. Do calls it from its own goroutine.
func WithGate(g GateFunc) Option { return func(e *Engine) { e.gate = g } }

// WithOnAttempt sets a function called after each attempt with its record, including the
// decision to retry and the delay, before the wait: for live logs.
func WithOnAttempt(f func(Attempt)) Option { return func(e *Engine) { e.onAttempt = f } }

func (e *Engine) notify(a Attempt) {
	if e.onAttempt != nil {
		e.onAttempt(a)
	}
}

// WithClock replaces the real clock. Tests of code built on the engine use internal/fakeclock,
// so that no test sleeps for real.
func WithClock(c clock.Clock) Option { return func(e *Engine) { e.clock = clock.Or(c) } }

// Engine runs operations under a validated Policy. It holds no state between
// runs: it is safe for concurrent use when its random source and hook are.
type Engine struct {
	policy      Policy
	classifier  *Classifier
	clock       clock.Clock
	rnd         func() float64
	beforeRetry BeforeRetryFunc
	onAttempt   func(Attempt)
	gate        GateFunc
}

// NewEngine returns an engine for p, or the error of [Policy.Validate].
func NewEngine(p Policy, opts ...Option) (*Engine, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	p.RetryConditions = slices.Clone(p.RetryConditions)
	e := &Engine{policy: p, clock: clock.Real{}, rnd: rand.Float64}
	for _, opt := range opts {
		opt(e)
	}
	return e, nil
}

// Do runs op until it succeeds or retrying stops, and says why in the
// Outcome. After a failed attempt it classifies the failure, then stops
// when, in this order: ctx is done (cancelled, or deadline_exceeded for a
// ctx deadline); the type is reserved (rejected) or not retried
// (non_retryable_error); max_attempts attempts ran (attempts_exhausted); the
// next delay would reach the max_total_time deadline (deadline_exceeded: the
// engine does not start a wait that leaves no time for an attempt).
// Otherwise it waits the delay ([Policy.Delay], lengthened by Retry-After),
// returning early if ctx is done, asks the BeforeRetry hook (already_done),
// checks the deadline again (the hook takes time too), asks the gate
// (rejected, see [WithGate]), and runs the next attempt.
func (e *Engine) Do(ctx context.Context, op Operation) Outcome {
	p := e.policy
	out := Outcome{MaxAttempts: p.MaxAttempts, Start: e.clock.Now()}
	var deadline time.Time
	setDeadline := func() {
		if p.MaxTotalTime > 0 {
			deadline = out.Start.Add(p.MaxTotalTime)
		}
	}
	setDeadline()
	var prev time.Duration
	for n := 1; ; n++ {
		if err := ctx.Err(); err != nil {
			return e.stop(out, ctxReason(err))
		}
		if n > 1 && e.beforeRetry != nil && e.beforeRetry(ctx, n, out.LastType) {
			return e.stop(out, StopAlreadyDone)
		}
		if e.gate != nil {
			if !deadline.IsZero() && !e.clock.Now().Before(deadline) {
				return e.stop(out, StopDeadlineExceeded) // no admission for an attempt that cannot run
			}
			if f := e.gate(ctx, n); f != nil {
				return e.reject(ctx, out, f)
			}
			if n == 1 { // max_total_time starts when the first attempt is admitted
				out.Start = e.clock.Now()
				setDeadline()
			}
		}
		a := Attempt{Number: n, Start: e.clock.Now()}
		if !deadline.IsZero() && !a.Start.Before(deadline) {
			return e.stop(out, StopDeadlineExceeded)
		}
		res, timedOut := e.run(ctx, op, n, a.Start, deadline)
		a.End = e.clock.Now()
		if res.Failure == nil {
			a.Succeeded = true
			out.Attempts = append(out.Attempts, a)
			out.LastFailure, out.LastType = nil, ""
			e.notify(a)
			return e.stop(out, StopSucceeded)
		}

		f := *res.Failure
		f.TimedOut = f.TimedOut || timedOut
		typ, ev := e.classifier.Classify(f)
		a.ErrorType, a.ErrorMessage, a.Evidence = typ, f.Summary(), &ev
		out.LastFailure, out.LastType = &f, typ

		reason, delay := e.next(ctx, n, typ, prev, res.RetryAfter, a.End, deadline)
		if reason != "" {
			out.Attempts = append(out.Attempts, a)
			e.notify(a)
			return e.stop(out, reason)
		}
		a.ShouldRetry, a.DelayBeforeRetry = true, delay
		out.Attempts = append(out.Attempts, a)
		e.notify(a)
		if err := e.clock.Sleep(ctx, delay); err != nil {
			return e.stop(out, ctxReason(err))
		}
		prev = delay
	}
}

// run runs attempt n, bounded by attempt_timeout and by the time left until
// the deadline (zero when max_total_time is not set). timedOut says the
// attempt's own deadline expired while ctx was still live.
func (e *Engine) run(ctx context.Context, op Operation, n int, now, deadline time.Time) (res Result, timedOut bool) {
	timeout := e.policy.AttemptTimeout
	if left := deadline.Sub(now); !deadline.IsZero() && (timeout == 0 || left < timeout) {
		timeout = left
	}
	if timeout <= 0 {
		return op(ctx, n), false
	}
	actx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	res = op(actx, n)
	return res, ctx.Err() == nil && errors.Is(actx.Err(), context.DeadlineExceeded)
}

// next returns why to stop after failed attempt n, or "" and the wait
// before attempt n+1.
func (e *Engine) next(ctx context.Context, n int, typ ErrorType, prev, retryAfter time.Duration, now, deadline time.Time) (StopReason, time.Duration) {
	if ctx.Err() != nil {
		return ctxReason(ctx.Err()), 0
	}
	return e.policy.Decide(n, typ, prev, retryAfter, now, deadline, e.rnd)
}

// Decide is the engine's decision after failed attempt n (counted from 1),
// whose failure is of type typ: why to stop, or "" and the wait before
// attempt n+1. In this order it stops when the type is reserved (rejected:
// circuit_open, bulkhead_full and retry_budget_exhausted are never retried),
// when the type is not retried (non_retryable_error), when max_attempts
// attempts ran
// (attempts_exhausted), and when the wait would reach deadline
// (deadline_exceeded; a zero deadline means none). The wait is
// [Policy.Delay] for retry n-1 lengthened by retryAfter (see [Result]).
//
// prev is the wait before the previous retry (0 before the first), now the
// end of attempt n, and rnd the jitter source as for Delay. [Engine.Do]
// decides through it; so do callers whose attempts run elsewhere (the
// retry_manager module's record action, driven by the retry_manager role),
// so that their decisions are the engine's. Decide assumes p is valid.
func (p Policy) Decide(n int, typ ErrorType, prev, retryAfter time.Duration, now, deadline time.Time, rnd func() float64) (StopReason, time.Duration) {
	switch {
	case typ.Reserved():
		return StopRejected, 0
	case !p.ShouldRetry(typ):
		return StopNonRetryable, 0
	case n >= p.MaxAttempts:
		return StopAttemptsExhausted, 0
	}
	delay := p.withRetryAfter(p.Delay(n-1, prev, rnd), retryAfter)
	if !deadline.IsZero() && !now.Add(delay).Before(deadline) {
		return StopDeadlineExceeded, 0
	}
	return "", delay
}

// reject stops the run on the gate's refusal f.
func (e *Engine) reject(ctx context.Context, out Outcome, f *Failure) Outcome {
	ff := *f
	typ, _ := e.classifier.Classify(ff)
	out.LastFailure, out.LastType = &ff, typ
	if err := ctx.Err(); err != nil {
		return e.stop(out, ctxReason(err))
	}
	return e.stop(out, StopRejected)
}

func (e *Engine) stop(out Outcome, reason StopReason) Outcome {
	out.Reason, out.End = reason, e.clock.Now()
	return out
}

// ctxReason maps a context error to a stop reason.
func ctxReason(err error) StopReason {
	if errors.Is(err, context.DeadlineExceeded) {
		return StopDeadlineExceeded
	}
	return StopCancelled
}
