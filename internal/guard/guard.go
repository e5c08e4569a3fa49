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

// ErrCorrupt is returned (wrapped) when the lock file cannot be decoded. A corrupt guard is
// treated as locked: it fails closed.
var ErrCorrupt = errors.New("guard file is corrupt")

// Lock is the stored guard document.
type Lock struct {
	ID            string    `json:"id"`
	LockedAt      time.Time `json:"locked_at"`
	ExpiresAt     time.Time `json:"expires_at"`
	Owner         string    `json:"owner"`
	Reason        string    `json:"reason"`
	WindowMinutes int       `json:"window_minutes"`
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
	Corrupt          bool   `json:"corrupt"`
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
	Now   func() time.Time // defaults to time.Now
	NewID func() string    // defaults to 16 random hex digits
	Actor string           // who performs the changes (recorded in the audit); defaults to user@host
}

// New returns a guard on path kept in local files.
func New(path string) *Guard { return &Guard{Path: path, Store: state.FileStore{}} }

func (g *Guard) now() time.Time {
	if g.Now != nil {
		return g.Now().UTC()
	}
	return time.Now().UTC()
}

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
	var l Lock
	if err := json.Unmarshal(data, &l); err != nil || l.ExpiresAt.IsZero() || l.ID == "" {
		return nil, fmt.Errorf("%s: %w: %s", path, ErrCorrupt, describeCorrupt(data, err))
	}
	// A file written with a zone offset must not leak it into the audit trail or an extension.
	l.LockedAt, l.ExpiresAt = l.LockedAt.UTC(), l.ExpiresAt.UTC()
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
	return s
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
// nothing was changed. Errors of the guard's own decisions (a corrupt document, another lock id)
// keep the result they have.
func (g *Guard) failClosed(res Result, err error) (Result, error) {
	if errors.Is(err, ErrCorrupt) || errors.Is(err, ErrLockIDMismatch) {
		return res, err
	}
	st := unknownStatus(g.Path)
	return Result{Before: st, After: st}, fmt.Errorf("%w; the guard's state is unknown and counts as locked", err)
}

// update changes the guard's document, with a time to live when the store can expire keys:
// ttl(next) is the time to live of a new document.
func (g *Guard) update(fn func(cur []byte) ([]byte, error), ttl func() time.Duration) error {
	if exp, ok := g.Store.(state.Expiring); ok {
		return exp.UpdateWithTTL(g.Path, func(cur []byte) ([]byte, time.Duration, error) {
			next, err := fn(cur)
			if err != nil || next == nil {
				return next, 0, err
			}
			return next, ttl(), nil
		})
	}
	return g.Store.Update(g.Path, fn)
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
	owner := req.Owner
	if owner == "" {
		owner = DefaultOwner()
	}
	now := g.now()
	var res Result
	var ev *Event
	var nextExpiry time.Time // of the document decide returns
	decide := func(cur []byte) ([]byte, error) {
		res, ev = Result{}, nil
		old, err := decode(g.Path, cur)
		if err != nil && !req.Force {
			st := corruptStatus(g.Path)
			res.Before, res.After = st, st
			return nil, fmt.Errorf("%w; it is treated as locked: inspect it, then lock with force to replace it", err)
		}
		if err != nil {
			old = nil
		}
		res.Before = g.status(old, now)
		if err != nil {
			res.Before = corruptStatus(g.Path)
		}
		expiry := now.Add(time.Duration(req.Minutes) * time.Minute)
		next := &Lock{ID: g.newID(), LockedAt: now, ExpiresAt: expiry, Owner: owner,
			Reason: req.Reason, WindowMinutes: req.Minutes}
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
	if check {
		cur, err := g.Store.Load(g.Path)
		if err != nil {
			return g.failClosed(Result{}, err)
		}
		_, err = decide(cur)
		if errors.Is(err, state.ErrUnchanged) {
			err = nil
		}
		return res, err
	}
	ttl := func() time.Duration { return nextExpiry.Sub(now) + LeaseMargin }
	if err := g.update(decide, ttl); err != nil {
		return g.failClosed(res, err)
	}
	if ev != nil {
		if err := g.audit(*ev, now); err != nil {
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
	// Force unlocks whatever is there, also a corrupt file or another lock id; recorded as forced.
	Force bool
	// Event names the audit event: "unlock" (default) or "release" (by qos_guard_release).
	Event      string
	Reason     string
	Evaluation any // recorded in the audit trail with the event
}

// ErrLockIDMismatch is returned when UnlockRequest.LockID does not name the active lock.
var ErrLockIDMismatch = errors.New("lock id does not match")

// Unlock removes the guard. With check set nothing is written.
func (g *Guard) Unlock(req UnlockRequest, check bool) (Result, error) {
	now := g.now()
	var res Result
	var ev *Event
	decide := func(cur []byte) ([]byte, error) {
		res, ev = Result{}, nil
		old, err := decode(g.Path, cur)
		switch {
		case err != nil && !req.Force:
			st := corruptStatus(g.Path)
			res.Before, res.After = st, st
			return nil, fmt.Errorf("%w; it is treated as locked: inspect it, then unlock with force to remove it", err)
		case err != nil:
			res.Before = corruptStatus(g.Path)
		default:
			res.Before = g.status(old, now)
		}
		res.After = Status{Path: g.Path}
		if cur == nil {
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
			return nil, fmt.Errorf("%w: the guard is held by lock %s (owner %s, reason %q), not %s; unlock with force to override",
				ErrLockIDMismatch, old.ID, old.Owner, old.Reason, req.LockID)
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
	if check {
		cur, err := g.Store.Load(g.Path)
		if err != nil {
			return g.failClosed(Result{}, err)
		}
		_, err = decide(cur)
		if errors.Is(err, state.ErrUnchanged) {
			err = nil
		}
		res.ExpiredRemoved = false
		return res, err
	}
	if err := g.Store.Update(g.Path, decide); err != nil {
		return g.failClosed(res, err)
	}
	if ev != nil {
		if err := g.audit(*ev, now); err != nil {
			res.Warning = err.Error()
		}
	}
	return res, nil
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
