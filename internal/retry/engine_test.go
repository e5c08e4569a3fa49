package retry

import (
	"context"
	"errors"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
)

func failMsg(s string) Result { return Result{Failure: &Failure{Message: s}} }
func failStatus(c int) Result { return Result{Failure: &Failure{HTTPStatus: c}} }
func refused() Result         { return Result{Failure: &Failure{Err: dialErr(syscall.ECONNREFUSED)}} }
func ok() Result              { return Result{} }
func throttled(d time.Duration) Result {
	return Result{Failure: &Failure{HTTPStatus: 429}, RetryAfter: d}
}

// scripted returns an operation that, for attempt n, advances clk by took[n-1]
// (or 1s) and returns results[n-1].
func scripted(t *testing.T, clk *fakeClock, took []time.Duration, results ...Result) Operation {
	return func(_ context.Context, n int) Result {
		if n > len(results) {
			t.Errorf("unexpected attempt %d", n)
			return ok()
		}
		d := time.Second
		if n <= len(took) {
			d = took[n-1]
		}
		clk.Advance(d)
		return results[n-1]
	}
}

func newTestEngine(t *testing.T, p Policy, clk *fakeClock, opts ...Option) *Engine {
	t.Helper()
	e, err := NewEngine(p, append([]Option{WithClock(clk)}, opts...)...)
	if err != nil {
		t.Fatalf("NewEngine: %v", err)
	}
	return e
}

func TestEngineLoop(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		policy       func(*Policy)
		opts         []Option
		results      []Result
		wantReason   StopReason
		wantAttempts int
		wantSleeps   []time.Duration
		wantType     ErrorType
	}{
		{"success first time", nil, nil, []Result{ok()}, StopSucceeded, 1, nil, ""},
		{"success on third attempt", nil, nil, []Result{refused(), failMsg("VM creation timeout"), ok()},
			StopSucceeded, 3, []time.Duration{secs(5), secs(10)}, ""},
		{"non-retryable stops after one attempt", nil, nil, []Result{failStatus(401)},
			StopNonRetryable, 1, nil, AuthenticationError},
		{"non-retryable after a retry", nil, nil, []Result{refused(), failMsg("VM 'web01' not found")},
			StopNonRetryable, 2, []time.Duration{secs(5)}, ResourceNotFound},
		{"attempts exhausted", nil, nil, []Result{refused(), refused(), refused()},
			StopAttemptsExhausted, 3, []time.Duration{secs(5), secs(10)}, ConnectionError},
		{"max_attempts 1 never retries", func(p *Policy) { p.MaxAttempts = 1 }, nil, []Result{refused()},
			StopAttemptsExhausted, 1, nil, ConnectionError},
		{"max_attempts 10 means 9 retries", func(p *Policy) { p.MaxAttempts = 10 }, nil,
			[]Result{refused(), refused(), refused(), refused(), refused(), refused(), refused(), refused(), refused(), refused()},
			StopAttemptsExhausted, 10, []time.Duration{secs(5), secs(10), secs(20), secs(40), secs(80), secs(160), secs(300), secs(300), secs(300)}, ConnectionError},
		{"unknown error retried by default", nil, nil, []Result{failMsg("odd"), ok()},
			StopSucceeded, 2, []time.Duration{secs(5)}, ""},
		{"unknown error not retried without retry_unknown", func(p *Policy) { p.RetryUnknown = false }, nil, []Result{failMsg("odd")},
			StopNonRetryable, 1, nil, UnknownError},
		{"retry_conditions narrow what is retried", func(p *Policy) { p.RetryConditions = []ErrorType{Timeout} }, nil, []Result{refused()},
			StopNonRetryable, 1, nil, ConnectionError},
		{"deadline: the next delay would cross max_total_time", func(p *Policy) { p.MaxTotalTime = 12 * time.Second }, nil,
			[]Result{refused(), refused(), refused()},
			StopDeadlineExceeded, 2, []time.Duration{secs(5)}, ConnectionError}, // 0-1s, wait 5s, 6-7s, 7+10 >= 12
		{"deadline reached exactly stops too", func(p *Policy) { p.MaxTotalTime = 6 * time.Second }, nil,
			[]Result{refused(), refused()},
			StopDeadlineExceeded, 1, nil, ConnectionError}, // 1+5 is not before 6
		{"retry-after lengthens the delay", nil, nil, []Result{throttled(30 * time.Second), ok()},
			StopSucceeded, 2, []time.Duration{secs(30)}, ""},
		{"retry-after never shortens the delay", nil, nil, []Result{throttled(time.Second), ok()},
			StopSucceeded, 2, []time.Duration{secs(5)}, ""},
		{"retry-after capped by max_delay", func(p *Policy) { p.MaxDelay = 60 * time.Second }, nil,
			[]Result{throttled(time.Hour), ok()},
			StopSucceeded, 2, []time.Duration{secs(60)}, ""},
		{"jitter from the injected source", func(p *Policy) { p.JitterEnabled = true }, []Option{WithRandom(fixed(0.5))},
			[]Result{refused(), refused(), ok()},
			StopSucceeded, 3, []time.Duration{secs(5.25), secs(10.5)}, ""},
		{"decorrelated jitter chains the previous wait", func(p *Policy) { p.JitterEnabled = true; p.JitterMode = JitterDecorrelated },
			[]Option{WithRandom(sequence(1, 0.5))}, []Result{refused(), refused(), ok()},
			StopSucceeded, 3, []time.Duration{secs(15), secs(25)}, ""}, // U[5,15] at 1, then U[5,45] at 0.5
		{"user rules through the engine", nil, []Option{WithClassifier(mustClassifier(t, Rule{Type: PermissionError, HTTPStatus: 503}))},
			[]Result{failStatus(503)}, StopNonRetryable, 1, nil, PermissionError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := noJitter()
			if tt.policy != nil {
				tt.policy(&p)
			}
			clk := newFakeClock()
			e := newTestEngine(t, p, clk, tt.opts...)
			out := e.Do(context.Background(), scripted(t, clk, nil, tt.results...))
			if out.Reason != tt.wantReason {
				t.Errorf("Reason = %s, want %s", out.Reason, tt.wantReason)
			}
			if len(out.Attempts) != tt.wantAttempts {
				t.Errorf("len(Attempts) = %d, want %d", len(out.Attempts), tt.wantAttempts)
			}
			if diff := cmp.Diff(tt.wantSleeps, clk.Sleeps()); diff != "" {
				t.Errorf("sleeps mismatch (-want +got):\n%s", diff)
			}
			if out.LastType != tt.wantType {
				t.Errorf("LastType = %q, want %q", out.LastType, tt.wantType)
			}
			if (out.LastFailure == nil) != (tt.wantType == "") {
				t.Errorf("LastFailure = %+v with LastType %q", out.LastFailure, out.LastType)
			}
			if out.MaxAttempts != p.MaxAttempts || !out.Start.Equal(t0) || !out.End.Equal(clk.Now()) {
				t.Errorf("Outcome MaxAttempts, Start, End = %d, %v, %v", out.MaxAttempts, out.Start, out.End)
			}
			// Delays are recorded on the attempt before them; the last attempt
			// never says it will retry.
			for i, a := range out.Attempts {
				want := time.Duration(0)
				if i < len(tt.wantSleeps) {
					want = tt.wantSleeps[i]
				}
				if a.DelayBeforeRetry != want || a.ShouldRetry != (want > 0) || a.Number != i+1 {
					t.Errorf("attempt %d: number %d, delay %v, should_retry %v; want delay %v", i+1, a.Number, a.DelayBeforeRetry, a.ShouldRetry, want)
				}
			}
		})
	}
}

func mustClassifier(t *testing.T, rules ...Rule) *Classifier {
	t.Helper()
	c, err := NewClassifier(rules)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestEngineRecordsAttempts replays the reference operation: 30 s, wait 5,
// 45 s, wait 10, 45 s.
func TestEngineRecordsAttempts(t *testing.T) {
	t.Parallel()
	p := noJitter()
	p.MaxAttempts = 5
	clk := newFakeClock()
	e := newTestEngine(t, p, clk)
	took := []time.Duration{secs(30), secs(45), secs(45)}
	out := e.Do(context.Background(), scripted(t, clk, took,
		failMsg("Connection timeout to vCenter"), failMsg("VM creation timeout"), ok()))

	at := func(s float64) time.Time { return t0.Add(secs(s)) }
	want := []Attempt{
		{Number: 1, Start: at(0), End: at(30), ErrorType: ConnectionError, ErrorMessage: "Connection timeout to vCenter",
			ShouldRetry: true, DelayBeforeRetry: secs(5), Evidence: &Evidence{"builtin.message", "message", "Connection timeout"}},
		{Number: 2, Start: at(35), End: at(80), ErrorType: Timeout, ErrorMessage: "VM creation timeout",
			ShouldRetry: true, DelayBeforeRetry: secs(10), Evidence: &Evidence{"builtin.message", "message", "timeout"}},
		{Number: 3, Start: at(90), End: at(135), Succeeded: true},
	}
	if diff := cmp.Diff(want, out.Attempts); diff != "" {
		t.Errorf("Attempts mismatch (-want +got):\n%s", diff)
	}
	if out.Reason != StopSucceeded || !out.Succeeded() || out.Status() != "completed" || out.Err() != nil {
		t.Errorf("Outcome = %s, %v, %s, %v; want a success", out.Reason, out.Succeeded(), out.Status(), out.Err())
	}
	if got := out.Attempts[1].ExecutionTime(); got != secs(45) {
		t.Errorf("ExecutionTime = %v, want 45s", got)
	}
}

func TestEngineStopError(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	e := newTestEngine(t, noJitter(), clk)
	out := e.Do(context.Background(), scripted(t, clk, nil, refused(), refused(), refused()))
	err := out.Err()
	if out.Status() != "failed" || out.Succeeded() {
		t.Errorf("Status() = %s, Succeeded() = %v", out.Status(), out.Succeeded())
	}
	var se *StopError
	if !errors.As(err, &se) || se.Reason != StopAttemptsExhausted || se.Attempts != 3 || se.Type != ConnectionError {
		t.Fatalf("Err() = %#v, want a *StopError for 3 exhausted attempts", err)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Error("Err() does not unwrap to the last Go error")
	}
	if got, want := err.Error(), "retry stopped (attempts_exhausted) after 3 attempts: connection_error: dial tcp: connect: connection refused"; got != want {
		t.Errorf("Err() = %q, want %q", got, want)
	}
	none := &StopError{Reason: StopCancelled}
	if none.Error() != "retry stopped (cancelled) after 0 attempts" || none.Unwrap() != nil {
		t.Errorf("StopError without failure = %q, %v", none.Error(), none.Unwrap())
	}
	one := &StopError{Reason: StopNonRetryable, Attempts: 1, Type: AuthenticationError, Failure: &Failure{HTTPStatus: 401}}
	if got := one.Error(); got != "retry stopped (non_retryable_error) after 1 attempt: authentication_error: HTTP status 401" {
		t.Errorf("StopError = %q", got)
	}
}

func TestEngineCancelledDuringSleep(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	clk := newFakeClock()
	clk.OnSleep(func(ctx context.Context, _ int, _ time.Duration) error {
		cancel()
		return ctx.Err()
	})
	e := newTestEngine(t, noJitter(), clk)
	out := e.Do(ctx, scripted(t, clk, nil, refused(), ok()))
	if out.Reason != StopCancelled || len(out.Attempts) != 1 {
		t.Fatalf("Reason, attempts = %s, %d; want cancelled after 1", out.Reason, len(out.Attempts))
	}
	if a := out.Attempts[0]; !a.ShouldRetry || a.DelayBeforeRetry != secs(5) {
		t.Errorf("attempt 1 = %+v, want the planned retry recorded", a)
	}
	if out.End != t0.Add(time.Second) {
		t.Errorf("End = %v, want the wait cut short at %v", out.End, t0.Add(time.Second))
	}
	var se *StopError
	if !errors.As(out.Err(), &se) || se.Reason != StopCancelled || se.Type != ConnectionError {
		t.Errorf("Err() = %v", out.Err())
	}
}

func TestEngineCancelledBeforeStart(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	clk := newFakeClock()
	e := newTestEngine(t, noJitter(), clk)
	out := e.Do(ctx, func(context.Context, int) Result {
		t.Error("attempt ran after cancellation")
		return ok()
	})
	if out.Reason != StopCancelled || len(out.Attempts) != 0 || out.LastFailure != nil {
		t.Errorf("Outcome = %+v, want cancelled with no attempt", out)
	}
}

func TestEngineCancelledDuringAttempt(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	clk := newFakeClock()
	e := newTestEngine(t, noJitter(), clk)
	out := e.Do(ctx, func(context.Context, int) Result {
		cancel()
		return Result{Failure: &Failure{Err: context.Canceled}}
	})
	if out.Reason != StopCancelled || len(out.Attempts) != 1 || out.Attempts[0].ShouldRetry {
		t.Errorf("Outcome = %+v, want cancelled after 1 attempt without retry", out)
	}
	if len(clk.Sleeps()) != 0 {
		t.Errorf("slept %v after cancellation", clk.Sleeps())
	}
}

func TestEngineBeforeRetry(t *testing.T) {
	t.Parallel()
	type call struct {
		attempt int
		last    ErrorType
	}
	tests := []struct {
		name         string
		doneAt       int // the hook says already done before this attempt; 0 never
		results      []Result
		wantReason   StopReason
		wantAttempts int
		wantCalls    []call
	}{
		{"effect already present", 2, []Result{failMsg("VM creation timeout")}, StopAlreadyDone, 1, []call{{2, Timeout}}},
		{"hook says no: retry as usual", 0, []Result{refused(), failMsg("VM creation timeout"), ok()}, StopSucceeded, 3,
			[]call{{2, ConnectionError}, {3, Timeout}}},
		{"not called before the first attempt nor after success", 0, []Result{ok()}, StopSucceeded, 1, nil},
		{"not called after a non-retryable failure", 2, []Result{failStatus(403)}, StopNonRetryable, 1, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var calls []call
			hook := func(_ context.Context, attempt int, last ErrorType) bool {
				calls = append(calls, call{attempt, last})
				return attempt == tt.doneAt
			}
			clk := newFakeClock()
			e := newTestEngine(t, noJitter(), clk, WithBeforeRetry(hook))
			out := e.Do(context.Background(), scripted(t, clk, nil, tt.results...))
			if out.Reason != tt.wantReason || len(out.Attempts) != tt.wantAttempts {
				t.Errorf("Reason, attempts = %s, %d; want %s, %d", out.Reason, len(out.Attempts), tt.wantReason, tt.wantAttempts)
			}
			if diff := cmp.Diff(tt.wantCalls, calls, cmp.AllowUnexported(call{})); diff != "" {
				t.Errorf("hook calls mismatch (-want +got):\n%s", diff)
			}
			if tt.wantReason == StopAlreadyDone && (!out.Succeeded() || out.Err() != nil || out.Status() != "completed") {
				t.Errorf("already_done is not reported as success: %v %v %s", out.Succeeded(), out.Err(), out.Status())
			}
		})
	}
}

func TestEngineAttemptContext(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	e := newTestEngine(t, noJitter(), clk)
	parent := context.WithValue(context.Background(), struct{}{}, "v")
	e.Do(parent, func(ctx context.Context, _ int) Result {
		if ctx != parent {
			t.Error("attempt context is not the caller's when no timeout applies")
		}
		return ok()
	})
}

// The tests below use testing/synctest: time is virtual inside the bubble,
// so the real clock, real timers and context deadlines run without waiting.

func TestEngineAttemptTimeout(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		p := noJitter()
		p.AttemptTimeout = 2 * time.Second
		e, err := NewEngine(p) // the real clock and sleeper
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		out := e.Do(context.Background(), func(ctx context.Context, n int) Result {
			if n == 1 {
				<-ctx.Done() // hangs until attempt_timeout
				return Result{Failure: &Failure{Message: "Authentication failed"}}
			}
			return ok()
		})
		if out.Reason != StopSucceeded || len(out.Attempts) != 2 {
			t.Fatalf("Reason, attempts = %s, %d; want succeeded after 2", out.Reason, len(out.Attempts))
		}
		a := out.Attempts[0]
		if a.ErrorType != Timeout || *a.Evidence != (Evidence{"builtin.timed_out", "timed_out", "true"}) || a.ExecutionTime() != 2*time.Second {
			t.Errorf("attempt 1 = %+v, %+v; want a 2s timeout", a, *a.Evidence)
		}
		if got := time.Since(start); got != 7*time.Second {
			t.Errorf("run took %v, want 2s + 5s wait", got)
		}
	})
}

func TestEngineMaxTotalTimeBoundsAttempts(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		p := noJitter()
		p.MaxAttempts = 5
		p.MaxTotalTime = 60 * time.Second
		p.AttemptTimeout = 100 * time.Second
		e, err := NewEngine(p)
		if err != nil {
			t.Fatal(err)
		}
		var left []time.Duration
		out := e.Do(context.Background(), func(ctx context.Context, n int) Result {
			dl, ok := ctx.Deadline()
			if !ok {
				t.Fatalf("attempt %d has no deadline", n)
			}
			left = append(left, time.Until(dl))
			if n == 1 {
				time.Sleep(20 * time.Second)
				return refused()
			}
			<-ctx.Done() // hangs until the overall deadline
			return Result{Failure: &Failure{Err: ctx.Err()}}
		})
		// Attempt 1 at 0s gets 60s; it fails at 20s, waits 5s, attempt 2 at
		// 25s gets the 35s left, times out at 60s and no retry fits.
		if diff := cmp.Diff([]time.Duration{60 * time.Second, 35 * time.Second}, left); diff != "" {
			t.Errorf("attempt deadlines mismatch (-want +got):\n%s", diff)
		}
		if out.Reason != StopDeadlineExceeded || out.LastType != Timeout || !out.LastFailure.TimedOut {
			t.Errorf("Outcome = %s, %s, %+v; want deadline_exceeded after a timeout", out.Reason, out.LastType, out.LastFailure)
		}
		if got := out.End.Sub(out.Start); got != 60*time.Second {
			t.Errorf("run took %v, want 60s", got)
		}
	})
}

func TestEngineContextDeadlineDuringSleep(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		e, err := NewEngine(noJitter())
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		out := e.Do(ctx, func(context.Context, int) Result { return refused() })
		if out.Reason != StopDeadlineExceeded || len(out.Attempts) != 1 {
			t.Errorf("Reason, attempts = %s, %d; want deadline_exceeded after 1", out.Reason, len(out.Attempts))
		}
		if got := time.Since(start); got != 3*time.Second {
			t.Errorf("returned after %v, want 3s: the wait ends with the context", got)
		}
	})
}

func TestEngineConcurrentUse(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	p := DefaultPolicy() // with jitter, from the concurrency-safe default source
	e := newTestEngine(t, p, clk)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			out := e.Do(context.Background(), func(context.Context, int) Result { return refused() })
			if out.Reason != StopAttemptsExhausted || len(out.Attempts) != 3 {
				t.Errorf("Reason, attempts = %s, %d", out.Reason, len(out.Attempts))
			}
		})
	}
	wg.Wait()
}

func TestNewEngineValidates(t *testing.T) {
	t.Parallel()
	p := DefaultPolicy()
	p.MaxAttempts = 0
	if _, err := NewEngine(p); err == nil || err.Error() != "max_attempts must be between 1 and 10, got 0" {
		t.Errorf("NewEngine() error = %v", err)
	}
	// The engine keeps its own copy of the policy.
	p = noJitter()
	clk := newFakeClock()
	e := newTestEngine(t, p, clk)
	p.RetryConditions[0] = Timeout
	out := e.Do(context.Background(), scripted(t, clk, nil, refused(), ok()))
	if out.Reason != StopSucceeded {
		t.Errorf("Reason = %s: the engine shares RetryConditions with the caller", out.Reason)
	}
}

func TestEngineDeadlinePassedBeforeRetry(t *testing.T) {
	t.Parallel()
	p := noJitter()
	p.MaxTotalTime = 12 * time.Second
	clk := newFakeClock()
	slowHook := func(context.Context, int, ErrorType) bool {
		clk.Advance(10 * time.Second) // the idempotency check itself takes long
		return false
	}
	e := newTestEngine(t, p, clk, WithBeforeRetry(slowHook))
	out := e.Do(context.Background(), scripted(t, clk, nil, refused(), ok()))
	if out.Reason != StopDeadlineExceeded || len(out.Attempts) != 1 {
		t.Errorf("Reason, attempts = %s, %d; want deadline_exceeded before attempt 2", out.Reason, len(out.Attempts))
	}
}

// A gate refuses attempts that must not run (an open circuit breaker, a full bulkhead, a spent
// retry budget): the attempt does not run, the run stops with rejected and the gate's failure,
// whose preset type no classifier rule overrides.
func TestEngineGate(t *testing.T) {
	t.Parallel()
	open := &Failure{Type: CircuitOpen, Message: "circuit breaker \"vc\" is open"}
	budget := &Failure{Type: RetryBudgetExhausted, Message: "retry budget exhausted"}
	tests := []struct {
		name         string
		gate         func(n int) *Failure
		results      []Result
		wantReason   StopReason
		wantAttempts int
		wantType     ErrorType
		wantSleeps   []time.Duration
		wantAsked    []int
	}{
		{"refused before the first attempt", func(int) *Failure { return open }, nil,
			StopRejected, 0, CircuitOpen, nil, []int{1}},
		{"admitted every time", func(int) *Failure { return nil }, []Result{refused(), ok()},
			StopSucceeded, 2, "", []time.Duration{secs(5)}, []int{1, 2}},
		{"retry refused after the wait", func(n int) *Failure {
			if n > 1 {
				return budget
			}
			return nil
		}, []Result{refused()}, StopRejected, 1, RetryBudgetExhausted, []time.Duration{secs(5)}, []int{1, 2}},
		{"not asked after a non-retryable failure", func(int) *Failure { return nil }, []Result{failStatus(401)},
			StopNonRetryable, 1, AuthenticationError, nil, []int{1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clk := newFakeClock()
			var asked []int
			// A rule that would match the gate's message must not win over the preset type.
			cls := mustClassifier(t, Rule{Type: Timeout, Pattern: "circuit|budget"})
			e := newTestEngine(t, noJitter(), clk, WithClassifier(cls), WithGate(func(_ context.Context, n int) *Failure {
				asked = append(asked, n)
				return tt.gate(n)
			}))
			out := e.Do(context.Background(), scripted(t, clk, nil, tt.results...))
			if out.Reason != tt.wantReason || len(out.Attempts) != tt.wantAttempts || out.LastType != tt.wantType {
				t.Errorf("Reason, attempts, LastType = %s, %d, %q; want %s, %d, %q",
					out.Reason, len(out.Attempts), out.LastType, tt.wantReason, tt.wantAttempts, tt.wantType)
			}
			if diff := cmp.Diff(tt.wantSleeps, clk.Sleeps()); diff != "" {
				t.Errorf("sleeps (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantAsked, asked); diff != "" {
				t.Errorf("gate asked for attempts (-want +got):\n%s", diff)
			}
			if tt.wantReason == StopRejected {
				var se *StopError
				if err := out.Err(); !errors.As(err, &se) || se.Type != tt.wantType || se.Failure == nil || se.Failure.Type != tt.wantType {
					t.Errorf("Err() = %v", err)
				}
			}
		})
	}
}

// The wait of a gate before the first attempt (a bulkhead) does not count against
// max_total_time; a cancelled context wins over the gate's refusal.
func TestEngineGateTime(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	p := noJitter()
	p.MaxTotalTime = 10 * time.Second
	e := newTestEngine(t, p, clk, WithGate(func(_ context.Context, n int) *Failure {
		if n == 1 {
			clk.Advance(time.Minute) // waited for a slot
		}
		return nil
	}))
	out := e.Do(context.Background(), scripted(t, clk, nil, refused(), ok()))
	if out.Reason != StopSucceeded || !out.Start.Equal(t0.Add(time.Minute)) {
		t.Errorf("Reason %s, Start %v: the deadline must start after the gate's wait", out.Reason, out.Start)
	}

	ctx, cancel := context.WithCancel(context.Background())
	e = newTestEngine(t, noJitter(), newFakeClock(), WithGate(func(context.Context, int) *Failure {
		cancel()
		return &Failure{Type: BulkheadFull, Err: context.Canceled}
	}))
	if out := e.Do(ctx, scripted(t, clk, nil)); out.Reason != StopCancelled || out.LastType != BulkheadFull {
		t.Errorf("cancelled while waiting: Reason %s, LastType %s", out.Reason, out.LastType)
	}
}

// An attempt that itself fails with a reserved type stops the run: reserved types are never
// retried, and Decide says rejected.
func TestEngineReservedTypeFromAttempt(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	e := newTestEngine(t, noJitter(), clk)
	out := e.Do(context.Background(), scripted(t, clk, nil, Result{Failure: &Failure{Type: BulkheadFull, Message: "full"}}))
	if out.Reason != StopRejected || len(out.Attempts) != 1 || out.Attempts[0].ErrorType != BulkheadFull ||
		out.Attempts[0].Evidence.Rule != "preset" {
		t.Errorf("out = %+v", out)
	}
}
