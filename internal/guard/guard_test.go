package guard

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"resilience.ops/internal/fakeclock"
	"resilience.ops/internal/state"
)

// t0 is the fake clock's start: a whole second, so that RFC 3339 times are exact.
var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

const actor = "tester@host"

// fakeClock is the test clock (package fakeclock), safe for concurrent use.
type fakeClock = fakeclock.Clock

// seqIDs hands out id-1, id-2, ...
type seqIDs struct {
	mu sync.Mutex
	n  int
}

func (s *seqIDs) Next() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	return fmt.Sprintf("id-%d", s.n)
}

type fixture struct {
	g     *Guard
	clock *fakeClock
	b     backend
	st    state.Store // the guard's store as made: a test may wrap the guard's in a faulty one
}

func newFixture(t *testing.T, b backend) *fixture {
	t.Helper()
	c := fakeclock.New(t0)
	ids := &seqIDs{}
	st := b.new(t)
	g := &Guard{
		Path:  filepath.Join(t.TempDir(), "run", "qos.guard"),
		Store: st,
		Clock: c,
		NewID: ids.Next,
		Actor: actor,
	}
	return &fixture{g: g, clock: c, b: b, st: st}
}

func (f *fixture) lock(t *testing.T, req LockRequest) Result {
	t.Helper()
	res, err := f.g.Lock(req, false)
	if err != nil {
		t.Fatalf("Lock(%+v): %v", req, err)
	}
	return res
}

// file returns the guard document's bytes, or nil when it does not exist.
func (f *fixture) file(t *testing.T) []byte {
	t.Helper()
	return f.raw(t, f.g.Path)
}

// raw reads key from the fixture's store, past the guard: the file itself for the file store.
func (f *fixture) raw(t *testing.T, key string) []byte {
	t.Helper()
	if !f.b.file {
		data, err := f.store().Load(key)
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	b, err := os.ReadFile(key)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// store is the fixture's own store.
func (f *fixture) store() state.Store { return f.st }

// write stores content as the guard document, as another tool (or a torn write) would leave it.
func (f *fixture) write(t *testing.T, content string) {
	t.Helper()
	if !f.b.file {
		err := f.store().Update(f.g.Path, func([]byte) ([]byte, error) { return []byte(content), nil })
		if err != nil {
			t.Fatal(err)
		}
		return
	}
	if err := os.MkdirAll(filepath.Dir(f.g.Path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f.g.Path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// writeAudit stores content as the audit trail: line by line through the store's Append.
func (f *fixture) writeAudit(t *testing.T, content string) {
	t.Helper()
	if f.b.file {
		if err := os.MkdirAll(filepath.Dir(f.g.Path), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f.g.Path+AuditSuffix, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return
	}
	for _, line := range strings.SplitAfter(content, "\n") {
		if line == "" {
			continue
		}
		if err := f.store().Append(f.g.Path+AuditSuffix, []byte(line)); err != nil {
			t.Fatal(err)
		}
	}
}

func (f *fixture) stored(t *testing.T) Lock {
	t.Helper()
	var l Lock
	if err := json.Unmarshal(f.file(t), &l); err != nil {
		t.Fatalf("guard file: %v", err)
	}
	return l
}

func (f *fixture) audit(t *testing.T) []Event {
	t.Helper()
	evs, err := f.g.ReadAudit()
	if err != nil {
		t.Fatalf("ReadAudit: %v", err)
	}
	return evs
}

func (f *fixture) auditBytes(t *testing.T) []byte {
	t.Helper()
	return f.raw(t, f.g.Path+AuditSuffix)
}

func ts(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func lockedStatus(path, id string, lockedAt, expiresAt, now time.Time, owner, reason string, minutes int) Status {
	return Status{
		Locked: true, Path: path, LockID: id,
		LockedAt: ts(lockedAt), ExpiresAt: ts(expiresAt),
		RemainingSeconds: int64((expiresAt.Sub(now) + time.Second - 1) / time.Second), // rounded up
		Owner:            owner, Reason: reason, WindowMinutes: minutes,
		// The latest lock or extension: the guard writes expires_at as its time + minutes.
		WindowStart: ts(maxTime(expiresAt.Add(-time.Duration(minutes)*time.Minute), lockedAt)),
	}
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func TestLockCreates(t *testing.T) { eachStore(t, testLockCreates) }

func testLockCreates(t *testing.T, b backend) {
	t.Parallel()
	f := newFixture(t, b)
	res := f.lock(t, LockRequest{Minutes: 15, Owner: "ci@runner", Reason: "rollback of v2"})

	exp := t0.Add(15 * time.Minute)
	want := Result{
		Before:  Status{Path: f.g.Path},
		After:   lockedStatus(f.g.Path, "id-1", t0, exp, t0, "ci@runner", "rollback of v2", 15),
		Changed: true,
	}
	if diff := cmp.Diff(want, res); diff != "" {
		t.Errorf("result mismatch (-want +got):\n%s", diff)
	}
	if got, want := res.After.RemainingSeconds, int64(900); got != want {
		t.Errorf("remaining = %d, want %d", got, want)
	}
	wantLock := Lock{ID: "id-1", LockedAt: t0, ExpiresAt: exp, Owner: "ci@runner", Reason: "rollback of v2", WindowMinutes: 15, WindowStart: t0}
	if diff := cmp.Diff(wantLock, f.stored(t)); diff != "" {
		t.Errorf("stored lock mismatch (-want +got):\n%s", diff)
	}
	if !b.file {
		return
	}
	fi, err := os.Stat(f.g.Path)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := fi.Mode().Perm(), os.FileMode(state.FileMode); got != want {
		t.Errorf("guard file mode = %o, want %o", got, want)
	}
	wantEv := []Event{{Time: "2025-03-01T12:00:00Z", Event: "lock", LockID: "id-1", Owner: "ci@runner",
		Reason: "rollback of v2", ExpiresAt: "2025-03-01T12:15:00Z", WindowMinutes: 15, Actor: actor}}
	if diff := cmp.Diff(wantEv, f.audit(t)); diff != "" {
		t.Errorf("audit mismatch (-want +got):\n%s", diff)
	}
}

func TestLockDefaultOwner(t *testing.T) { eachStore(t, testLockDefaultOwner) }

func testLockDefaultOwner(t *testing.T, b backend) {
	t.Parallel()
	f := newFixture(t, b)
	res := f.lock(t, LockRequest{Minutes: 1})
	if got, want := res.After.Owner, DefaultOwner(); got != want {
		t.Errorf("owner = %q, want %q", got, want)
	}
	if !strings.Contains(DefaultOwner(), "@") {
		t.Errorf("DefaultOwner() = %q, want user@host", DefaultOwner())
	}
}

func TestLockAgainWithoutExtendIsUnchanged(t *testing.T) {
	eachStore(t, testLockAgainWithoutExtendIsUnchanged)
}

func testLockAgainWithoutExtendIsUnchanged(t *testing.T, b backend) {
	t.Parallel()
	f := newFixture(t, b)
	f.lock(t, LockRequest{Minutes: 15, Owner: "a", Reason: "first"})
	before, auditBefore := f.file(t), f.auditBytes(t)

	f.clock.Advance(time.Minute)
	res := f.lock(t, LockRequest{Minutes: 60, Owner: "b", Reason: "second"})

	st := lockedStatus(f.g.Path, "id-1", t0, t0.Add(15*time.Minute), t0.Add(time.Minute), "a", "first", 15)
	if diff := cmp.Diff(Result{Before: st, After: st}, res); diff != "" {
		t.Errorf("result mismatch (-want +got):\n%s", diff)
	}
	if got := f.file(t); string(got) != string(before) {
		t.Errorf("guard file changed:\n%s\nwant\n%s", got, before)
	}
	if got := f.auditBytes(t); string(got) != string(auditBefore) {
		t.Errorf("audit changed:\n%s", got)
	}
}

func TestExtend(t *testing.T) { eachStore(t, testExtend) }

func testExtend(t *testing.T, b backend) {
	t.Parallel()
	tests := []struct {
		name        string
		advance     time.Duration
		req         LockRequest
		wantChanged bool
		wantLock    Lock // when changed
	}{
		{
			name:        "moves expiry out and keeps id, owner, reason and locked_at",
			advance:     5 * time.Minute,
			req:         LockRequest{Minutes: 15, Extend: true},
			wantChanged: true,
			wantLock: Lock{ID: "id-1", LockedAt: t0, ExpiresAt: t0.Add(20 * time.Minute), Owner: "a",
				Reason: "first", WindowMinutes: 15, WindowStart: t0.Add(5 * time.Minute)}, // the window starts again
		},
		{
			name:        "takes a new owner and reason when given",
			advance:     5 * time.Minute,
			req:         LockRequest{Minutes: 30, Extend: true, Owner: "b", Reason: "second"},
			wantChanged: true,
			wantLock: Lock{ID: "id-1", LockedAt: t0, ExpiresAt: t0.Add(35 * time.Minute), Owner: "b",
				Reason: "second", WindowMinutes: 30, WindowStart: t0.Add(5 * time.Minute)},
		},
		{
			name:    "never shortens",
			advance: time.Minute,
			req:     LockRequest{Minutes: 5, Extend: true, Owner: "b"},
		},
		{
			name: "same expiry is no change",
			req:  LockRequest{Minutes: 15, Extend: true},
		},
		{
			name:    "less than a second later is no change",
			advance: 999 * time.Millisecond,
			req:     LockRequest{Minutes: 15, Extend: true},
		},
		{
			name:        "a second later is a change",
			advance:     time.Second,
			req:         LockRequest{Minutes: 15, Extend: true},
			wantChanged: true,
			wantLock: Lock{ID: "id-1", LockedAt: t0, ExpiresAt: t0.Add(15*time.Minute + time.Second), Owner: "a",
				Reason: "first", WindowMinutes: 15, WindowStart: t0.Add(time.Second)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, b)
			f.lock(t, LockRequest{Minutes: 15, Owner: "a", Reason: "first"})
			before := f.file(t)
			f.clock.Advance(tt.advance)
			now := f.clock.Now()

			// Check mode predicts exactly what the real run does, and writes nothing.
			pred, err := f.g.Lock(tt.req, true)
			if err != nil {
				t.Fatal(err)
			}
			if got := f.file(t); string(got) != string(before) {
				t.Fatal("check mode wrote the guard file")
			}
			res := f.lock(t, tt.req)
			if diff := cmp.Diff(res, pred); diff != "" {
				t.Errorf("check-mode prediction differs (-real +check):\n%s", diff)
			}

			wantBefore := lockedStatus(f.g.Path, "id-1", t0, t0.Add(15*time.Minute), now, "a", "first", 15)
			if diff := cmp.Diff(wantBefore, res.Before); diff != "" {
				t.Errorf("Before mismatch (-want +got):\n%s", diff)
			}
			if res.Changed != tt.wantChanged {
				t.Fatalf("changed = %v, want %v", res.Changed, tt.wantChanged)
			}
			evs := f.audit(t)
			if !tt.wantChanged {
				if string(f.file(t)) != string(before) || len(evs) != 1 {
					t.Errorf("unchanged extend wrote: file changed %v, %d audit events", string(f.file(t)) != string(before), len(evs))
				}
				if diff := cmp.Diff(res.Before, res.After); diff != "" {
					t.Errorf("After differs from Before (-before +after):\n%s", diff)
				}
				return
			}
			if diff := cmp.Diff(tt.wantLock, f.stored(t)); diff != "" {
				t.Errorf("stored lock mismatch (-want +got):\n%s", diff)
			}
			l := tt.wantLock
			if diff := cmp.Diff(lockedStatus(f.g.Path, l.ID, l.LockedAt, l.ExpiresAt, now, l.Owner, l.Reason, l.WindowMinutes), res.After); diff != "" {
				t.Errorf("After mismatch (-want +got):\n%s", diff)
			}
			if len(evs) != 2 {
				t.Fatalf("audit has %d events, want 2", len(evs))
			}
			wantEv := Event{Time: ts(now), Event: "extend", LockID: "id-1", Owner: l.Owner, Reason: l.Reason,
				ExpiresAt: ts(l.ExpiresAt), WindowMinutes: l.WindowMinutes, Actor: actor}
			if diff := cmp.Diff(wantEv, evs[1]); diff != "" {
				t.Errorf("extend event mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestExtendWithoutLockCreatesOne(t *testing.T) { eachStore(t, testExtendWithoutLockCreatesOne) }

func testExtendWithoutLockCreatesOne(t *testing.T, b backend) {
	t.Parallel()
	f := newFixture(t, b)
	res := f.lock(t, LockRequest{Minutes: 10, Extend: true, Owner: "a"})
	if !res.Changed || res.After.LockID != "id-1" {
		t.Errorf("result = %+v, want a new lock id-1", res)
	}
	if evs := f.audit(t); len(evs) != 1 || evs[0].Event != "lock" {
		t.Errorf("audit = %+v, want one lock event", evs)
	}
}

func TestForce(t *testing.T) { eachStore(t, testForce) }

func testForce(t *testing.T, b backend) {
	t.Parallel()
	tests := []struct {
		name       string
		setup      func(t *testing.T, f *fixture)
		wantBefore func(f *fixture) Status
		wantID     string
	}{
		{
			name:  "over a longer active lock",
			setup: func(t *testing.T, f *fixture) { f.lock(t, LockRequest{Minutes: 60, Owner: "a", Reason: "first"}) },
			wantBefore: func(f *fixture) Status {
				return lockedStatus(f.g.Path, "id-1", t0, t0.Add(time.Hour), t0.Add(time.Minute), "a", "first", 60)
			},
			wantID: "id-2",
		},
		{
			name:  "over a corrupt file",
			setup: func(t *testing.T, f *fixture) { f.write(t, "{not json") },
			wantBefore: func(f *fixture) Status {
				return Status{Path: f.g.Path, Locked: true, Corrupt: true}
			},
			wantID: "id-1",
		},
		{
			name:  "over nothing",
			setup: func(*testing.T, *fixture) {},
			wantBefore: func(f *fixture) Status {
				return Status{Path: f.g.Path}
			},
			wantID: "id-1",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, b)
			tt.setup(t, f)
			auditBefore := len(f.audit(t))
			f.clock.Advance(time.Minute)
			now := f.clock.Now()
			res := f.lock(t, LockRequest{Minutes: 5, Owner: "b", Reason: "override", Force: true})

			wantID := tt.wantID
			exp := now.Add(5 * time.Minute)
			want := Result{
				Before:  tt.wantBefore(f),
				After:   lockedStatus(f.g.Path, wantID, now, exp, now, "b", "override", 5),
				Changed: true,
			}
			if diff := cmp.Diff(want, res); diff != "" {
				t.Errorf("result mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(Lock{ID: wantID, LockedAt: now, ExpiresAt: exp, Owner: "b", Reason: "override", WindowMinutes: 5, WindowStart: now}, f.stored(t)); diff != "" {
				t.Errorf("stored lock mismatch (-want +got):\n%s", diff)
			}
			evs := f.audit(t)
			wantEv := Event{Time: ts(now), Event: "lock", LockID: wantID, Owner: "b", Reason: "override",
				ExpiresAt: ts(exp), WindowMinutes: 5, Actor: actor, Forced: true}
			if len(evs) != auditBefore+1 {
				t.Fatalf("audit has %d events, want %d", len(evs), auditBefore+1)
			}
			if diff := cmp.Diff(wantEv, evs[len(evs)-1]); diff != "" {
				t.Errorf("event mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLockMinutesRange(t *testing.T) { eachStore(t, testLockMinutesRange) }

func testLockMinutesRange(t *testing.T, b backend) {
	t.Parallel()
	tests := []struct {
		minutes int
		wantErr bool
	}{
		{minutes: -1, wantErr: true},
		{minutes: 0, wantErr: true},
		{minutes: 1},
		{minutes: MaxWindowMinutes},
		{minutes: MaxWindowMinutes + 1, wantErr: true},
	}
	for _, tt := range tests {
		for _, check := range []bool{false, true} {
			t.Run(fmt.Sprintf("%d check=%v", tt.minutes, check), func(t *testing.T) {
				t.Parallel()
				f := newFixture(t, b)
				res, err := f.g.Lock(LockRequest{Minutes: tt.minutes, Force: true}, check)
				if !tt.wantErr {
					if err != nil {
						t.Fatal(err)
					}
					if got, want := res.After.RemainingSeconds, int64(tt.minutes)*60; got != want {
						t.Errorf("remaining = %d, want %d", got, want)
					}
					return
				}
				want := fmt.Sprintf("minutes must be between 1 and %d, got %d", MaxWindowMinutes, tt.minutes)
				if err == nil || err.Error() != want {
					t.Errorf("error = %v, want %q", err, want)
				}
				if f.file(t) != nil || f.auditBytes(t) != nil {
					t.Error("a rejected lock wrote files")
				}
				if res.Changed {
					t.Error("a rejected lock reports a change")
				}
			})
		}
	}
}

func TestCheckModeWritesNothing(t *testing.T) { eachStore(t, testCheckModeWritesNothing) }

func testCheckModeWritesNothing(t *testing.T, b backend) {
	t.Parallel()
	tests := []struct {
		name        string
		setup       func(t *testing.T, f *fixture)
		op          func(g *Guard) (Result, error)
		wantChanged bool
		wantLocked  bool // After.Locked
		wantErr     error
	}{
		{
			name:        "lock on nothing",
			setup:       func(*testing.T, *fixture) {},
			op:          func(g *Guard) (Result, error) { return g.Lock(LockRequest{Minutes: 10}, true) },
			wantChanged: true, wantLocked: true,
		},
		{
			name:        "extend",
			setup:       func(t *testing.T, f *fixture) { f.lock(t, LockRequest{Minutes: 10}); f.clock.Advance(time.Minute) },
			op:          func(g *Guard) (Result, error) { return g.Lock(LockRequest{Minutes: 10, Extend: true}, true) },
			wantChanged: true, wantLocked: true,
		},
		{
			name:        "force",
			setup:       func(t *testing.T, f *fixture) { f.lock(t, LockRequest{Minutes: 10}) },
			op:          func(g *Guard) (Result, error) { return g.Lock(LockRequest{Minutes: 1, Force: true}, true) },
			wantChanged: true, wantLocked: true,
		},
		{
			name:        "lock over an expired lock",
			setup:       func(t *testing.T, f *fixture) { f.lock(t, LockRequest{Minutes: 1}); f.clock.Advance(time.Hour) },
			op:          func(g *Guard) (Result, error) { return g.Lock(LockRequest{Minutes: 1}, true) },
			wantChanged: true, wantLocked: true,
		},
		{
			name:        "force over a corrupt file",
			setup:       func(t *testing.T, f *fixture) { f.write(t, "garbage") },
			op:          func(g *Guard) (Result, error) { return g.Lock(LockRequest{Minutes: 1, Force: true}, true) },
			wantChanged: true, wantLocked: true,
		},
		{
			name:       "lock over a corrupt file",
			setup:      func(t *testing.T, f *fixture) { f.write(t, "garbage") },
			op:         func(g *Guard) (Result, error) { return g.Lock(LockRequest{Minutes: 1}, true) },
			wantLocked: true, wantErr: ErrCorrupt,
		},
		{
			name:        "unlock",
			setup:       func(t *testing.T, f *fixture) { f.lock(t, LockRequest{Minutes: 10}) },
			op:          func(g *Guard) (Result, error) { return g.Unlock(UnlockRequest{}, true) },
			wantChanged: true,
		},
		{
			name:        "force unlock of a corrupt file",
			setup:       func(t *testing.T, f *fixture) { f.write(t, "garbage") },
			op:          func(g *Guard) (Result, error) { return g.Unlock(UnlockRequest{Force: true}, true) },
			wantChanged: true,
		},
		{
			name:       "unlock with a wrong id",
			setup:      func(t *testing.T, f *fixture) { f.lock(t, LockRequest{Minutes: 10}) },
			op:         func(g *Guard) (Result, error) { return g.Unlock(UnlockRequest{LockID: "other"}, true) },
			wantLocked: true, wantErr: ErrLockIDMismatch,
		},
		{
			name:  "unlock an expired lock",
			setup: func(t *testing.T, f *fixture) { f.lock(t, LockRequest{Minutes: 1}); f.clock.Advance(time.Hour) },
			op:    func(g *Guard) (Result, error) { return g.Unlock(UnlockRequest{}, true) },
		},
		{
			name:  "status of an expired lock",
			setup: func(t *testing.T, f *fixture) { f.lock(t, LockRequest{Minutes: 1}); f.clock.Advance(time.Hour) },
			op:    func(g *Guard) (Result, error) { return g.Status(true) },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, b)
			tt.setup(t, f)
			file, audit := f.file(t), f.auditBytes(t)

			res, err := tt.op(f.g)
			if !errors.Is(err, tt.wantErr) || (err != nil && tt.wantErr == nil) {
				t.Errorf("error = %v, want %v", err, tt.wantErr)
			}
			if res.Changed != tt.wantChanged || res.After.Locked != tt.wantLocked {
				t.Errorf("changed %v, locked after %v; want %v, %v", res.Changed, res.After.Locked, tt.wantChanged, tt.wantLocked)
			}
			if res.ExpiredRemoved {
				t.Error("check mode reports an expired lock as removed")
			}
			if got := f.file(t); string(got) != string(file) || (got == nil) != (file == nil) {
				t.Errorf("guard file changed in check mode: %q -> %q", file, got)
			}
			if got := f.auditBytes(t); string(got) != string(audit) {
				t.Errorf("audit changed in check mode: %q -> %q", audit, got)
			}
		})
	}
}

func TestStatusRemaining(t *testing.T) { eachStore(t, testStatusRemaining) }

func testStatusRemaining(t *testing.T, b backend) {
	t.Parallel()
	tests := []struct {
		advance       time.Duration
		wantLocked    bool
		wantRemaining int64
	}{
		{advance: 0, wantLocked: true, wantRemaining: 900},
		{advance: time.Second, wantLocked: true, wantRemaining: 899},
		{advance: 61 * time.Second, wantLocked: true, wantRemaining: 839},
		{advance: 14*time.Minute + 59*time.Second, wantLocked: true, wantRemaining: 1},
		{advance: 15 * time.Minute, wantLocked: false},
		{advance: 15*time.Minute + time.Nanosecond, wantLocked: false},
		{advance: 48 * time.Hour, wantLocked: false},
	}
	for _, tt := range tests {
		t.Run(tt.advance.String(), func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, b)
			f.lock(t, LockRequest{Minutes: 15, Owner: "a", Reason: "r"})
			f.clock.Advance(tt.advance)
			res, err := f.g.Status(true)
			if err != nil {
				t.Fatal(err)
			}
			want := Status{Path: f.g.Path}
			if tt.wantLocked {
				want = lockedStatus(f.g.Path, "id-1", t0, t0.Add(15*time.Minute), f.clock.Now(), "a", "r", 15)
				want.RemainingSeconds = tt.wantRemaining
			}
			if diff := cmp.Diff(Result{Before: want, After: want}, res); diff != "" {
				t.Errorf("status mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestStatusFarExpiry: a stored expiry beyond what a Duration holds (about 292 years) counts the
// seconds left exactly. Year 9999 used to report remaining_seconds -9223372035: the lock looked
// expired to anything that reads the number.
func TestStatusFarExpiry(t *testing.T) { eachStore(t, testStatusFarExpiry) }

func testStatusFarExpiry(t *testing.T, b backend) {
	t.Parallel()
	for _, expiry := range []string{"9999-12-31T23:59:59Z", "2400-01-01T00:00:00.5Z", "2325-01-01T00:00:00Z"} {
		f := newFixture(t, b)
		f.write(t, `{"id": "far", "locked_at": "2025-03-01T12:00:00Z", "expires_at": "`+expiry+`", "owner": "o", "window_minutes": 15}`)
		res, err := f.g.Status(true)
		if err != nil {
			t.Fatal(err)
		}
		exp, _ := time.Parse(time.RFC3339Nano, expiry)
		want := exp.Unix() - f.clock.Now().Unix()
		if exp.Nanosecond() > f.clock.Now().Nanosecond() {
			want++
		}
		if !res.After.Locked || res.After.RemainingSeconds != want || want <= 0 {
			t.Errorf("expiry %s: locked %v, remaining_seconds %d, want %d", expiry, res.After.Locked, res.After.RemainingSeconds, want)
		}
	}
}

func TestRemainingSeconds(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 500, time.UTC)
	for _, tt := range []struct {
		expiry time.Time
		want   int64
	}{
		{now.Add(900 * time.Second), 900},
		{now.Add(900*time.Second + 1), 901}, // rounded up
		{now.Add(900*time.Second - 1), 900},
		{now.Add(1), 1},
		{time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC), 253402300799 - 1767225600},
	} {
		if got := remainingSeconds(tt.expiry, now); got != tt.want {
			t.Errorf("remainingSeconds(%s) = %d, want %d", tt.expiry, got, tt.want)
		}
	}
}

func TestStatusNoGuard(t *testing.T) { eachStore(t, testStatusNoGuard) }

func testStatusNoGuard(t *testing.T, b backend) {
	t.Parallel()
	f := newFixture(t, b)
	res, err := f.g.Status(false)
	if err != nil {
		t.Fatal(err)
	}
	want := Status{Path: f.g.Path}
	if diff := cmp.Diff(Result{Before: want, After: want}, res); diff != "" {
		t.Errorf("mismatch (-want +got):\n%s", diff)
	}
	if f.file(t) != nil || f.auditBytes(t) != nil {
		t.Error("Status created files")
	}
}

func TestStatusRemovesExpired(t *testing.T) { eachStore(t, testStatusRemovesExpired) }

func testStatusRemovesExpired(t *testing.T, b backend) {
	t.Parallel()
	f := newFixture(t, b)
	f.lock(t, LockRequest{Minutes: 15, Owner: "a", Reason: "r"})
	f.clock.Advance(20 * time.Minute)

	// Check mode: reported unlocked, kept.
	res, err := f.g.Status(true)
	if err != nil {
		t.Fatal(err)
	}
	if res.After.Locked || res.ExpiredRemoved || f.file(t) == nil || len(f.audit(t)) != 1 {
		t.Fatalf("check-mode Status = %+v; file kept %v; want unlocked and nothing removed", res, f.file(t) != nil)
	}

	res, err = f.g.Status(false)
	if err != nil {
		t.Fatal(err)
	}
	unlocked := Status{Path: f.g.Path}
	if diff := cmp.Diff(Result{Before: unlocked, After: unlocked, ExpiredRemoved: true}, res); diff != "" {
		t.Errorf("result mismatch (-want +got):\n%s", diff)
	}
	if f.file(t) != nil {
		t.Error("the expired guard file is still there")
	}
	evs := f.audit(t)
	want := Event{Time: "2025-03-01T12:20:00Z", Event: "expire", LockID: "id-1", Owner: "a", Reason: "r",
		ExpiresAt: "2025-03-01T12:15:00Z", Actor: actor}
	if len(evs) != 2 {
		t.Fatalf("audit has %d events, want 2", len(evs))
	}
	if diff := cmp.Diff(want, evs[1]); diff != "" {
		t.Errorf("expire event mismatch (-want +got):\n%s", diff)
	}

	// Once removed, Status is a no-op.
	res, err = f.g.Status(false)
	if err != nil || res.ExpiredRemoved || len(f.audit(t)) != 2 {
		t.Errorf("second Status = %+v, %v, %d events; want nothing removed", res, err, len(f.audit(t)))
	}
}

func TestUnlock(t *testing.T) { eachStore(t, testUnlock) }

func testUnlock(t *testing.T, b backend) {
	t.Parallel()
	eval := map[string]any{"verdict": "pass", "score": 0.99}
	tests := []struct {
		name        string
		req         UnlockRequest
		wantChanged bool
		wantErr     error
		wantEvent   *Event // last audit event; Time and Actor filled in
	}{
		{
			name:        "without id",
			req:         UnlockRequest{},
			wantChanged: true,
			wantEvent:   &Event{Event: "unlock", LockID: "id-1", Owner: "a", ExpiresAt: "2025-03-01T12:15:00Z"},
		},
		{
			name:        "with the right id",
			req:         UnlockRequest{LockID: "id-1", Reason: "done"},
			wantChanged: true,
			wantEvent:   &Event{Event: "unlock", LockID: "id-1", Owner: "a", Reason: "done", ExpiresAt: "2025-03-01T12:15:00Z"},
		},
		{
			name:    "with a wrong id",
			req:     UnlockRequest{LockID: "id-9"},
			wantErr: ErrLockIDMismatch,
		},
		{
			name:        "forced with a wrong id",
			req:         UnlockRequest{LockID: "id-9", Force: true},
			wantChanged: true,
			wantEvent:   &Event{Event: "unlock", LockID: "id-1", Owner: "a", ExpiresAt: "2025-03-01T12:15:00Z", Forced: true},
		},
		{
			name:        "release with an evaluation",
			req:         UnlockRequest{Event: "release", Reason: "SLO met", Evaluation: eval},
			wantChanged: true,
			wantEvent: &Event{Event: "release", LockID: "id-1", Owner: "a", Reason: "SLO met",
				ExpiresAt: "2025-03-01T12:15:00Z", Evaluation: map[string]any{"verdict": "pass", "score": 0.99}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, b)
			f.lock(t, LockRequest{Minutes: 15, Owner: "a", Reason: "locked"})
			file := f.file(t)
			f.clock.Advance(2 * time.Minute)
			now := f.clock.Now()

			res, err := f.g.Unlock(tt.req, false)
			if !errors.Is(err, tt.wantErr) || (err != nil && tt.wantErr == nil) {
				t.Fatalf("error = %v, want %v", err, tt.wantErr)
			}
			locked := lockedStatus(f.g.Path, "id-1", t0, t0.Add(15*time.Minute), now, "a", "locked", 15)
			if tt.wantErr != nil {
				for _, s := range []string{"id-1", "id-9", "unlock with force"} {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not mention %q", err, s)
					}
				}
				if diff := cmp.Diff(Result{Before: locked, After: locked}, res); diff != "" {
					t.Errorf("result mismatch (-want +got):\n%s", diff)
				}
				if got := f.file(t); string(got) != string(file) {
					t.Errorf("guard file changed: %s", got)
				}
				if n := len(f.audit(t)); n != 1 {
					t.Errorf("audit has %d events, want 1", n)
				}
				return
			}
			want := Result{Before: locked, After: Status{Path: f.g.Path}, Changed: tt.wantChanged}
			if diff := cmp.Diff(want, res); diff != "" {
				t.Errorf("result mismatch (-want +got):\n%s", diff)
			}
			if f.file(t) != nil {
				t.Error("guard file still there")
			}
			evs := f.audit(t)
			if len(evs) != 2 {
				t.Fatalf("audit has %d events, want 2", len(evs))
			}
			wantEv := *tt.wantEvent
			wantEv.Time, wantEv.Actor = ts(now), actor
			if diff := cmp.Diff(wantEv, evs[1]); diff != "" {
				t.Errorf("event mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestUnlockNothing(t *testing.T) { eachStore(t, testUnlockNothing) }

func testUnlockNothing(t *testing.T, b backend) {
	t.Parallel()
	f := newFixture(t, b)
	res, err := f.g.Unlock(UnlockRequest{LockID: "x"}, false)
	if err != nil {
		t.Fatal(err)
	}
	unlocked := Status{Path: f.g.Path}
	if diff := cmp.Diff(Result{Before: unlocked, After: unlocked}, res); diff != "" {
		t.Errorf("mismatch (-want +got):\n%s", diff)
	}
	if f.auditBytes(t) != nil {
		t.Error("unlocking nothing wrote an audit event")
	}
}

func TestUnlockExpired(t *testing.T) { eachStore(t, testUnlockExpired) }

func testUnlockExpired(t *testing.T, b backend) {
	t.Parallel()
	f := newFixture(t, b)
	f.lock(t, LockRequest{Minutes: 15, Owner: "a", Reason: "r"})
	f.clock.Advance(time.Hour)
	res, err := f.g.Unlock(UnlockRequest{LockID: "some-other-id"}, false)
	if err != nil {
		t.Fatal(err)
	}
	unlocked := Status{Path: f.g.Path}
	if diff := cmp.Diff(Result{Before: unlocked, After: unlocked, ExpiredRemoved: true}, res); diff != "" {
		t.Errorf("mismatch (-want +got):\n%s", diff)
	}
	if f.file(t) != nil {
		t.Error("expired guard file still there")
	}
	evs := f.audit(t)
	if len(evs) != 2 || evs[1].Event != "expire" || evs[1].LockID != "id-1" {
		t.Errorf("audit = %+v, want lock then expire of id-1", evs)
	}
}

func TestCorrupt(t *testing.T) { eachStore(t, testCorrupt) }

func testCorrupt(t *testing.T, b backend) {
	t.Parallel()
	contents := map[string]string{
		"not JSON":        "{not json",
		"empty file":      "",
		"JSON null":       "null",
		"empty object":    "{}",
		"no id":           `{"expires_at": "2025-03-01T13:00:00Z"}`,
		"no expiry":       `{"id": "x"}`,
		"wrong types":     `{"id": 5, "expires_at": "soon"}`,
		"array":           `[1, 2]`,
		"truncated write": `{"id": "x", "expires_at": "2025-03-01T13:0`,
	}
	for name, content := range contents {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, b)
			f.write(t, content)
			corrupt := Status{Path: f.g.Path, Locked: true, Corrupt: true}

			for _, check := range []bool{true, false} {
				res, err := f.g.Status(check)
				if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), f.g.Path) {
					t.Errorf("Status(%v) error = %v, want ErrCorrupt naming the path", check, err)
				}
				if diff := cmp.Diff(Result{Before: corrupt, After: corrupt}, res); diff != "" {
					t.Errorf("Status(%v) mismatch (-want +got):\n%s", check, diff)
				}
			}
			for _, check := range []bool{true, false} {
				res, err := f.g.Lock(LockRequest{Minutes: 5, Extend: true}, check)
				if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "force") {
					t.Errorf("Lock(check=%v) error = %v, want ErrCorrupt suggesting force", check, err)
				}
				if diff := cmp.Diff(Result{Before: corrupt, After: corrupt}, res); diff != "" {
					t.Errorf("Lock(check=%v) mismatch (-want +got):\n%s", check, diff)
				}
				res, err = f.g.Unlock(UnlockRequest{LockID: "x"}, check)
				if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "force") {
					t.Errorf("Unlock(check=%v) error = %v, want ErrCorrupt suggesting force", check, err)
				}
				if diff := cmp.Diff(Result{Before: corrupt, After: corrupt}, res); diff != "" {
					t.Errorf("Unlock(check=%v) mismatch (-want +got):\n%s", check, diff)
				}
			}
			if got := f.file(t); string(got) != content {
				t.Errorf("corrupt file changed to %q", got)
			}
			if f.auditBytes(t) != nil {
				t.Error("refused operations wrote audit events")
			}

			// Forced unlock removes it and is recorded as forced.
			res, err := f.g.Unlock(UnlockRequest{Force: true, Reason: "cleanup"}, false)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(Result{Before: corrupt, After: Status{Path: f.g.Path}, Changed: true}, res); diff != "" {
				t.Errorf("forced Unlock mismatch (-want +got):\n%s", diff)
			}
			if f.file(t) != nil {
				t.Error("corrupt file not removed by a forced unlock")
			}
			want := []Event{{Time: ts(t0), Event: "unlock", Reason: "cleanup", Forced: true, Actor: actor}}
			if diff := cmp.Diff(want, f.audit(t)); diff != "" {
				t.Errorf("audit mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAuditTrail(t *testing.T) { eachStore(t, testAuditTrail) }

func testAuditTrail(t *testing.T, b backend) {
	t.Parallel()
	f := newFixture(t, b)
	step := func(d time.Duration) { f.clock.Advance(d) }

	// Every Lock call draws an id, also one that changes nothing or extends.
	f.lock(t, LockRequest{Minutes: 10, Owner: "a", Reason: "rollback"}) // 12:00 lock id-1
	step(time.Minute)
	f.lock(t, LockRequest{Minutes: 10, Owner: "a", Reason: "rollback"}) // 12:01 unchanged, no event
	f.lock(t, LockRequest{Minutes: 20, Extend: true})                   // 12:01 extend id-1 to 12:21
	step(time.Minute)
	if _, err := f.g.Unlock(UnlockRequest{LockID: "id-1"}, false); err != nil { // 12:02 unlock
		t.Fatal(err)
	}
	f.lock(t, LockRequest{Minutes: 1, Owner: "b", Reason: "promotion"})           // 12:02 lock id-4
	f.lock(t, LockRequest{Minutes: 5, Owner: "c", Reason: "hotfix", Force: true}) // 12:02 forced lock id-5
	step(10 * time.Minute)
	if _, err := f.g.Status(false); err != nil { // 12:12 expire id-5
		t.Fatal(err)
	}
	f.lock(t, LockRequest{Minutes: 3, Owner: "d"}) // 12:12 lock id-6
	step(time.Second)
	if _, err := f.g.Unlock(UnlockRequest{Event: "release", Reason: "ok", Force: true}, false); err != nil { // 12:12:01
		t.Fatal(err)
	}

	want := []Event{
		{Time: "2025-03-01T12:00:00Z", Event: "lock", LockID: "id-1", Owner: "a", Reason: "rollback", ExpiresAt: "2025-03-01T12:10:00Z", WindowMinutes: 10, Actor: actor},
		{Time: "2025-03-01T12:01:00Z", Event: "extend", LockID: "id-1", Owner: "a", Reason: "rollback", ExpiresAt: "2025-03-01T12:21:00Z", WindowMinutes: 20, Actor: actor},
		{Time: "2025-03-01T12:02:00Z", Event: "unlock", LockID: "id-1", Owner: "a", ExpiresAt: "2025-03-01T12:21:00Z", Actor: actor},
		{Time: "2025-03-01T12:02:00Z", Event: "lock", LockID: "id-4", Owner: "b", Reason: "promotion", ExpiresAt: "2025-03-01T12:03:00Z", WindowMinutes: 1, Actor: actor},
		{Time: "2025-03-01T12:02:00Z", Event: "lock", LockID: "id-5", Owner: "c", Reason: "hotfix", ExpiresAt: "2025-03-01T12:07:00Z", WindowMinutes: 5, Actor: actor, Forced: true},
		{Time: "2025-03-01T12:12:00Z", Event: "expire", LockID: "id-5", Owner: "c", Reason: "hotfix", ExpiresAt: "2025-03-01T12:07:00Z", Actor: actor},
		{Time: "2025-03-01T12:12:00Z", Event: "lock", LockID: "id-6", Owner: "d", ExpiresAt: "2025-03-01T12:15:00Z", WindowMinutes: 3, Actor: actor},
		{Time: "2025-03-01T12:12:01Z", Event: "release", LockID: "id-6", Owner: "d", Reason: "ok", ExpiresAt: "2025-03-01T12:15:00Z", Actor: actor, Forced: true},
	}
	if diff := cmp.Diff(want, f.audit(t)); diff != "" {
		t.Errorf("audit mismatch (-want +got):\n%s", diff)
	}
	// One JSON object per line, newline-terminated.
	raw := string(f.auditBytes(t))
	if got := strings.Count(raw, "\n"); got != len(want) || !strings.HasSuffix(raw, "\n") {
		t.Errorf("audit file has %d lines, want %d newline-terminated lines", got, len(want))
	}
}

func TestReadAudit(t *testing.T) { eachStore(t, testReadAudit) }

func testReadAudit(t *testing.T, b backend) {
	t.Parallel()
	f := newFixture(t, b)
	evs, err := f.g.ReadAudit()
	if evs != nil || err != nil {
		t.Errorf("ReadAudit without a trail = %v, %v; want nil, nil", evs, err)
	}
	content := `{"time":"t1","event":"lock","actor":"x"}` + "\n\n" + `{"time":"t2","event":"unlock","actor":"y"}` + "\n" + "{broken\n"
	f.writeAudit(t, content)
	evs, err = f.g.ReadAudit()
	if err == nil || !strings.Contains(err.Error(), AuditSuffix+" line 3") {
		t.Errorf("error = %v, want one naming line 3 of the trail", err)
	}
	want := []Event{{Time: "t1", Event: "lock", Actor: "x"}, {Time: "t2", Event: "unlock", Actor: "y"}}
	if diff := cmp.Diff(want, evs); diff != "" {
		t.Errorf("events before the bad line mismatch (-want +got):\n%s", diff)
	}
}

func TestTimeFormats(t *testing.T) { eachStore(t, testTimeFormats) }

func testTimeFormats(t *testing.T, b backend) {
	t.Parallel()
	f := newFixture(t, b)
	// A clock in another zone, with sub-second precision.
	zone := time.FixedZone("UTC+5", 5*3600)
	f.clock.Set(time.Date(2025, 3, 1, 17, 0, 0, 250_000_000, zone))
	res := f.lock(t, LockRequest{Minutes: 15, Owner: "a"})

	for name, s := range map[string]string{"locked_at": res.After.LockedAt, "expires_at": res.After.ExpiresAt} {
		if _, err := time.Parse(time.RFC3339, s); err != nil || !strings.HasSuffix(s, "Z") {
			t.Errorf("%s = %q, want RFC 3339 in UTC", name, s)
		}
	}
	if got, want := res.After.LockedAt, "2025-03-01T12:00:00Z"; got != want {
		t.Errorf("locked_at = %q, want %q", got, want)
	}
	if got, want := res.After.ExpiresAt, "2025-03-01T12:15:00Z"; got != want {
		t.Errorf("expires_at = %q, want %q", got, want)
	}
	var stored struct {
		LockedAt  string `json:"locked_at"`
		ExpiresAt string `json:"expires_at"`
	}
	if err := json.Unmarshal(f.file(t), &stored); err != nil {
		t.Fatal(err)
	}
	if got, want := stored.LockedAt, "2025-03-01T12:00:00.25Z"; got != want {
		t.Errorf("stored locked_at = %q, want %q", got, want)
	}
	ev := f.audit(t)[0]
	if got, want := ev.Time, "2025-03-01T12:00:00.25Z"; got != want {
		t.Errorf("event time = %q, want %q (RFC 3339 with fractions, UTC)", got, want)
	}
	if got, want := ev.ExpiresAt, "2025-03-01T12:15:00Z"; got != want {
		t.Errorf("event expires_at = %q, want %q", got, want)
	}
}

func TestTimesFromAFileWithAnOffset(t *testing.T) { eachStore(t, testTimesFromAFileWithAnOffset) }

func testTimesFromAFileWithAnOffset(t *testing.T, b backend) {
	t.Parallel()
	// A guard written by another tool (or by hand) with a zone offset is reported in UTC, in the
	// status and in the audit trail.
	f := newFixture(t, b)
	f.write(t, `{"id": "ext", "locked_at": "2025-03-01T13:00:00+01:00", "expires_at": "2025-03-01T13:30:00+01:00", "owner": "o", "reason": "r", "window_minutes": 30}`)
	res, err := f.g.Status(true)
	if err != nil {
		t.Fatal(err)
	}
	want := lockedStatus(f.g.Path, "ext", t0, t0.Add(30*time.Minute), t0, "o", "r", 30)
	if diff := cmp.Diff(want, res.After); diff != "" {
		t.Errorf("status mismatch (-want +got):\n%s", diff)
	}
	if _, err := f.g.Unlock(UnlockRequest{}, false); err != nil {
		t.Fatal(err)
	}
	evs := f.audit(t)
	if len(evs) != 1 || evs[0].ExpiresAt != "2025-03-01T12:30:00Z" {
		t.Errorf("audit = %+v, want expires_at 2025-03-01T12:30:00Z", evs)
	}

	// An extension keeps locked_at, in UTC.
	f.write(t, `{"id": "ext1", "locked_at": "2025-03-01T13:00:00+01:00", "expires_at": "2025-03-01T13:10:00+01:00", "owner": "o"}`)
	if _, err := f.g.Lock(LockRequest{Minutes: 30, Extend: true}, false); err != nil {
		t.Fatal(err)
	}
	var stored struct {
		LockedAt string `json:"locked_at"`
	}
	if err := json.Unmarshal(f.file(t), &stored); err != nil {
		t.Fatal(err)
	}
	if got, want := stored.LockedAt, "2025-03-01T12:00:00Z"; got != want {
		t.Errorf("stored locked_at after extend = %q, want %q", got, want)
	}
	if _, err := f.g.Unlock(UnlockRequest{}, false); err != nil {
		t.Fatal(err)
	}

	// The same for an expired one removed by Status.
	f.write(t, `{"id": "ext2", "expires_at": "2025-03-01T12:30:00+01:00"}`)
	if _, err := f.g.Status(false); err != nil {
		t.Fatal(err)
	}
	evs = f.audit(t)
	if len(evs) != 4 || evs[3].Event != "expire" || evs[3].ExpiresAt != "2025-03-01T11:30:00Z" {
		t.Errorf("audit = %+v, want an expire event with expires_at 2025-03-01T11:30:00Z last", evs)
	}
}

// faultyStore wraps a store and fails chosen operations. It does not pass UpdateWithTTL on.
type faultyStore struct {
	state.Store
	failUpdate, failAppend bool
}

var errInjected = errors.New("injected failure")

func (s faultyStore) Update(key string, fn func([]byte) ([]byte, error)) error {
	if s.failUpdate {
		return errInjected
	}
	return s.Store.Update(key, fn)
}

func (s faultyStore) Append(key string, line []byte) error {
	if s.failAppend {
		return errInjected
	}
	return s.Store.Append(key, line)
}

func TestWarnings(t *testing.T) { eachStore(t, testWarnings) }

func testWarnings(t *testing.T, b backend) {
	t.Parallel()
	t.Run("audit cannot be written", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, b)
		f.g.Store = faultyStore{Store: f.st, failAppend: true}
		res, err := f.g.Lock(LockRequest{Minutes: 5}, false)
		if err != nil {
			t.Fatal(err)
		}
		if !res.Changed || f.file(t) == nil {
			t.Error("the lock was not taken")
		}
		if !strings.Contains(res.Warning, "could not write the audit trail") || !strings.Contains(res.Warning, errInjected.Error()) {
			t.Errorf("warning = %q, want the audit failure", res.Warning)
		}
		res, err = f.g.Unlock(UnlockRequest{}, false)
		if err != nil {
			t.Fatal(err)
		}
		if !res.Changed || f.file(t) != nil || !strings.Contains(res.Warning, "audit trail") {
			t.Errorf("unlock = %+v; file kept %v; want unlocked with a warning", res, f.file(t) != nil)
		}
	})
	t.Run("expired guard cannot be removed", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, b)
		f.lock(t, LockRequest{Minutes: 5})
		f.clock.Advance(time.Hour)
		f.g.Store = faultyStore{Store: f.st, failUpdate: true}
		res, err := f.g.Status(false)
		if err != nil {
			t.Fatal(err)
		}
		if res.After.Locked || res.ExpiredRemoved {
			t.Errorf("status = %+v, want unlocked, not removed", res)
		}
		if !strings.Contains(res.Warning, "could not remove the expired guard "+f.g.Path) {
			t.Errorf("warning = %q", res.Warning)
		}
	})
	t.Run("update errors are returned", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, b)
		f.g.Store = faultyStore{Store: f.st, failUpdate: true}
		if _, err := f.g.Lock(LockRequest{Minutes: 5}, false); !errors.Is(err, errInjected) {
			t.Errorf("Lock error = %v, want the store's error", err)
		}
		if _, err := f.g.Unlock(UnlockRequest{}, false); !errors.Is(err, errInjected) {
			t.Errorf("Unlock error = %v, want the store's error", err)
		}
	})
}

func TestConcurrentLockers(t *testing.T) { eachStore(t, testConcurrentLockers) }

func testConcurrentLockers(t *testing.T, b backend) {
	t.Parallel()
	f := newFixture(t, b)
	const workers = 20
	var wg sync.WaitGroup
	changed := make(chan bool, workers)
	for i := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := f.g.Lock(LockRequest{Minutes: 5, Owner: fmt.Sprint("w", i)}, false)
			if err != nil {
				t.Error(err)
			}
			changed <- res.Changed
		}()
	}
	wg.Wait()
	close(changed)
	n := 0
	for c := range changed {
		if c {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d lockers changed the guard, want exactly 1", n)
	}
	if evs := f.audit(t); len(evs) != 1 {
		t.Errorf("audit has %d events, want 1", len(evs))
	}
}

func TestNewDefaults(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "g")
	g := New(path)
	if g.Path != path {
		t.Errorf("Path = %q, want %q", g.Path, path)
	}
	before := time.Now().UTC()
	res, err := g.Lock(LockRequest{Minutes: 1}, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.After.LockID) != 16 || strings.Trim(res.After.LockID, "0123456789abcdef") != "" {
		t.Errorf("default lock id = %q, want 16 hex digits", res.After.LockID)
	}
	exp, err := time.Parse(time.RFC3339, res.After.ExpiresAt)
	if err != nil {
		t.Fatal(err)
	}
	if d := exp.Sub(before); d < 59*time.Second || d > 2*time.Minute {
		t.Errorf("expiry %v is not about a minute after %v", exp, before)
	}
	evs, err := g.ReadAudit()
	if err != nil || len(evs) != 1 || evs[0].Actor != DefaultOwner() {
		t.Errorf("audit = %+v, %v; want one event by %s", evs, err, DefaultOwner())
	}
}
