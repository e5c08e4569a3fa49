package resilience

import (
	"fmt"
	"time"

	"resilience.ops/internal/retry"
)

// outcome is how the result of a call counts.
type outcome int

const (
	countNone    outcome = iota // a reserved type (circuit_open, ...): no call was made
	countIgnored                // a failure the policy does not retry: says nothing about the service
	countSuccess
	countFailure
)

// outcomeOf sorts a result: "" is a success; a failure counts only when the policy retries its
// type (a wrong password does not mean the server is down); reserved types are not calls.
func outcomeOf(typ retry.ErrorType, retryable bool) outcome {
	switch {
	case typ == "":
		return countSuccess
	case typ.Reserved():
		return countNone
	case retryable:
		return countFailure
	}
	return countIgnored
}

func (o outcome) String() string {
	switch o {
	case countSuccess:
		return "success"
	case countFailure:
		return "failure"
	case countIgnored:
		return "ignored"
	}
	return "none"
}

// BreakerReport is the circuit breaker's part of a result: the state that applied to the call
// and the counters behind it. A plain value: safe for concurrent use.
type BreakerReport struct {
	Enabled bool         `json:"enabled"`
	State   CircuitState `json:"state,omitempty"`
	// Trial is set when the call was let through as a half-open trial.
	Trial               bool `json:"trial,omitempty"`
	ConsecutiveFailures int  `json:"consecutive_failures"`
	// WindowCalls and WindowFailures are the counted calls of the failure-rate window, and
	// FailureRate their ratio (0 without calls).
	WindowCalls    int     `json:"window_calls"`
	WindowFailures int     `json:"window_failures"`
	FailureRate    float64 `json:"failure_rate"`
	// OpenUntil (RFC 3339) and NextTrialIn (seconds) say when an open breaker lets the next
	// trial call through.
	OpenUntil   string  `json:"open_until,omitempty"`
	NextTrialIn float64 `json:"next_trial_in,omitempty"`
	Opens       int     `json:"opens"`
	// Transitions are those this call made.
	Transitions []Transition `json:"transitions,omitempty"`
}

// report describes b at now.
func (b *Breaker) report(s CircuitBreakerSettings, now time.Time) BreakerReport {
	w := b.Window.sum(now, s.Window)
	r := BreakerReport{
		Enabled: true, State: b.State, ConsecutiveFailures: b.ConsecutiveFailures,
		WindowCalls: w.Successes + w.Failures, WindowFailures: w.Failures, Opens: b.Opens,
	}
	if r.WindowCalls > 0 {
		r.FailureRate = float64(w.Failures) / float64(r.WindowCalls)
	}
	if b.State == Open {
		r.OpenUntil = b.OpenUntil.UTC().Format(time.RFC3339Nano)
		r.NextTrialIn = secs(max(b.OpenUntil.Sub(now), 0))
	}
	return r
}

// due reports whether an open breaker's open_duration has passed.
func (b *Breaker) due(now time.Time) bool { return b.State == Open && !now.Before(b.OpenUntil) }

// advance moves an open breaker whose open_duration has passed to half-open.
func (b *Breaker) advance(s CircuitBreakerSettings, now time.Time) []Transition {
	if !b.due(now) {
		return nil
	}
	return []Transition{b.transition(s, HalfOpen, now, fmt.Sprintf(
		"open_duration %s elapsed: up to %d trial call(s) at a time (half_open_max_calls)",
		seconds(s.OpenDuration), s.HalfOpenMaxCalls))}
}

// transition moves b to state to. Every transition starts a new generation and clears the
// counters; opening sets open_until.
func (b *Breaker) transition(s CircuitBreakerSettings, to CircuitState, now time.Time, reason string) Transition {
	t := Transition{From: b.State, To: to, At: now.UTC(), Reason: reason}
	b.State, b.Since = to, now.UTC()
	b.Generation++
	b.ConsecutiveFailures, b.Window = 0, nil
	b.OpenUntil = time.Time{}
	if to == Open {
		b.OpenUntil = now.Add(s.OpenDuration).UTC()
		b.Opens++
	}
	b.Transitions = append(b.Transitions, t)
	if n := len(b.Transitions); n > MaxTransitions {
		b.Transitions = append([]Transition(nil), b.Transitions[n-MaxTransitions:]...)
	}
	return t
}

// record applies the result of one call to b and returns the transitions it made. gen is the
// generation the call was admitted in and trial whether it was a half-open trial; with anyGen
// the admission is unknown (the attempt ran in another process) and the result counts for the
// current generation, as a trial when half-open. Results of calls admitted in another generation
// move nothing: they belong to a state that is gone.
//
// Closed: a success resets the consecutive failures; a failure opens the breaker when it makes
// failure_threshold in a row, or when the window holds at least minimum_calls counted calls of
// which at least failure_rate_threshold failed. Half-open: a trial's success closes it, its
// failure re-opens it. Open: nothing (the call was let through because the state could not be
// read). Ignored results (failures the policy does not retry) move nothing.
func (b *Breaker) record(s CircuitBreakerSettings, now time.Time, o outcome, typ retry.ErrorType, gen uint64, anyGen, trial bool) []Transition {
	ts := b.advance(s, now)
	if o != countSuccess && o != countFailure || !anyGen && gen != b.Generation {
		return ts
	}
	switch b.State {
	case Closed:
		if o == countSuccess {
			b.ConsecutiveFailures = 0
			b.Window = b.Window.add(now, s.Window, Bucket{Successes: 1})
			return ts
		}
		b.ConsecutiveFailures++
		b.Window = b.Window.add(now, s.Window, Bucket{Failures: 1})
		if b.ConsecutiveFailures >= s.FailureThreshold {
			return append(ts, b.transition(s, Open, now, fmt.Sprintf(
				"%d consecutive failures (failure_threshold %d), the last %s",
				b.ConsecutiveFailures, s.FailureThreshold, typ)))
		}
		if s.FailureRateThreshold > 0 {
			w := b.Window.sum(now, s.Window)
			calls := w.Successes + w.Failures
			if rate := float64(w.Failures) / float64(calls); calls >= s.MinimumCalls && rate >= s.FailureRateThreshold {
				return append(ts, b.transition(s, Open, now, fmt.Sprintf(
					"failure rate %s of %d counted calls in the last %s reached failure_rate_threshold %s (minimum_calls %d), the last %s",
					percent(rate), calls, seconds(s.Window), percent(s.FailureRateThreshold), s.MinimumCalls, typ)))
			}
		}
	case HalfOpen:
		if !trial && !anyGen {
			return ts
		}
		if o == countSuccess {
			return append(ts, b.transition(s, Closed, now, "a trial call succeeded"))
		}
		return append(ts, b.transition(s, Open, now, fmt.Sprintf("a trial call failed (%s)", typ)))
	}
	return ts
}
