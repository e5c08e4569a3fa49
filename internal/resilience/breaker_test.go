package resilience

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"resilience.ops/internal/retry"
)

// breakerOnly is the circuit breaker alone: 3 consecutive failures, no rate rule, open 30 s.
func breakerOnly(dir string) Settings {
	s := DefaultSettings()
	s.Dir = dir
	s.CircuitBreaker.Enabled = true
	s.CircuitBreaker.FailureThreshold = 3
	s.CircuitBreaker.FailureRateThreshold = 0
	s.CircuitBreaker.OpenDuration = 30 * time.Second
	return s
}

const key = "vcenter01.example.com"

// openBreaker fails attempts until the breaker is open.
func openBreaker(t *testing.T, g *Guardrails) {
	t.Helper()
	for range g.Settings().CircuitBreaker.FailureThreshold {
		attempt(t, g, key, retry.ConnectionError)
	}
	if got := readDoc(t, g, key).Breaker.State; got != Open {
		t.Fatalf("breaker is %s after failure_threshold failures, want open", got)
	}
}

func TestBreakerLifecycle(t *testing.T) { eachStore(t, testBreakerLifecycle) }

func testBreakerLifecycle(t *testing.T, b backend) {
	t.Parallel()
	g, clk := b.newTest(t, breakerOnly(t.TempDir()))

	for i := range 2 {
		_, r := attempt(t, g, key, retry.ConnectionError)
		if r.Breaker.State != Closed || r.Breaker.ConsecutiveFailures != i+1 || r.Counted != "failure" {
			t.Fatalf("failure %d: %s", i+1, toJSON(r))
		}
	}
	if _, r := attempt(t, g, key, ""); r.Breaker.ConsecutiveFailures != 0 || r.Counted != "success" {
		t.Fatalf("a success did not reset the consecutive failures: %s", toJSON(r))
	}

	var r AttemptReport
	for range 3 {
		clk.Advance(time.Second)
		_, r = attempt(t, g, key, retry.ConnectionError)
	}
	openedAt := clk.Now()
	want := []Transition{{From: Closed, To: Open, At: openedAt,
		Reason: "3 consecutive failures (failure_threshold 3), the last connection_error"}}
	if diff := cmp.Diff(want, r.Breaker.Transitions); r.Breaker.State != Open || diff != "" {
		t.Fatalf("third failure: state %s, transitions (-want +got):\n%s", r.Breaker.State, diff)
	}

	// Open: refused at once, with the time until the next trial; nothing waits.
	adm := before(t, g, key)
	if adm.Admitted || adm.ErrorType != retry.CircuitOpen || adm.RetryIn != 30*time.Second || adm.Breaker.NextTrialIn != 30 {
		t.Fatalf("open breaker admission: %s (retry in %s)", toJSON(adm), adm.RetryIn)
	}
	if !strings.Contains(adm.Message, "is open (3 consecutive failures") || !strings.Contains(adm.Message, "next trial call is allowed in 30s") {
		t.Errorf("message = %q", adm.Message)
	}
	var rej *RejectedError
	if err := adm.Err(); !errors.As(err, &rej) || rej.Type != retry.CircuitOpen || rej.RetryIn != 30*time.Second {
		t.Errorf("Err() = %#v", err)
	}
	if r := g.AfterAttempt(adm, "", false); r.Recorded {
		t.Error("AfterAttempt recorded a refused attempt")
	}

	clk.Advance(30*time.Second - time.Millisecond)
	if adm := before(t, g, key); adm.Admitted || adm.RetryIn != time.Millisecond {
		t.Fatalf("1 ms before open_until: %s (retry in %s)", toJSON(adm), adm.RetryIn)
	}

	// Half-open: one trial (half_open_max_calls 1); the others are refused while it runs.
	clk.Advance(time.Millisecond)
	trial := before(t, g, key)
	if !trial.Admitted || trial.Breaker.State != HalfOpen || !trial.Breaker.Trial || len(trial.Breaker.Transitions) != 1 {
		t.Fatalf("at open_until: %s", toJSON(trial))
	}
	if other := before(t, g, key); other.Admitted || other.ErrorType != retry.CircuitOpen || !strings.Contains(other.Message, "half-open") || other.RetryIn != 0 {
		t.Fatalf("a second call during the trial: %s", toJSON(other))
	}

	// The trial succeeds: closed.
	r = g.AfterAttempt(trial, "", false)
	if r.Breaker.State != Closed || len(r.Breaker.Transitions) != 1 || r.Breaker.Transitions[0].Reason != "a trial call succeeded" {
		t.Fatalf("after the trial: %s", toJSON(r))
	}
	if adm := before(t, g, key); !adm.Admitted || adm.Breaker.State != Closed {
		t.Fatalf("after closing: %s", toJSON(adm))
	}

	doc := readDoc(t, g, key)
	var got []string
	for _, tr := range doc.Breaker.Transitions {
		got = append(got, string(tr.From)+">"+string(tr.To)+"@"+tr.At.Sub(t0).String())
	}
	if diff := cmp.Diff([]string{"closed>open@3s", "open>half_open@33s", "half_open>closed@33s"}, got); diff != "" {
		t.Errorf("recorded transitions (-want +got):\n%s", diff)
	}
	if doc.Breaker.Opens != 1 || doc.Breaker.Generation != 3 || !doc.Breaker.OpenUntil.IsZero() {
		t.Errorf("breaker document: %s", toJSON(doc.Breaker))
	}
}

func TestBreakerTrialFailureReopens(t *testing.T) { eachStore(t, testBreakerTrialFailureReopens) }

func testBreakerTrialFailureReopens(t *testing.T, b backend) {
	t.Parallel()
	g, clk := b.newTest(t, breakerOnly(t.TempDir()))
	openBreaker(t, g)
	clk.Advance(30 * time.Second)
	_, r := attempt(t, g, key, retry.Timeout)
	if r.Breaker.State != Open || len(r.Breaker.Transitions) != 1 || r.Breaker.Transitions[0].Reason != "a trial call failed (timeout)" {
		t.Fatalf("after a failed trial: %s", toJSON(r))
	}
	doc := readDoc(t, g, key)
	if !doc.Breaker.OpenUntil.Equal(clk.Now().Add(30*time.Second)) || doc.Breaker.Opens != 2 {
		t.Errorf("re-opened breaker: %s", toJSON(doc.Breaker))
	}
	if adm := before(t, g, key); adm.Admitted || adm.RetryIn != 30*time.Second {
		t.Errorf("after re-opening: %s", toJSON(adm))
	}
}

func TestBreakerCountsOnlyRetryableFailures(t *testing.T) {
	eachStore(t, testBreakerCountsOnlyRetryableFailures)
}

func testBreakerCountsOnlyRetryableFailures(t *testing.T, b backend) {
	t.Parallel()
	g, _ := b.newTest(t, breakerOnly(t.TempDir()))
	for range 10 {
		if _, r := attempt(t, g, key, retry.AuthenticationError); r.Counted != "ignored" || r.Breaker.State != Closed {
			t.Fatalf("a wrong password: %s", toJSON(r))
		}
	}
	// A type the user chose not to retry is ignored too.
	adm := before(t, g, key)
	if r := g.AfterAttempt(adm, retry.ConnectionError, false); r.Counted != "ignored" || r.Breaker.ConsecutiveFailures != 0 {
		t.Fatalf("a connection error that is not retried: %s", toJSON(r))
	}
	// Reserved types are not calls.
	adm = before(t, g, key)
	if r := g.AfterAttempt(adm, retry.CircuitOpen, false); r.Counted != "none" || r.Recorded {
		t.Fatalf("circuit_open: %s", toJSON(r))
	}
	// Ignored failures neither count nor reset the count.
	attempt(t, g, key, retry.ConnectionError)
	attempt(t, g, key, retry.ConnectionError)
	attempt(t, g, key, retry.AuthorizationError)
	if _, r := attempt(t, g, key, retry.ServiceUnavailable); r.Breaker.State != Open {
		t.Fatalf("third counted failure: %s", toJSON(r))
	}
}

func TestBreakerFailureRateWindow(t *testing.T) { eachStore(t, testBreakerFailureRateWindow) }

func testBreakerFailureRateWindow(t *testing.T, b backend) {
	t.Parallel()
	rateOnly := func(t *testing.T) (*Guardrails, *fakeClock) {
		s := breakerOnly(t.TempDir())
		s.CircuitBreaker.FailureThreshold = MaxFailureThreshold
		s.CircuitBreaker.FailureRateThreshold = 0.5
		s.CircuitBreaker.MinimumCalls = 4
		s.CircuitBreaker.Window = 60 * time.Second
		return b.newTest(t, s)
	}
	run := func(t *testing.T, g *Guardrails, outcomes string) AttemptReport {
		t.Helper()
		var r AttemptReport
		for _, c := range outcomes {
			typ := retry.ErrorType("")
			if c == 'F' {
				typ = retry.TemporaryFailure
			}
			_, r = attempt(t, g, key, typ)
		}
		return r
	}

	t.Run("minimum_calls and expiry", func(t *testing.T) {
		t.Parallel()
		g, clk := rateOnly(t)
		if r := run(t, g, "FFF"); r.Breaker.State != Closed || r.Breaker.FailureRate != 1 {
			t.Fatalf("3 failures of 3 calls, below minimum_calls: %s", toJSON(r))
		}
		clk.Advance(60 * time.Second) // they leave the window
		// 1 failure of 4 calls: 25%. With the old failures it would be 4 of 7.
		if r := run(t, g, "SSSF"); r.Breaker.State != Closed || r.Breaker.WindowCalls != 4 || r.Breaker.WindowFailures != 1 {
			t.Fatalf("after the window passed: %s", toJSON(r))
		}
		if r := run(t, g, "F"); r.Breaker.State != Closed || r.Breaker.FailureRate != 0.4 {
			t.Fatalf("40%%: %s", toJSON(r))
		}
		r := run(t, g, "F")
		want := "failure rate 50% of 6 counted calls in the last 60s reached failure_rate_threshold 50% (minimum_calls 4), the last temporary_failure"
		if r.Breaker.State != Open || len(r.Breaker.Transitions) != 1 || r.Breaker.Transitions[0].Reason != want {
			t.Fatalf("50%%: %s", toJSON(r))
		}
	})
	t.Run("still in the window at 59s", func(t *testing.T) {
		t.Parallel()
		g, clk := rateOnly(t)
		run(t, g, "FFF")
		clk.Advance(59 * time.Second)
		if r := run(t, g, "F"); r.Breaker.State != Open {
			t.Fatalf("4 failures of 4 calls in 59 s: %s", toJSON(r))
		}
	})
}

func TestBreakerHalfOpenMaxCalls(t *testing.T) { eachStore(t, testBreakerHalfOpenMaxCalls) }

func testBreakerHalfOpenMaxCalls(t *testing.T, b backend) {
	t.Parallel()
	s := breakerOnly(t.TempDir())
	s.CircuitBreaker.HalfOpenMaxCalls = 2
	g, clk := b.newTest(t, s)
	openBreaker(t, g)
	clk.Advance(30 * time.Second)

	a1, a2 := before(t, g, key), before(t, g, key)
	if !a1.Admitted || !a2.Admitted || !a1.Breaker.Trial || !a2.Breaker.Trial {
		t.Fatalf("two trials: %s\n%s", toJSON(a1), toJSON(a2))
	}
	if a3 := before(t, g, key); a3.Admitted || a3.ErrorType != retry.CircuitOpen {
		t.Fatalf("a third call while 2 trials run: %s", toJSON(a3))
	}
	// A trial that ends with a failure that is not counted decides nothing and frees its slot.
	if r := g.AfterAttempt(a1, retry.AuthenticationError, false); r.Breaker.State != HalfOpen {
		t.Fatalf("an ignored trial result: %s", toJSON(r))
	}
	a4 := before(t, g, key)
	if !a4.Admitted || !a4.Breaker.Trial {
		t.Fatalf("a trial after one finished: %s", toJSON(a4))
	}
	if r := g.AfterAttempt(a2, "", false); r.Breaker.State != Closed {
		t.Fatalf("a successful trial: %s", toJSON(r))
	}
	// The last trial fails after the breaker closed: it belongs to a state that is gone.
	if r := g.AfterAttempt(a4, retry.ConnectionError, true); r.Breaker.State != Closed || r.Breaker.ConsecutiveFailures != 0 || len(r.Breaker.Transitions) != 0 {
		t.Fatalf("a late trial failure: %s", toJSON(r))
	}
}

func TestBreakerLateResultsDoNotMoveIt(t *testing.T) { eachStore(t, testBreakerLateResultsDoNotMoveIt) }

func testBreakerLateResultsDoNotMoveIt(t *testing.T, b backend) {
	t.Parallel()
	g, clk := b.newTest(t, breakerOnly(t.TempDir()))
	// A burst: ten calls admitted while closed, all failing.
	var adms []*Admission
	for range 10 {
		adms = append(adms, before(t, g, key))
	}
	for _, a := range adms[:9] {
		g.AfterAttempt(a, retry.ConnectionError, true)
	}
	doc := readDoc(t, g, key)
	if doc.Breaker.Opens != 1 || len(doc.Breaker.Transitions) != 1 {
		t.Fatalf("a burst of 9 failures opened the breaker %d times: %s", doc.Breaker.Opens, toJSON(doc.Breaker))
	}
	clk.Advance(30 * time.Second)
	attempt(t, g, key, "") // the trial closes it
	// The last call of the burst fails now: it must not count against the closed breaker.
	if r := g.AfterAttempt(adms[9], retry.ConnectionError, true); r.Breaker.State != Closed || r.Breaker.ConsecutiveFailures != 0 {
		t.Fatalf("a failure from before the outage: %s", toJSON(r))
	}
}

func TestBreakerTransitionsBounded(t *testing.T) { eachStore(t, testBreakerTransitionsBounded) }

func testBreakerTransitionsBounded(t *testing.T, b backend) {
	t.Parallel()
	g, clk := b.newTest(t, breakerOnly(t.TempDir()))
	for range 10 {
		openBreaker(t, g)
		clk.Advance(30 * time.Second)
		attempt(t, g, key, "")
	}
	doc := readDoc(t, g, key)
	if len(doc.Breaker.Transitions) != MaxTransitions || doc.Breaker.Opens != 10 {
		t.Fatalf("%d transitions kept, %d opens", len(doc.Breaker.Transitions), doc.Breaker.Opens)
	}
	if last := doc.Breaker.Transitions[MaxTransitions-1]; last.To != Closed || !last.At.Equal(clk.Now()) {
		t.Errorf("the last transition kept is %s", toJSON(last))
	}
}

func TestRecordWithoutAdmission(t *testing.T) { eachStore(t, testRecordWithoutAdmission) }

func testRecordWithoutAdmission(t *testing.T, b backend) {
	t.Parallel()
	g, clk := b.newTest(t, breakerOnly(t.TempDir()))
	for range 3 {
		if _, err := g.Record(key, retry.ConnectionError, true); err != nil {
			t.Fatal(err)
		}
	}
	clk.Advance(30 * time.Second)
	r, err := g.Record(key, "", false)
	if err != nil {
		t.Fatal(err)
	}
	var got []CircuitState
	for _, tr := range r.Breaker.Transitions {
		got = append(got, tr.To)
	}
	if diff := cmp.Diff([]CircuitState{HalfOpen, Closed}, got); r.Breaker.State != Closed || diff != "" {
		t.Fatalf("a success recorded after open_duration: %s", toJSON(r))
	}
}

func TestDisabledTouchesNothing(t *testing.T) { eachStore(t, testDisabledTouchesNothing) }

func testDisabledTouchesNothing(t *testing.T, b backend) {
	t.Parallel()
	s := DefaultSettings()
	s.Dir = filepath.Join(t.TempDir(), "state")
	g, _ := b.newTest(t, s)
	adm, r := attempt(t, g, key, retry.ConnectionError)
	if !adm.Admitted || r.Recorded || adm.Breaker.Enabled || adm.Bulkhead.Enabled {
		t.Fatalf("disabled: %s\n%s", toJSON(adm), toJSON(r))
	}
	if d, _ := g.AllowRetry(key); !d.Allowed || d.Enabled {
		t.Errorf("disabled budget: %s", toJSON(d))
	}
	p := retry.DefaultPolicy()
	if q, a, _ := g.Adapt(key, p); a.Adapted || q.BaseDelay != p.BaseDelay {
		t.Errorf("disabled adaptive: %s", toJSON(a))
	}
	if _, err := os.Stat(s.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the state directory was created: %v", err)
	}
}
