package release

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"resilience.ops/internal/clock"
	"resilience.ops/internal/etcdstore"
	"resilience.ops/internal/etcdtest"
	"resilience.ops/internal/guard"
	"resilience.ops/internal/slo"
)

// extendDuring returns an evaluator hook that extends the guard on g during the first evaluation,
// as `qos_guard lock 60 --reason "NEW rollback"` does (same lock id, later expiry), and records
// the guard after it.
func extendDuring(t *testing.T, g *guard.Guard, after *guard.Status) func(int) {
	return func(call int) {
		if call != 0 {
			return
		}
		res, err := g.Lock(guard.LockRequest{Minutes: 60, Extend: true, Reason: "NEW rollback"}, false)
		if err != nil || !res.Changed {
			t.Errorf("extension: %+v, %v", res, err)
		}
		*after = res.After
	}
}

// An extension made while the evaluation runs keeps the lock id: the release compares the expiry
// too, decides again on the extended lock (whose window starts at the extension) and releases
// nothing. In check mode it does not predict a release either.
func TestExtensionDuringEvaluationWins(t *testing.T) {
	t.Parallel()
	for _, check := range []bool{false, true} {
		path := filepath.Join(t.TempDir(), "qos.guard")
		old := lockAt(t, path, t0.Add(-time.Hour), 90)
		fc := newFakeClock(t0)
		g := guard.New(path)
		g.Clock = fc
		var extended guard.Status
		ev := &fakeEval{reports: []slo.Report{stable}, clock: fc, hook: extendDuring(t, g, &extended)}
		req := defaultReq
		req.check = check
		out, err := decide(t, path, fc, ev, req)
		if err != nil {
			t.Fatal(err)
		}
		if out.unlocked || out.wouldUnlock || out.status != StatusNotYetEvaluable || out.guard.LockID != old.LockID ||
			out.guard.ExpiresAt != extended.ExpiresAt || out.wait != window15 {
			t.Errorf("check %v: unlocked %v, would %v, status %s, guard %+v, wait %v", check, out.unlocked, out.wouldUnlock,
				out.status, out.guard, out.wait)
		}
		if st := statusAt(t, path, t0); !st.Locked || st.ExpiresAt != extended.ExpiresAt {
			t.Errorf("guard after the release: %+v", st)
		}
		if got := events(audit(t, path)); !slices.Equal(got, []string{"lock", "extend"}) {
			t.Errorf("audit %v", got)
		}
	}
}

// The window's start comes from the guard, not from the audit trail: an audit trail that is
// larger than the state limit, torn before the extension, missing, or not a file at all changes
// nothing, and the window still starts at the extension.
func TestTheWindowDoesNotDependOnTheAuditTrail(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name  string
		spoil func(t *testing.T, auditPath string, lines []byte)
	}{
		{"over 8 MiB", func(t *testing.T, p string, lines []byte) {
			big := bytes.Repeat([]byte(`{"time":"2020-01-01T00:00:00Z","event":"noise","actor":"x"}`+"\n"), 9<<20/60)
			write(t, p, append(big, lines...))
		}},
		{"a torn line before the extension", func(t *testing.T, p string, lines []byte) {
			first, rest, _ := bytes.Cut(lines, []byte("\n"))
			write(t, p, append(append(append(first, '\n'), `{"time":"2026-11-23T09:`...), append([]byte("\n"), rest...)...))
		}},
		{"missing", func(t *testing.T, p string, _ []byte) {
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
		}},
		{"a directory", func(t *testing.T, p string, _ []byte) {
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
			if err := os.Mkdir(p, 0o700); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "qos.guard")
			lockAt(t, path, t0.Add(-time.Hour), 90)
			g := guard.New(path)
			g.Clock = clock.Func(func() time.Time { return t0.Add(-5 * time.Minute) })
			if res, err := g.Lock(guard.LockRequest{Minutes: 60, Extend: true, Reason: "NEW rollback"}, false); err != nil || !res.Changed {
				t.Fatalf("extension: %+v, %v", res, err)
			}
			auditPath := path + guard.AuditSuffix
			lines, err := os.ReadFile(auditPath)
			if err != nil || !strings.Contains(string(lines), `"event":"extend"`) {
				t.Fatalf("audit %q, %v", lines, err)
			}
			tt.spoil(t, auditPath, lines)
			fc := newFakeClock(t0)
			ev := &fakeEval{reports: []slo.Report{stable}, clock: fc}
			out, err := decide(t, path, fc, ev, defaultReq)
			if out.unlocked || out.status != StatusNotYetEvaluable || out.wait != 10*time.Minute || len(ev.calls) != 0 {
				t.Errorf("unlocked %v, status %s, wait %v, %d evaluations, err %v; want not_yet_evaluable for 10m, nothing evaluated",
					out.unlocked, out.status, out.wait, len(ev.calls), err)
			}
		})
	}
}

func write(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// A guard written before window_start existed, and extended then (the extension kept id and
// locked_at, and only the audit trail recorded it), is not released early: its window starts at
// expires_at - window_minutes, the time of that extension.
func TestOlderGuardExtendedIsNotReleasedEarly(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "qos.guard")
	doc := `{"id": "abc", "locked_at": "` + t0.Add(-time.Hour).Format(time.RFC3339) + `", "expires_at": "` +
		t0.Add(55*time.Minute).Format(time.RFC3339) + `", "owner": "o", "reason": "NEW rollback", "window_minutes": 60}`
	write(t, path, []byte(doc))
	fc := newFakeClock(t0)
	ev := &fakeEval{reports: []slo.Report{stable}, clock: fc}
	out, err := decide(t, path, fc, ev, defaultReq)
	if err != nil || out.unlocked || out.status != StatusNotYetEvaluable || out.wait != 10*time.Minute ||
		!out.lockedSince.Equal(t0.Add(-5*time.Minute)) {
		t.Errorf("status %s, unlocked %v, wait %v, since %v, err %v", out.status, out.unlocked, out.wait, out.lockedSince, err)
	}
}

// On etcd the guard compares the expiry inside its compare-and-swap: an extension written by
// another client (another host) during the evaluation wins there too.
func TestExtensionDuringEvaluationWinsOnEtcd(t *testing.T) {
	t.Parallel()
	cluster := etcdtest.Start(t, 1)
	newGuard := func(c clock.Clock) *guard.Guard {
		st, err := etcdstore.New(etcdstore.Config{Endpoints: cluster.Endpoints(), Prefix: "/release-extension/"})
		if err != nil {
			t.Fatal(err)
		}
		return &guard.Guard{Path: "/fleet/qos.guard", Store: st, Clock: c}
	}
	locker := newGuard(clock.Func(func() time.Time { return t0.Add(-time.Hour) }))
	old, err := locker.Lock(guard.LockRequest{Minutes: 90, Reason: "rollback"}, false)
	if err != nil {
		t.Fatal(err)
	}
	fc := newFakeClock(t0)
	locker.Clock = fc // the other host's extension happens now
	var extended guard.Status
	ev := &fakeEval{reports: []slo.Report{stable}, clock: fc, hook: extendDuring(t, locker, &extended)}
	r := &releaser{guard: newGuard(fc), eval: ev, clock: fc}
	out, err := r.run(context.Background(), defaultReq)
	if err != nil {
		t.Fatal(err)
	}
	if out.unlocked || out.status != StatusNotYetEvaluable || out.guard.LockID != old.After.LockID || out.guard.ExpiresAt != extended.ExpiresAt {
		t.Errorf("unlocked %v, status %s, guard %+v", out.unlocked, out.status, out.guard)
	}
	st, err := locker.Status(true)
	if err != nil || !st.After.Locked || st.After.ExpiresAt != extended.ExpiresAt {
		t.Errorf("guard in etcd after the release: %+v, %v", st.After, err)
	}
}
