// Package guard implements the QoS guard window: a lock that blocks deployments for a number of
// minutes after a rollback or promotion, with an append-only audit trail of who locked and
// unlocked it and why.
//
// The lock is one small JSON document kept in a state.Store (a local file by default, or etcd for
// a fleet). Every change is made under the store's exclusive lock (a compare-and-swap on etcd),
// so concurrent lockers never lose a lock. A store that can expire keys (state.Expiring: etcd's
// leases) gets the lock with a time to live that ends just after its expiry, so the guard lifts
// at its expiry even when nobody looks at it; the document's expires_at stays the authority.
//
// A store that cannot be read or written (etcd unreachable) fails closed: the guard is reported
// locked, with Unknown set, and nothing is changed.
package guard

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/user"
	"time"

	"resilience.ops/internal/clock"
	"resilience.ops/internal/state"
)

// Defaults, shared by the module and the command line.
const (
	// DefaultPath is where the lock is kept. /run is a tmpfs on most hosts, so a reboot lifts a
	// guard kept there; choose a persistent path (for example under /var/lib) to keep it.
	DefaultPath = "/run/threader.qos.guard"
	// DefaultWindowMinutes is the guard window when none is given.
	DefaultWindowMinutes = 15
	// MaxWindowMinutes bounds the window: one week.
	MaxWindowMinutes = 7 * 24 * 60
	// AuditSuffix names the audit trail beside the lock file.
	AuditSuffix = ".audit.jsonl"
	// LeaseMargin is added to the time left of a lock to make the time to live of its document
	// in a store that expires keys: the store never drops a lock before its expiry, and drops it
	// at most about this long after (etcd may keep a lease a little longer after it elects a
	// new leader; the document's expires_at decides meanwhile).
	LeaseMargin = time.Second
)

// Size limits of the free text a guard keeps, in bytes, checked before anything is written (also
// in check mode), so that every guard document this package writes it can read back: a document
// is at most a few KiB, far below MaxDocumentBytes.
const (
	// MaxReasonBytes bounds reason (of a lock, and of an unlock recorded in the audit trail).
	MaxReasonBytes = 4096
	// MaxOwnerBytes bounds owner.
	MaxOwnerBytes = 1024
	// MaxLockIDBytes bounds a lock id given to unlock (the guard makes ids of 16 hex digits).
	MaxLockIDBytes = 128
	// MaxDocumentBytes bounds a guard document: a larger one was not written by this package and
	// is corrupt (force replaces it).
	MaxDocumentBytes = 64 << 10
)

// LimitError is returned when a text is longer than its limit; nothing was written.
type LimitError struct {
	Field string // reason, owner or lock_id
	Max   int    // bytes allowed
	Got   int    // bytes given
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("%s is %d bytes long; at most %d bytes are allowed", e.Field, e.Got, e.Max)
}

// CheckText returns a *LimitError when owner, reason or lockID is longer than its limit.
func CheckText(owner, reason, lockID string) error {
	for _, f := range []struct {
		name  string
		value string
		max   int
	}{{"owner", owner, MaxOwnerBytes}, {"reason", reason, MaxReasonBytes}, {"lock_id", lockID, MaxLockIDBytes}} {
		if len(f.value) > f.max {
			return &LimitError{Field: f.name, Max: f.max, Got: len(f.value)}
		}
	}
	return nil
}

// ErrCorrupt is returned (wrapped) when the lock file cannot be decoded, or is a file of ours that
// cannot be read as a guard (larger than MaxDocumentBytes or state.MaxFileSize, writable by other
// users, hard-linked: state.ErrUnreadable). A corrupt guard is treated as locked: it fails
// closed, and force replaces it.
var ErrCorrupt = errors.New("guard file is corrupt")

// ErrAudit is returned (wrapped) when the audit trail was refused as unsafe (a symbolic link, a
// named pipe, a file of another user: state.ErrUnsafe). An unlock is then not made; a lock is
// made (the guard fails closed) but the call still fails, so that the missing audit line is seen.
var ErrAudit = errors.New("the audit trail is unsafe")

// advisedError is an error that already tells the user how to recover (inspect the guard, then
// lock or unlock with force): callers add no advice of their own (see Advised).
type advisedError struct{ err error }

func (e *advisedError) Error() string { return e.err.Error() }
func (e *advisedError) Unwrap() error { return e.err }

// advise marks err as one that says how to recover.
func advise(err error) error { return &advisedError{err: err} }

// Advised reports whether err already says how to recover with force, so that a caller does not
// add the advice again.
func Advised(err error) bool {
	var a *advisedError
	return errors.As(err, &a)
}

// Lock is the stored guard document.
type Lock struct {
	ID            string    `json:"id"`
	LockedAt      time.Time `json:"locked_at"`
	ExpiresAt     time.Time `json:"expires_at"`
	Owner         string    `json:"owner"`
	Reason        string    `json:"reason"`
	WindowMinutes int       `json:"window_minutes"`
	// WindowStart is the time of the latest lock or extension: a stability window that decides
	// a release must lie entirely after it. Documents without it are read with WindowStart.
	WindowStart time.Time `json:"window_start,omitzero"`
}

// Start is when a stability window may begin at the earliest: the latest lock or extension,
// never before locked_at. Every write of this version sets window_start. An older version drops
// the field when it extends a lock (it does not know it), and wrote every document with
// expires_at = the time of its latest lock or extension + window_minutes: without window_start
// the start is therefore expires_at - window_minutes, and without window_minutes expires_at
// itself, so that an unknown start never makes the guard releasable early.
func (l *Lock) Start() time.Time {
	start := l.WindowStart
	switch {
	case !start.IsZero():
	case l.WindowMinutes > 0:
		start = l.ExpiresAt.Add(-time.Duration(l.WindowMinutes) * time.Minute)
	default:
		start = l.ExpiresAt
	}
	if l.LockedAt.After(start) {
		start = l.LockedAt
	}
	return start.UTC()
}

// Status is the guard state as reported to users.
type Status struct {
	Locked           bool   `json:"locked"`
	Path             string `json:"path"`
	LockID           string `json:"lock_id"`
	LockedAt         string `json:"locked_at"`
	ExpiresAt        string `json:"expires_at"`
	RemainingSeconds int64  `json:"remaining_seconds"`
	Owner            string `json:"owner"`
	Reason           string `json:"reason"`
	WindowMinutes    int    `json:"window_minutes"`
	// WindowStart is when a stability window may begin at the earliest (see Lock.Start).
	WindowStart string `json:"window_start"`
	Corrupt     bool   `json:"corrupt"`
	// Unknown is set when the store could not be read (etcd unreachable): the guard then counts
	// as locked (fail closed).
	Unknown bool `json:"unknown"`
}

// Event is one line of the audit trail.
type Event struct {
	Time          string `json:"time"`
	Event         string `json:"event"` // lock, extend, unlock, expire, release
	LockID        string `json:"lock_id,omitempty"`
	Owner         string `json:"owner,omitempty"`
	Reason        string `json:"reason,omitempty"`
	ExpiresAt     string `json:"expires_at,omitempty"`
	WindowMinutes int    `json:"window_minutes,omitempty"`
	Actor         string `json:"actor"`
	Forced        bool   `json:"forced,omitempty"`
	Evaluation    any    `json:"evaluation,omitempty"`
}

// Guard operates one guard window. Its methods are safe for concurrent use by goroutines and
// processes when Store is.
type Guard struct {
	Path  string
	Store state.Store
	Clock clock.Clock   // gives the lock times; nil means the real clock
	NewID func() string // defaults to 16 random hex digits
	Actor string        // who performs the changes (recorded in the audit); defaults to user@host
}

// New returns a guard on path kept in local files.
func New(path string) *Guard { return &Guard{Path: path, Store: state.FileStore{}} }

func (g *Guard) now() time.Time { return clock.Or(g.Clock).Now().UTC() }

func (g *Guard) newID() string {
	if g.NewID != nil {
		return g.NewID()
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func (g *Guard) actor() string {
	if g.Actor != "" {
		return g.Actor
	}
	return DefaultOwner()
}

// DefaultOwner is user@host of this process.
func DefaultOwner() string {
	name := "unknown"
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	} else if s := os.Getenv("USER"); s != "" {
		name = s
	}
	host, _ := os.Hostname()
	if host == "" {
		host = "localhost"
	}
	return name + "@" + host
}

// decode reads a stored lock. nil data means no lock.
func decode(path string, data []byte) (*Lock, error) {
	if data == nil {
		return nil, nil
	}
	if len(data) > MaxDocumentBytes {
		return nil, fmt.Errorf("%s: %w: larger than %d bytes, not a guard document", path, ErrCorrupt, MaxDocumentBytes)
	}
	var l Lock
	if err := json.Unmarshal(data, &l); err != nil || l.ExpiresAt.IsZero() || l.ID == "" {
		return nil, fmt.Errorf("%s: %w: %s", path, ErrCorrupt, describeCorrupt(data, err))
	}
	// A file written with a zone offset must not leak it into the audit trail or an extension.
	l.LockedAt, l.ExpiresAt, l.WindowStart = l.LockedAt.UTC(), l.ExpiresAt.UTC(), l.WindowStart.UTC()
	return &l, nil
}

func describeCorrupt(data []byte, err error) string {
	if err != nil {
		return fmt.Sprintf("not a JSON guard document (%d bytes)", len(data))
	}
	return "missing id or expires_at"
}

func (g *Guard) status(l *Lock, now time.Time) Status {
	s := Status{Path: g.Path}
	if l == nil || !now.Before(l.ExpiresAt) {
		return s
	}
	s.Locked = true
	s.LockID = l.ID
	s.LockedAt = l.LockedAt.UTC().Format(time.RFC3339)
	s.ExpiresAt = l.ExpiresAt.UTC().Format(time.RFC3339)
	s.RemainingSeconds = remainingSeconds(l.ExpiresAt, now)
	s.Owner = l.Owner
	s.Reason = l.Reason
	s.WindowMinutes = l.WindowMinutes
	s.WindowStart = ceilSecond(l.Start()).Format(time.RFC3339)
	return s
}

// ceilSecond rounds t up to a whole second. Status reports times in whole seconds, and the
// window's start is the one that must never be reported early: a release that counted its window
// from a start cut down to the second would reach back before the lock.
func ceilSecond(t time.Time) time.Time {
	if c := t.Truncate(time.Second); !c.Equal(t) {
		return c.Add(time.Second)
	}
	return t
}

// remainingSeconds is the time from now to expiry in whole seconds, rounded up, so that a lock
// still in force never reports 0 seconds left. It is computed from the Unix seconds, not from
// expiry.Sub(now): a Duration saturates at about 292 years, and adding to the saturated value
// made a stored expiry in year 9999 report -9223372035 seconds.
func remainingSeconds(expiry, now time.Time) int64 {
	secs := expiry.Unix() - now.Unix()
	if expiry.Nanosecond() > now.Nanosecond() {
		secs++
	}
	return secs
}

func corruptStatus(path string) Status { return Status{Path: path, Locked: true, Corrupt: true} }

func unknownStatus(path string) Status { return Status{Path: path, Locked: true, Unknown: true} }

// failClosed reports a guard whose store failed: it counts as locked, its state unknown, and
// nothing was changed. Errors of the guard's own decisions (a corrupt document, another lock id
// or expiry, an unsafe audit trail) keep the result they have.
func (g *Guard) failClosed(res Result, err error) (Result, error) {
	if errors.Is(err, ErrCorrupt) || errors.Is(err, ErrLockIDMismatch) || errors.Is(err, ErrLockChanged) || errors.Is(err, ErrAudit) {
		return res, err
	}
	st := unknownStatus(g.Path)
	return Result{Before: st, After: st}, fmt.Errorf("%w; the guard's state is unknown and counts as locked", err)
}

// update changes the guard's document, with a time to live when the store can expire keys:
// ttl(next) is the time to live of a new document (nil: none). With force, a document the store
// cannot read (state.ErrUnreadable: too large...) is given to fn as unreadable, so that fn may
// replace or remove it; without force such a document fails the call as corrupt.
func (g *Guard) update(force bool, fn func(cur []byte, unreadable error) ([]byte, error), ttl func() time.Duration) error {
	if exp, ok := g.Store.(state.Expiring); ok && ttl != nil {
		return exp.UpdateWithTTL(g.Path, func(cur []byte) ([]byte, time.Duration, error) {
			next, err := fn(cur, nil)
			if err != nil || next == nil {
				return next, 0, err
			}
			return next, ttl(), nil
		})
	}
	if r, ok := g.Store.(state.Replacer); ok && force {
		return r.UpdateUnreadable(g.Path, fn)
	}
	return g.Store.Update(g.Path, func(cur []byte) ([]byte, error) { return fn(cur, nil) })
}

// load reads the guard's document for check mode: a document the store cannot read as one of
// ours comes back as unreadable (nil data), as update gives it to its function.
func (g *Guard) load() (data []byte, unreadable, err error) {
	data, err = g.Store.Load(g.Path)
	if errors.Is(err, state.ErrUnreadable) {
		return nil, err, nil
	}
	return data, nil, err
}

// decodeOrUnreadable is decode, or the corrupt error of a document the store could not read.
func decodeOrUnreadable(path string, cur []byte, unreadable error) (*Lock, error) {
	if unreadable != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, unreadable)
	}
	return decode(path, cur)
}

// unreadableResult is the result of a change refused because the document cannot be read: the
// guard is corrupt and counts as locked.
func (g *Guard) unreadableResult(err error, hint string) (Result, error) {
	st := corruptStatus(g.Path)
	return Result{Before: st, After: st}, advise(fmt.Errorf("%w: %w; it is treated as locked: inspect it, then %s", ErrCorrupt, err, hint))
}

// Result describes what an operation did.
type Result struct {
	Before, After Status
	Changed       bool
	// ExpiredRemoved is set when an expired lock was found and removed (not a change of the
	// guard's state: it was already unlocked).
	ExpiredRemoved bool
	// Warning is set when a clean-up could not be done (for example a read-only directory).
	Warning string
}

// Status reads the guard. An expired lock is removed, unless check is set. A corrupt file gives
// a locked, corrupt status and an error wrapping ErrCorrupt.
func (g *Guard) Status(check bool) (Result, error) {
	data, err := g.Store.Load(g.Path)
	if errors.Is(err, state.ErrUnreadable) {
		st := corruptStatus(g.Path)
		return Result{Before: st, After: st}, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	if err != nil {
		return g.failClosed(Result{}, err)
	}
	now := g.now()
	l, err := decode(g.Path, data)
	if err != nil {
		st := corruptStatus(g.Path)
		return Result{Before: st, After: st}, err
	}
	st := g.status(l, now)
	res := Result{Before: st, After: st}
	if l == nil || st.Locked || check {
		return res, nil
	}
	// Expired: remove it under the lock, re-checking what is there now.
	removed, err := g.removeExpired()
	if removed && err != nil { // removed, but its audit line was not written
		res.ExpiredRemoved, res.Warning = true, err.Error()
		return res, nil
	}
	if err != nil {
		res.Warning = fmt.Sprintf("could not remove the expired guard %s: %v", g.Path, err)
		return res, nil
	}
	res.ExpiredRemoved = removed
	return res, nil
}

func (g *Guard) removeExpired() (bool, error) {
	var removed *Lock
	now := g.now()
	err := g.Store.Update(g.Path, func(cur []byte) ([]byte, error) {
		l, err := decode(g.Path, cur)
		if err != nil || l == nil || now.Before(l.ExpiresAt) {
			return nil, state.ErrUnchanged
		}
		removed = l
		return nil, nil
	})
	if err != nil || removed == nil {
		return false, err
	}
	return true, g.audit(Event{Event: "expire", LockID: removed.ID, Owner: removed.Owner,
		Reason: removed.Reason, ExpiresAt: removed.ExpiresAt.Format(time.RFC3339)}, now)
}

// LockRequest asks for the guard to be locked.
type LockRequest struct {
	Minutes int
	Owner   string // defaults to user@host for a new lock; an extension keeps the holder's
	Reason  string // an extension keeps the holder's reason when empty
	// Extend pushes the expiry of a lock already in place out to now+Minutes (never shortening
	// it). Without Extend an active lock is left as it is: the guard is already locked.
	Extend bool
	// Force replaces any lock, also a later or corrupt one, with a new one of exactly Minutes.
	Force bool
}

// Lock locks the guard. See LockRequest for how an existing lock is treated. With check set
// nothing is written and the result predicts the change.
func (g *Guard) Lock(req LockRequest, check bool) (Result, error) {
	if req.Minutes < 1 || req.Minutes > MaxWindowMinutes {
		return Result{}, fmt.Errorf("minutes must be between 1 and %d, got %d", MaxWindowMinutes, req.Minutes)
	}
	if err := CheckText(req.Owner, req.Reason, ""); err != nil {
		return Result{}, err
	}
	owner := req.Owner
	if owner == "" {
		owner = DefaultOwner()
	}
	now := g.now()
	var res Result
	var ev *Event
	var nextExpiry time.Time // of the document decide returns
	decide := func(cur []byte, unreadable error) ([]byte, error) {
		res, ev = Result{}, nil
		old, err := decodeOrUnreadable(g.Path, cur, unreadable)
		if err != nil && !req.Force {
			st := corruptStatus(g.Path)
			res.Before, res.After = st, st
			return nil, advise(fmt.Errorf("%w; it is treated as locked: inspect it, then lock with force to replace it", err))
		}
		if err != nil {
			old = nil
		}
		res.Before = g.status(old, now)
		if err != nil {
			res.Before = corruptStatus(g.Path)
		}
		expiry := now.Add(time.Duration(req.Minutes) * time.Minute)
		// A lock, an extension or a forced lock is a new event (typically a rollback): the
		// stability window starts again from it.
		next := &Lock{ID: g.newID(), LockedAt: now, ExpiresAt: expiry, Owner: owner,
			Reason: req.Reason, WindowMinutes: req.Minutes, WindowStart: now}
		event := "lock"
		if res.Before.Locked && !res.Before.Corrupt && !req.Force {
			if !req.Extend || !expiry.After(old.ExpiresAt.Add(time.Second-1)) {
				res.After = res.Before
				return nil, state.ErrUnchanged
			}
			// Extend: same lock id, later expiry; owner and reason are kept unless given.
			next.ID, next.LockedAt = old.ID, old.LockedAt
			if req.Owner == "" {
				next.Owner = old.Owner
			}
			if req.Reason == "" {
				next.Reason = old.Reason
			}
			event = "extend"
		}
		res.After = g.status(next, now)
		res.Changed = true
		nextExpiry = next.ExpiresAt
		ev = &Event{Event: event, LockID: next.ID, Owner: next.Owner, Reason: next.Reason,
			ExpiresAt: next.ExpiresAt.Format(time.RFC3339), WindowMinutes: next.WindowMinutes, Forced: req.Force}
		return json.MarshalIndent(next, "", "  ")
	}
	ttl := func() time.Duration { return nextExpiry.Sub(now) + LeaseMargin }
	return g.apply(change{force: req.Force, check: check, decide: decide, ttl: ttl, hint: "lock with force to replace it",
		done: "locked", res: &res, ev: &ev, now: now})
}

// change is one change of the guard's document: decide computes the next document from the
// current one (or state.ErrUnchanged), and leaves the result and the audit event in *res and *ev.
type change struct {
	force, check bool
	decide       func(cur []byte, unreadable error) ([]byte, error)
	ttl          func() time.Duration // the time to live of the next document; nil: none
	hint         string               // how to recover from an unreadable document ("lock with force to replace it")
	done         string               // the state the change leaves ("locked")
	res          *Result
	ev           **Event
	now          time.Time
}

// apply makes change c: in check mode decide runs on what is read and nothing is written;
// otherwise under the store's lock, then the event goes to the audit trail. A change made whose
// audit line was refused as unsafe fails (the guard fails closed), so that the missing line does
// not go unnoticed; another audit problem is a warning.
func (g *Guard) apply(c change) (Result, error) {
	if c.check {
		cur, unreadable, err := g.load()
		if err != nil {
			return g.failClosed(Result{}, err)
		}
		_, err = c.decide(cur, unreadable)
		if errors.Is(err, state.ErrUnchanged) {
			err = nil
		}
		return *c.res, err
	}
	if err := g.update(c.force, c.decide, c.ttl); err != nil {
		if errors.Is(err, state.ErrUnreadable) && !errors.Is(err, ErrCorrupt) {
			return g.unreadableResult(err, c.hint)
		}
		return g.failClosed(*c.res, err)
	}
	res := *c.res
	if *c.ev != nil {
		if err := g.audit(**c.ev, c.now); err != nil {
			if errors.Is(err, ErrAudit) {
				return res, fmt.Errorf("the guard %s is %s, but %w", g.Path, c.done, err)
			}
			res.Warning = err.Error()
		}
	}
	return res, nil
}

// UnlockRequest asks for the guard to be unlocked.
type UnlockRequest struct {
	// LockID, when set, must match the active lock: one pipeline does not release another's
	// guard by mistake.
	LockID string
	// ExpiresAt, when set, must be the active lock's expiry (compared to the second, as Status
	// reports it): a caller that decided on one state of the lock releases only that state, and an
	// extension made meanwhile (which always moves the expiry by a second or more) wins.
	ExpiresAt time.Time
	// Force unlocks whatever is there, also a corrupt file or another lock id; recorded as forced.
	Force bool
	// Event names the audit event: "unlock" (default) or "release" (by qos_guard_release).
	Event      string
	Reason     string
	Evaluation any // recorded in the audit trail with the event
}

// ErrLockIDMismatch is returned when UnlockRequest.LockID does not name the active lock.
var ErrLockIDMismatch = errors.New("lock id does not match")

// ErrLockChanged is returned when the active lock no longer has UnlockRequest.ExpiresAt: it was
// extended after the caller read it.
var ErrLockChanged = errors.New("the lock changed")

// Unlock removes the guard. With check set nothing is written.
func (g *Guard) Unlock(req UnlockRequest, check bool) (Result, error) {
	if err := CheckText("", req.Reason, req.LockID); err != nil {
		return Result{}, err
	}
	now := g.now()
	var res Result
	var ev *Event
	decide := func(cur []byte, unreadable error) ([]byte, error) {
		res, ev = Result{}, nil
		old, err := decodeOrUnreadable(g.Path, cur, unreadable)
		switch {
		case err != nil && !req.Force:
			st := corruptStatus(g.Path)
			res.Before, res.After = st, st
			return nil, advise(fmt.Errorf("%w; it is treated as locked: inspect it, then unlock with force to remove it", err))
		case err != nil:
			res.Before = corruptStatus(g.Path)
		default:
			res.Before = g.status(old, now)
		}
		res.After = Status{Path: g.Path}
		if cur == nil && unreadable == nil {
			return nil, state.ErrUnchanged
		}
		if !res.Before.Locked { // expired: clean up, no change of state
			res.ExpiredRemoved = true
			ev = &Event{Event: "expire", LockID: old.ID, Owner: old.Owner, Reason: old.Reason,
				ExpiresAt: old.ExpiresAt.Format(time.RFC3339)}
			return nil, nil
		}
		if req.LockID != "" && !req.Force && old.ID != req.LockID {
			res.After = res.Before
			return nil, advise(fmt.Errorf("%w: the guard is held by lock %s (owner %s, reason %q), not %s; unlock with force to override",
				ErrLockIDMismatch, old.ID, old.Owner, old.Reason, req.LockID))
		}
		if !req.ExpiresAt.IsZero() && !req.Force && !old.ExpiresAt.Truncate(time.Second).Equal(req.ExpiresAt.Truncate(time.Second)) {
			res.After = res.Before
			return nil, fmt.Errorf("%w: lock %s now expires at %s, not %s: it was extended meanwhile",
				ErrLockChanged, old.ID, old.ExpiresAt.Format(time.RFC3339), req.ExpiresAt.UTC().Format(time.RFC3339))
		}
		if err := g.checkAudit(); err != nil {
			// No unlock without its audit line: the guard stays locked.
			res.After = res.Before
			return nil, err
		}
		res.Changed = true
		name := req.Event
		if name == "" {
			name = "unlock"
		}
		ev = &Event{Event: name, Reason: req.Reason, Forced: req.Force, Evaluation: req.Evaluation}
		if old != nil {
			ev.LockID, ev.Owner, ev.ExpiresAt = old.ID, old.Owner, old.ExpiresAt.Format(time.RFC3339)
		}
		return nil, nil
	}
	out, err := g.apply(change{force: req.Force, check: check, decide: decide, hint: "unlock with force to remove it",
		done: "unlocked", res: &res, ev: &ev, now: now})
	if check {
		out.ExpiredRemoved = false // nothing was removed
	}
	return out, err
}

// checkAudit fails with ErrAudit when the store can tell that the audit line of a change would be
// refused as unsafe (state.AppendChecker).
func (g *Guard) checkAudit() error {
	c, ok := g.Store.(state.AppendChecker)
	if !ok {
		return nil
	}
	if err := c.CheckAppend(g.Path + AuditSuffix); err != nil {
		return fmt.Errorf("%w: %w", ErrAudit, err)
	}
	return nil
}

// audit appends one event to the trail beside the lock file.
func (g *Guard) audit(ev Event, now time.Time) error {
	ev.Time = now.Format(time.RFC3339Nano)
	ev.Actor = g.actor()
	line, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("encode audit event: %w", err)
	}
	if err := g.Store.Append(g.Path+AuditSuffix, line); err != nil {
		if errors.Is(err, state.ErrUnsafe) {
			return fmt.Errorf("%w: the event was not recorded: %w", ErrAudit, err)
		}
		return fmt.Errorf("could not write the audit trail: %w", err)
	}
	return nil
}

// ReadAudit returns the events of the audit trail, oldest first.
func (g *Guard) ReadAudit() ([]Event, error) {
	data, err := g.Store.Load(g.Path + AuditSuffix)
	if err != nil || data == nil {
		return nil, err
	}
	var evs []Event
	for i, line := range splitLines(data) {
		var ev Event
		if err := json.Unmarshal(line, &ev); err != nil {
			return evs, fmt.Errorf("%s%s line %d: %w", g.Path, AuditSuffix, i+1, err)
		}
		evs = append(evs, ev)
	}
	return evs, nil
}

func splitLines(data []byte) [][]byte {
	var out [][]byte
	start := 0
	for i, b := range data {
		if b == '\n' {
			if i > start {
				out = append(out, data[start:i])
			}
			start = i + 1
		}
	}
	if start < len(data) {
		out = append(out, data[start:])
	}
	return out
}
