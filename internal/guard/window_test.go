package guard

import (
	"errors"
	"testing"
	"time"
)

// A caller that decided on one state of the lock (qos_guard_release) unlocks only that state: an
// extension made after it read the lock keeps the lock id but moves the expiry, and wins. On etcd
// the comparison is part of the compare-and-swap, so it holds across hosts.
func TestUnlockComparesTheExpiry(t *testing.T) { eachStore(t, testUnlockComparesTheExpiry) }

func testUnlockComparesTheExpiry(t *testing.T, b backend) {
	t.Parallel()
	f := newFixture(t, b)
	evaluated := f.lock(t, LockRequest{Minutes: 60, Reason: "rollback"}).After
	oldExpiry, _ := time.Parse(time.RFC3339, evaluated.ExpiresAt)

	f.clock.Advance(time.Minute)
	ext := f.lock(t, LockRequest{Minutes: 60, Extend: true, Reason: "NEW rollback"})
	if !ext.Changed || ext.After.LockID != evaluated.LockID || ext.After.ExpiresAt == evaluated.ExpiresAt {
		t.Fatalf("the extension: %+v", ext)
	}

	for _, check := range []bool{true, false} {
		res, err := f.g.Unlock(UnlockRequest{LockID: evaluated.LockID, ExpiresAt: oldExpiry, Event: "release"}, check)
		if !errors.Is(err, ErrLockChanged) || res.Changed || !res.After.Locked || res.After.ExpiresAt != ext.After.ExpiresAt {
			t.Fatalf("check %v: unlock of the evaluated expiry: %+v, %v; want ErrLockChanged and the extension kept", check, res, err)
		}
	}
	if st, err := f.g.Status(true); err != nil || !st.After.Locked || st.After.ExpiresAt != ext.After.ExpiresAt {
		t.Fatalf("after the refused unlock: %+v, %v", st.After, err)
	}
	if got := events(f.audit(t)); len(got) != 2 || got[1] != "extend" {
		t.Errorf("audit %v: a refused unlock must not be recorded", got)
	}

	// The state that is there now can be released, and force ignores the expiry.
	newExpiry, _ := time.Parse(time.RFC3339, ext.After.ExpiresAt)
	if res, err := f.g.Unlock(UnlockRequest{LockID: evaluated.LockID, ExpiresAt: newExpiry}, true); err != nil || !res.Changed {
		t.Errorf("unlock of the current expiry: %+v, %v", res, err)
	}
	if res, err := f.g.Unlock(UnlockRequest{LockID: evaluated.LockID, ExpiresAt: oldExpiry, Force: true}, false); err != nil || !res.Changed {
		t.Errorf("forced unlock: %+v, %v", res, err)
	}
}

func events(evs []Event) []string {
	var out []string
	for _, e := range evs {
		out = append(out, e.Event)
	}
	return out
}

// The window's start is kept in the guard document: a lock sets it, an extension moves it to the
// extension, and Status reports it.
func TestWindowStartIsKept(t *testing.T) { eachStore(t, testWindowStartIsKept) }

func testWindowStartIsKept(t *testing.T, b backend) {
	t.Parallel()
	f := newFixture(t, b)
	if got := f.lock(t, LockRequest{Minutes: 60}).After.WindowStart; got != ts(t0) {
		t.Errorf("after the lock: %s, want %s", got, ts(t0))
	}
	f.clock.Advance(7 * time.Minute)
	res := f.lock(t, LockRequest{Minutes: 60, Extend: true})
	if res.After.WindowStart != ts(t0.Add(7*time.Minute)) || res.After.LockedAt != ts(t0) {
		t.Errorf("after the extension: window_start %s, locked_at %s", res.After.WindowStart, res.After.LockedAt)
	}
	if l := f.stored(t); !l.WindowStart.Equal(t0.Add(7 * time.Minute)) {
		t.Errorf("stored window_start %v", l.WindowStart)
	}
	f.clock.Advance(time.Minute)
	if st, _ := f.g.Status(true); st.After.WindowStart != ts(t0.Add(7*time.Minute)) {
		t.Errorf("status: %s", st.After.WindowStart)
	}
}

// Documents without window_start (written before it existed, or extended by such a version, which
// drops it) are still read, and their window never starts before their latest lock or extension.
func TestWindowStartOfOlderDocuments(t *testing.T) {
	t.Parallel()
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	tests := []struct {
		name string
		lock Lock
		want time.Time
	}{
		{"locked, never extended", Lock{LockedAt: at(-2 * time.Hour), ExpiresAt: at(time.Hour), WindowMinutes: 180}, at(-2 * time.Hour)},
		{"extended by an older version: expires_at - window_minutes", Lock{LockedAt: at(-2 * time.Hour), ExpiresAt: at(55 * time.Minute), WindowMinutes: 60}, at(-5 * time.Minute)},
		{"no window_minutes: the expiry", Lock{LockedAt: at(-2 * time.Hour), ExpiresAt: at(time.Hour)}, at(time.Hour)},
		{"no locked_at either", Lock{ExpiresAt: at(20 * time.Minute), WindowMinutes: 30}, at(-10 * time.Minute)},
		{"window_start decides when present", Lock{LockedAt: at(-2 * time.Hour), ExpiresAt: at(time.Hour), WindowMinutes: 180, WindowStart: at(-time.Minute)}, at(-time.Minute)},
		{"never before locked_at", Lock{LockedAt: at(-time.Minute), ExpiresAt: at(time.Hour), WindowMinutes: 180, WindowStart: at(-time.Hour)}, at(-time.Minute)},
	}
	for _, tt := range tests {
		if got := tt.lock.Start(); !got.Equal(tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}

// A file written by an older version is read, and reports its window start.
func TestOlderDocumentIsRead(t *testing.T) { eachStore(t, testOlderDocumentIsRead) }

func testOlderDocumentIsRead(t *testing.T, b backend) {
	t.Parallel()
	f := newFixture(t, b)
	f.write(t, `{"id":"abc","locked_at":"`+ts(t0.Add(-2*time.Hour))+`","expires_at":"`+ts(t0.Add(55*time.Minute))+
		`","owner":"o","reason":"r","window_minutes":60}`)
	st, err := f.g.Status(true)
	if err != nil || !st.After.Locked || st.After.WindowStart != ts(t0.Add(-5*time.Minute)) {
		t.Errorf("%+v, %v", st.After, err)
	}
}

// Status reports times in whole seconds; the window's start is rounded up, never down, so that a
// release counting its window from the reported start never reaches back before the lock.
func TestWindowStartIsNeverReportedEarly(t *testing.T) {
	eachStore(t, testWindowStartIsNeverReportedEarly)
}

func testWindowStartIsNeverReportedEarly(t *testing.T, b backend) {
	t.Parallel()
	f := newFixture(t, b)
	f.clock.Advance(400 * time.Millisecond)
	res := f.lock(t, LockRequest{Minutes: 60})
	if got, want := res.After.WindowStart, ts(t0.Add(time.Second)); got != want {
		t.Errorf("a lock at %s: window_start %s, want %s (rounded up)", t0.Add(400*time.Millisecond).Format(time.RFC3339Nano), got, want)
	}
	f.clock.Advance(600 * time.Millisecond) // a lock on a whole second stays as it is
	if res := f.lock(t, LockRequest{Minutes: 60, Extend: true}); res.After.WindowStart != ts(t0.Add(time.Second)) {
		t.Errorf("an extension at %s: window_start %s", t0.Add(time.Second).Format(time.RFC3339Nano), res.After.WindowStart)
	}
}
