package release

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"resilience.ops/internal/clock"
	"resilience.ops/internal/guard"
	"resilience.ops/internal/slo"
)

// decide runs one decision on a guard at path with a fake clock at t0 and a fake evaluator.
func decide(t *testing.T, path string, fc *fakeClock, ev *fakeEval, req request) (outcome, error) {
	t.Helper()
	g := guard.New(path)
	g.Clock = fc
	r := &releaser{guard: g, eval: ev, clock: fc}
	return r.run(context.Background(), req)
}

// statusAt reads the guard at path as if at time at, without changing it.
func statusAt(t *testing.T, path string, at time.Time) guard.Status {
	t.Helper()
	g := guard.New(path)
	g.Clock = clock.Func(func() time.Time { return at })
	res, err := g.Status(true)
	if err != nil {
		t.Fatal(err)
	}
	return res.After
}

func audit(t *testing.T, path string) []guard.Event {
	t.Helper()
	evs, err := guard.New(path).ReadAudit()
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

func events(evs []guard.Event) []string {
	var out []string
	for _, e := range evs {
		out = append(out, e.Event)
	}
	return out
}

func TestDecisionTable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		lockedAgo  time.Duration // 0: the guard is not locked
		report     slo.Report
		check      bool
		wantStatus Status
		wantEvals  int
		unlocked   bool
		would      bool
		locked     bool // the guard after the decision (as found on disk)
		wantEvents []string
	}{
		{"stable and locked: released", time.Hour, stable, false, StatusStable, 1, true, false, false, []string{"lock", "release"}},
		{"stable and not locked: nothing to do", 0, stable, false, StatusStable, 1, false, false, false, nil},
		{"unstable: stays locked", time.Hour, unstable, false, StatusUnstable, 1, false, false, true, []string{"lock"}},
		{"unknown: stays locked", time.Hour, unknown, false, StatusUnknown, 1, false, false, true, []string{"lock"}},
		{"config error: stays locked", time.Hour, misconfig, false, StatusConfigError, 1, false, false, true, []string{"lock"}},
		{"unstable and not locked", 0, unstable, false, StatusUnstable, 1, false, false, false, nil},
		{"locked 5m ago, 15m window: not yet evaluable, nothing queried", 5 * time.Minute, stable, false, StatusNotYetEvaluable, 0, false, false, true, []string{"lock"}},
		{"locked exactly one window ago: evaluable", window15, stable, false, StatusStable, 1, true, false, false, []string{"lock", "release"}},
		{"check mode: would release, writes nothing", time.Hour, stable, true, StatusStable, 1, false, true, true, []string{"lock"}},
		{"check mode, unstable", time.Hour, unstable, true, StatusUnstable, 1, false, false, true, []string{"lock"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "qos.guard")
			var lock guard.Status
			if tt.lockedAgo > 0 {
				lock = lockAt(t, path, t0.Add(-tt.lockedAgo), 120)
			}
			fc := newFakeClock(t0)
			ev := &fakeEval{reports: []slo.Report{tt.report}, clock: fc}
			req := defaultReq
			req.check = tt.check
			out, err := decide(t, path, fc, ev, req)
			if err != nil {
				t.Fatal(err)
			}
			if out.status != tt.wantStatus || len(ev.calls) != tt.wantEvals || out.unlocked != tt.unlocked || out.wouldUnlock != tt.would {
				t.Errorf("status %s, %d evaluations, unlocked %v, would_unlock %v; want %s, %d, %v, %v",
					out.status, len(ev.calls), out.unlocked, out.wouldUnlock, tt.wantStatus, tt.wantEvals, tt.unlocked, tt.would)
			}
			if st := statusAt(t, path, fc.Now()); st.Locked != tt.locked {
				t.Errorf("guard on disk locked = %v, want %v", st.Locked, tt.locked)
			}
			if got := events(audit(t, path)); !slices.Equal(got, tt.wantEvents) {
				t.Errorf("audit events %v, want %v", got, tt.wantEvents)
			}
			if (tt.unlocked || tt.would) && out.released.LockID != lock.LockID {
				t.Errorf("released lock %q, want %q", out.released.LockID, lock.LockID)
			}
			if tt.would && out.guard.Locked {
				t.Errorf("check mode: the guard should be predicted unlocked: %+v", out.guard)
			}
		})
	}
}

func TestReleaseRecordsTheEvaluation(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "qos.guard")
	lock := lockAt(t, path, t0.Add(-time.Hour), 120)
	fc := newFakeClock(t0)
	out, err := decide(t, path, fc, &fakeEval{reports: []slo.Report{stable}, clock: fc}, defaultReq)
	if err != nil || !out.unlocked {
		t.Fatalf("unlocked %v, err %v", out.unlocked, err)
	}
	evs := audit(t, path)
	rel := evs[len(evs)-1]
	if rel.Event != "release" || rel.LockID != lock.LockID || rel.Owner != "ci@runner" || rel.Time != t0.Format(time.RFC3339Nano) {
		t.Errorf("release event %+v", rel)
	}
	for _, want := range []string{"released by qos_guard_release", "all 3 SLO checks passed over the 15m window", "http_5xx_ratio: http_5xx_ratio value 0.002"} {
		if !strings.Contains(rel.Reason, want) {
			t.Errorf("reason %q lacks %q", rel.Reason, want)
		}
	}
	// The evaluation in the trail holds every check's query, value, threshold and outcome.
	b, _ := json.Marshal(rel.Evaluation)
	var got slo.Report
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	want := stable
	want.EvaluatedAt = t0
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("evaluation in the audit trail (-want +got):\n%s", diff)
	}
	for _, c := range got.Checks {
		if c.Query == "" || c.Value == nil || c.Threshold == 0 || c.Outcome != slo.OutcomePass {
			t.Errorf("incomplete check in the audit trail: %+v", c)
		}
	}
}

func TestNotYetEvaluable(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "qos.guard")
	lockAt(t, path, t0.Add(-5*time.Minute), 60)
	fc := newFakeClock(t0)
	ev := &fakeEval{reports: []slo.Report{stable}, clock: fc}
	out, err := decide(t, path, fc, ev, defaultReq)
	if err != nil {
		t.Fatal(err)
	}
	if out.status != StatusNotYetEvaluable || out.evaluable || out.wait != 10*time.Minute ||
		!out.evaluableAt.Equal(t0.Add(10*time.Minute)) || !out.lockedSince.Equal(t0.Add(-5*time.Minute)) {
		t.Errorf("got %s, evaluable %v, wait %v, at %v, since %v", out.status, out.evaluable, out.wait, out.evaluableAt, out.lockedSince)
	}
	if len(ev.calls) != 0 || out.evaluated || len(fc.Sleeps()) != 0 {
		t.Errorf("evaluated %d times, slept %v: want neither", len(ev.calls), fc.Sleeps())
	}
	if len(out.warnings) != 0 {
		t.Errorf("unexpected warnings %q", out.warnings)
	}
}

func TestGuardExpiringBeforeTheWindowWarns(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "qos.guard")
	lockAt(t, path, t0.Add(-time.Minute), 15) // the defaults: a 15 minute guard and a 15m window
	fc := newFakeClock(t0)
	out, _ := decide(t, path, fc, &fakeEval{reports: []slo.Report{stable}, clock: fc}, defaultReq)
	if out.status != StatusNotYetEvaluable || len(out.warnings) != 1 || !strings.Contains(out.warnings[0], "cannot release it early") {
		t.Errorf("status %s, warnings %q", out.status, out.warnings)
	}
}

// An early release needs the window and one evaluation (query_timeout) to end before the guard
// expires: window + evaluation >= lock warns, shorter does not.
func TestEarlyReleaseNeedsWindowPlusEvaluation(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		minutes    int
		window     time.Duration
		evaluation time.Duration
		warn       bool
	}{
		{"lock 15, window 15m: never early", 15, 15 * time.Minute, 10 * time.Second, true},
		{"lock 15, window 14m50s, evaluation 10s: ends exactly at the expiry", 15, 14*time.Minute + 50*time.Second, 10 * time.Second, true},
		{"lock 15, window 14m49s, evaluation 10s: one second to spare", 15, 14*time.Minute + 49*time.Second, 10 * time.Second, false},
		{"lock 30, window 15m (the playbooks' defaults)", 30, 15 * time.Minute, 10 * time.Second, false},
		{"lock 1, window 30s (the defaults at 1/30 scale)", 1, 30 * time.Second, time.Second, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "qos.guard")
			lockAt(t, path, t0, tc.minutes)
			fc := newFakeClock(t0)
			req := defaultReq
			req.window, req.evaluation = tc.window, tc.evaluation
			out, err := decide(t, path, fc, &fakeEval{reports: []slo.Report{stable}, clock: fc}, req)
			if err != nil {
				t.Fatal(err)
			}
			warned := slices.ContainsFunc(out.warnings, func(w string) bool { return strings.Contains(w, "cannot release it early") })
			if out.status != StatusNotYetEvaluable || warned != tc.warn {
				t.Errorf("status %s, warnings %q; want not_yet_evaluable, warning %v", out.status, out.warnings, tc.warn)
			}
		})
	}
}

// An extension is a new locking event (typically a second rollback): the window counts from it,
// although the lock keeps its id and locked_at.
func TestExtensionRestartsTheWindow(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "qos.guard")
	lockAt(t, path, t0.Add(-time.Hour), 70)
	g := guard.New(path)
	g.Clock = clock.Func(func() time.Time { return t0.Add(-5 * time.Minute) })
	if _, err := g.Lock(guard.LockRequest{Minutes: 60, Extend: true, Reason: "second rollback"}, false); err != nil {
		t.Fatal(err)
	}
	fc := newFakeClock(t0)
	ev := &fakeEval{reports: []slo.Report{stable}, clock: fc}
	out, err := decide(t, path, fc, ev, defaultReq)
	if err != nil {
		t.Fatal(err)
	}
	if out.status != StatusNotYetEvaluable || out.wait != 10*time.Minute || len(ev.calls) != 0 {
		t.Errorf("status %s, wait %v, %d evaluations; want not_yet_evaluable, 10m, none", out.status, out.wait, len(ev.calls))
	}
}

// A hand-written guard without locked_at never counts as locked long ago.
func TestMissingLockedAtIsStrict(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "qos.guard")
	doc := `{"id": "abc", "expires_at": "` + t0.Add(20*time.Minute).Format(time.RFC3339) + `", "window_minutes": 30}`
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	fc := newFakeClock(t0)
	ev := &fakeEval{reports: []slo.Report{stable}, clock: fc}
	out, err := decide(t, path, fc, ev, defaultReq)
	if err != nil {
		t.Fatal(err)
	}
	// Counted from expires_at - window_minutes = t0 - 10m: evaluable 5 minutes from now.
	if out.status != StatusNotYetEvaluable || out.wait != 5*time.Minute || len(out.warnings) != 1 {
		t.Errorf("status %s, wait %v, warnings %q", out.status, out.wait, out.warnings)
	}
}

func TestCorruptGuardIsAGuardError(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "qos.guard")
	if err := os.WriteFile(path, []byte("not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	fc := newFakeClock(t0)
	ev := &fakeEval{reports: []slo.Report{stable}, clock: fc}
	out, err := decide(t, path, fc, ev, defaultReq)
	if !errors.Is(err, guard.ErrCorrupt) || out.status != StatusGuardError || !out.guard.Locked || len(ev.calls) != 0 {
		t.Fatalf("err %v, status %s, guard %+v, %d evaluations", err, out.status, out.guard, len(ev.calls))
	}
	if !strings.Contains(err.Error(), "force") {
		t.Errorf("the message should say how to recover: %v", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "not json" {
		t.Errorf("the corrupt guard was changed: %q", b)
	}
}

func TestWaitLoop(t *testing.T) {
	t.Parallel()
	poll := 30 * time.Second
	tests := []struct {
		name       string
		lockedAgo  time.Duration
		reports    []slo.Report
		timeout    time.Duration
		wantStatus Status
		wantSleeps []time.Duration
		wantEvals  int
		unlocked   bool
	}{
		{"stable at once", time.Hour, []slo.Report{stable}, 30 * time.Minute, StatusStable, nil, 1, true},
		{"recovers on the third evaluation", time.Hour, []slo.Report{unstable, unknown, stable}, 30 * time.Minute,
			StatusStable, []time.Duration{poll, poll}, 3, true},
		{"never recovers: evaluates until the deadline, the last pause shortened", time.Hour, []slo.Report{unstable}, 100 * time.Second,
			StatusUnstable, []time.Duration{poll, poll, poll, 10 * time.Second}, 5, false},
		{"a config error stops the wait", time.Hour, []slo.Report{misconfig, stable}, 30 * time.Minute, StatusConfigError, nil, 1, false},
		{"waits until evaluable, then releases", 5 * time.Minute, []slo.Report{stable}, 30 * time.Minute,
			StatusStable, []time.Duration{10 * time.Minute}, 1, true},
		{"waits until evaluable, then polls", 5 * time.Minute, []slo.Report{unstable, stable}, 30 * time.Minute,
			StatusStable, []time.Duration{10 * time.Minute, poll}, 2, true},
		{"not evaluable before the deadline: gives up at once", 5 * time.Minute, []slo.Report{stable}, 9 * time.Minute,
			StatusNotYetEvaluable, nil, 0, false},
		{"zero timeout evaluates once", time.Hour, []slo.Report{unstable, stable}, 0, StatusUnstable, nil, 1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "qos.guard")
			lockAt(t, path, t0.Add(-tt.lockedAgo), 120)
			fc := newFakeClock(t0)
			ev := &fakeEval{reports: tt.reports, clock: fc}
			req := defaultReq
			req.wait, req.waitTimeout, req.pollInterval = true, tt.timeout, poll
			out, err := decide(t, path, fc, ev, req)
			if err != nil {
				t.Fatal(err)
			}
			if out.status != tt.wantStatus || len(ev.calls) != tt.wantEvals || out.attempts != tt.wantEvals || out.unlocked != tt.unlocked {
				t.Errorf("status %s, %d evaluations (attempts %d), unlocked %v; want %s, %d, %v",
					out.status, len(ev.calls), out.attempts, out.unlocked, tt.wantStatus, tt.wantEvals, tt.unlocked)
			}
			if diff := cmp.Diff(tt.wantSleeps, fc.Sleeps()); diff != "" {
				t.Errorf("sleeps (-want +got):\n%s", diff)
			}
			var total time.Duration
			for _, s := range fc.Sleeps() {
				total += s
			}
			if total > tt.timeout || out.waited != total {
				t.Errorf("slept %v in all, reported %v, timeout %v", total, out.waited, tt.timeout)
			}
			// The guard stays locked until the evaluation that passed: only then is it released.
			evs := audit(t, path)
			if tt.unlocked {
				last := evs[len(evs)-1]
				if last.Event != "release" || last.Time != ev.calls[len(ev.calls)-1].Format(time.RFC3339Nano) {
					t.Errorf("release event %+v, last evaluation at %v", last, ev.calls[len(ev.calls)-1])
				}
			} else if got := events(evs); !slices.Equal(got, []string{"lock"}) {
				t.Errorf("audit %v: the guard should have stayed locked", got)
			}
		})
	}
}

// The guard stays locked during the whole wait: another reader sees it locked after every
// evaluation that did not pass.
func TestWaitKeepsTheGuardLocked(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "qos.guard")
	lockAt(t, path, t0.Add(-time.Hour), 120)
	fc := newFakeClock(t0)
	var lockedDuring []bool
	ev := &fakeEval{reports: []slo.Report{unstable, unknown, unstable, stable}, clock: fc}
	ev.hook = func(int) {
		lockedDuring = append(lockedDuring, statusAt(t, path, fc.Now()).Locked)
	}
	req := defaultReq
	req.wait = true
	out, err := decide(t, path, fc, ev, req)
	if err != nil || !out.unlocked {
		t.Fatalf("unlocked %v, err %v", out.unlocked, err)
	}
	if !slices.Equal(lockedDuring, []bool{true, true, true, true}) {
		t.Errorf("guard locked during the evaluations: %v", lockedDuring)
	}
}

// A guard locked again (by a new rollback) while the evaluation ran is never released by it.
func TestRelockDuringEvaluation(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "qos.guard")
	old := lockAt(t, path, t0.Add(-time.Hour), 120)
	fc := newFakeClock(t0)
	ev := &fakeEval{reports: []slo.Report{stable}, clock: fc}
	var fresh guard.Status
	ev.hook = func(call int) {
		if call == 0 {
			g := guard.New(path)
			g.Clock = fc
			res, err := g.Lock(guard.LockRequest{Minutes: 30, Force: true, Reason: "new rollback"}, false)
			if err != nil {
				t.Error(err)
			}
			fresh = res.After
		}
	}
	out, err := decide(t, path, fc, ev, defaultReq)
	if err != nil {
		t.Fatal(err)
	}
	if out.unlocked || out.status != StatusNotYetEvaluable || out.guard.LockID != fresh.LockID || fresh.LockID == old.LockID {
		t.Errorf("unlocked %v, status %s, guard %s (old %s, new %s)", out.unlocked, out.status, out.guard.LockID, old.LockID, fresh.LockID)
	}
	if got := events(audit(t, path)); !slices.Equal(got, []string{"lock", "lock"}) {
		t.Errorf("audit %v", got)
	}
}

func TestWaitInterrupted(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "qos.guard")
	lockAt(t, path, t0.Add(-time.Hour), 120)
	fc := newFakeClock(t0)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	fc.OnSleep(func(context.Context, int, time.Duration) error { cancel(); return nil }) // a signal arriving mid-wait
	g := guard.New(path)
	g.Clock = fc
	ev := &fakeEval{reports: []slo.Report{unstable, stable}, clock: fc}
	req := defaultReq
	req.wait = true
	out, err := (&releaser{guard: g, eval: ev, clock: fc}).run(ctx, req)
	if err != nil || !out.interrupted || out.status != StatusUnstable || len(ev.calls) != 1 || !out.guard.Locked {
		t.Errorf("err %v, interrupted %v, status %s, %d evaluations, guard locked %v", err, out.interrupted, out.status, len(ev.calls), out.guard.Locked)
	}
}
