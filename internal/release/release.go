package release

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"resilience.ops/internal/clock"
	"resilience.ops/internal/guard"
	"resilience.ops/internal/slo"
)

// Status is the outcome of one release decision, a closed set. The first four are the statuses of
// slo.Report; the other two are decided here.
type Status string

// Statuses.
const (
	StatusStable      Status = Status(slo.StatusStable)      // every check passed: the guard is released if locked
	StatusUnstable    Status = Status(slo.StatusUnstable)    // a check failed: the guard stays locked
	StatusUnknown     Status = Status(slo.StatusUnknown)     // no check failed, some could not tell: stays locked
	StatusConfigError Status = Status(slo.StatusConfigError) // a parameter or a query was rejected: nothing decided
	// StatusNotYetEvaluable: the guard was locked less than one stability window ago, so the window
	// would reach back before the event that locked it. Nothing is queried and nothing unlocked.
	StatusNotYetEvaluable Status = "not_yet_evaluable"
	// StatusGuardError: the guard file cannot be read or changed (corrupt, permissions). It counts
	// as locked and is left as it is.
	StatusGuardError Status = "guard_error"
)

// Defaults of the wait loop and of the query timeout, shared by the module and the command line.
const (
	// DefaultPollInterval is the pause between two evaluations while waiting for stability.
	DefaultPollInterval = 30 * time.Second
	// DefaultWaitTimeout bounds the whole wait, sleeping included. It is not a per-query timeout.
	// With the default 15m window and a guard locked just now, the first evaluation is possible after
	// 15 minutes: 30 minutes leaves 15 more for the SLOs to recover.
	DefaultWaitTimeout = 30 * time.Minute
	// MinPollInterval keeps a wait loop from hammering the servers.
	MinPollInterval = time.Second
	// MaxWaitTimeout bounds wait_timeout: one day.
	MaxWaitTimeout = 24 * time.Hour
	// MaxWindow bounds the stability window: one week, the longest guard window
	// (guard.MaxWindowMinutes). A longer window could never lie after the lock.
	MaxWindow = guard.MaxWindowMinutes * time.Minute
	// ReleaseEvent names the audit event written when the guard is released.
	ReleaseEvent = "release"
	// maxRelockRetries bounds how often the decision is redone when the guard was locked again
	// between the evaluation and the unlock.
	maxRelockRetries = 3
)

// evaluator is the part of *slo.Evaluator used here, so that tests can give a fake.
type evaluator interface {
	Evaluate(ctx context.Context) slo.Report
}

// request is one release decision's settings.
type request struct {
	window       time.Duration
	wait         bool          // re-evaluate until stable or until waitTimeout
	pollInterval time.Duration // pause between evaluations while waiting
	waitTimeout  time.Duration // budget of the whole wait, sleeps included
	// evaluation is how long one evaluation may take once the window is evaluable (query_timeout):
	// a guard that expires before window + evaluation after its lock can never be released early.
	evaluation time.Duration
	check      bool // check mode: evaluate, never write
}

// outcome is what one release decision found and did.
type outcome struct {
	status    Status
	report    slo.Report // the last evaluation; zero when nothing was evaluated
	evaluated bool
	attempts  int // evaluations made

	evaluable   bool
	wait        time.Duration // until the window no longer reaches back before the lock
	evaluableAt time.Time     // lock event + window; zero when the guard is not locked
	lockedSince time.Time     // the lock or extension the window is anchored to; zero when not locked

	unlocked    bool         // the guard was released
	wouldUnlock bool         // check mode: the guard would have been released
	released    guard.Status // the lock that was (or would be) released
	guard       guard.Status // the guard after the decision (predicted in check mode)
	waited      time.Duration
	interrupted bool
	warnings    []string
}

func (o *outcome) warn(format string, a ...any) {
	msg := fmt.Sprintf(format, a...)
	for _, w := range o.warnings {
		if w == msg {
			return
		}
	}
	o.warnings = append(o.warnings, msg)
}

// releaser makes release decisions on one guard. Not safe for concurrent use; the guard itself is.
type releaser struct {
	guard *guard.Guard
	eval  evaluator
	clock clock.Clock // tests use a fake clock, so no test sleeps for real
}

// run decides and, when every check passes, releases the guard. The error is a guard error
// (status guard_error); everything else, instability included, is in the outcome.
//
// Without req.wait it evaluates once. With it, it re-evaluates every pollInterval until the
// checks pass, a check is misconfigured (trying again cannot help) or waitTimeout has passed, and
// while the window is not yet evaluable it sleeps until it is, giving up at once when that moment
// lies after the deadline. The guard is re-read before each evaluation and stays locked throughout:
// it is released only after an evaluation in which every check passed.
func (r *releaser) run(ctx context.Context, req request) (out outcome, err error) {
	start := r.clock.Now()
	deadline := start.Add(req.waitTimeout)
	defer func() { out.waited = r.clock.Now().Sub(start) }()
	relocks := 0
	for {
		st, serr := r.guard.Status(req.check)
		if st.Warning != "" {
			out.warn("%s", st.Warning)
		}
		out.guard = st.After
		if serr != nil {
			out.status = StatusGuardError
			return out, guardError(serr)
		}
		now := r.clock.Now()
		out.evaluable, out.wait, out.evaluableAt, out.lockedSince = true, 0, time.Time{}, time.Time{}
		if st.After.Locked {
			if done, again := r.notYetEvaluable(ctx, req, st.After, now, deadline, &out); done {
				return out, nil
			} else if again {
				continue
			}
		}
		out.report = r.eval.Evaluate(ctx)
		out.evaluated = true
		out.attempts++
		out.status = Status(out.report.Status)
		if out.report.Stable {
			if !st.After.Locked {
				return out, nil
			}
			again, err := r.release(req, st.After, &out, &relocks)
			if again {
				continue // locked again or extended meanwhile: decide again, on the lock there now
			}
			return out, err
		}
		if out.status == StatusConfigError || !req.wait {
			return out, nil
		}
		now = r.clock.Now()
		if !now.Before(deadline) {
			return out, nil
		}
		if err := r.clock.Sleep(ctx, min(req.pollInterval, deadline.Sub(now))); err != nil {
			out.interrupted = true
			return out, nil
		}
	}
}

// notYetEvaluable anchors the window of the locked guard st and, while the window would reach
// back before the lock, either ends the decision (done: not waiting, or the moment lies after
// the deadline) or sleeps until the window is evaluable (again). Neither: evaluate now.
func (r *releaser) notYetEvaluable(ctx context.Context, req request, st guard.Status, now, deadline time.Time, out *outcome) (done, again bool) {
	out.lockedSince = r.lockedSince(st, out)
	out.evaluableAt = out.lockedSince.Add(req.window)
	ok, wait := slo.Evaluable(out.lockedSince, now, req.window)
	if ok {
		return false, false
	}
	out.status, out.evaluable, out.wait = StatusNotYetEvaluable, false, wait
	if expires, err := time.Parse(time.RFC3339, st.ExpiresAt); err == nil && !expires.After(out.evaluableAt.Add(req.evaluation)) {
		out.warn("the guard expires at %s, before the %s window and one evaluation (query_timeout %s) can end "+
			"after %s: the release cannot release it early, it will lift on its own; lock it for longer "+
			"than the window plus the evaluation, or shorten the window",
			st.ExpiresAt, req.window, req.evaluation, out.evaluableAt.UTC().Format(time.RFC3339))
	}
	if !req.wait || now.Add(wait).After(deadline) {
		return true, false
	}
	if err := r.clock.Sleep(ctx, wait); err != nil {
		out.interrupted = true
		return true, false
	}
	return false, true
}

// release unlocks the lock st that every check passed for: exactly the lock that was evaluated,
// not a lock taken after the evaluation began (another id), nor the same lock extended meanwhile
// (another expiry). The guard compares both under its lock (a compare-and-swap on etcd). again
// asks to decide again, on the lock there now (at most maxRelockRetries times).
func (r *releaser) release(req request, st guard.Status, out *outcome, relocks *int) (again bool, err error) {
	expires, perr := time.Parse(time.RFC3339, st.ExpiresAt)
	if perr != nil {
		out.status = StatusGuardError
		return false, guardError(fmt.Errorf("the guard %s reports an unreadable expiry %q; it is left locked", st.Path, st.ExpiresAt))
	}
	res, uerr := r.guard.Unlock(guard.UnlockRequest{
		LockID:     st.LockID,
		ExpiresAt:  expires,
		Event:      ReleaseEvent,
		Reason:     releaseReason(out.report),
		Evaluation: out.report,
	}, req.check)
	if res.Warning != "" {
		out.warn("%s", res.Warning)
	}
	if (errors.Is(uerr, guard.ErrLockIDMismatch) || errors.Is(uerr, guard.ErrLockChanged)) && *relocks < maxRelockRetries {
		*relocks++
		return true, nil
	}
	if uerr != nil {
		out.status = StatusGuardError
		return false, guardError(uerr)
	}
	out.guard = res.After
	if res.Changed {
		out.released = res.Before
	}
	if req.check {
		out.wouldUnlock = res.Changed
	} else {
		out.unlocked = res.Changed
	}
	return false, nil
}

// lockedSince is the event the stability window must not reach back before: the latest lock or
// extension of the active lock, as the guard keeps it (window_start; see guard.Lock.Start). An
// extension is a new locking event, typically a new rollback, that keeps the lock id and
// locked_at. The audit trail is not read: it may be large, torn or out of reach, and the release
// must not depend on it. A start that cannot be read is the expiry, so that it never makes the
// guard releasable early.
func (r *releaser) lockedSince(st guard.Status, out *outcome) time.Time {
	since, err := time.Parse(time.RFC3339, st.WindowStart)
	if err != nil {
		since, _ = time.Parse(time.RFC3339, st.ExpiresAt) // set for every active lock
		out.warn("the guard %s gives no usable window start (window_start); the stability window is counted from its expiry %s",
			st.Path, since.UTC().Format(time.RFC3339))
		return since.UTC()
	}
	if at, err := time.Parse(time.RFC3339, st.LockedAt); err != nil || at.Year() <= 1 {
		out.warn("the guard %s has no lock time (locked_at); the stability window is counted from %s",
			st.Path, since.UTC().Format(time.RFC3339))
	}
	return since.UTC()
}

// releaseReason is the audit trail's reason for a release.
func releaseReason(r slo.Report) string {
	parts := make([]string, 0, len(r.Checks))
	for _, c := range r.Checks {
		parts = append(parts, c.Name+": "+c.Message)
	}
	return fmt.Sprintf("released by qos_guard_release: all %d SLO checks passed over the %s window ending %s (%s)",
		len(r.Checks), r.Window, r.EvaluatedAt.UTC().Format(time.RFC3339), strings.Join(parts, "; "))
}

// errGuard marks errors of the guard file, as opposed to configuration errors.
type errGuard struct{ err error }

func (e *errGuard) Error() string { return e.err.Error() }
func (e *errGuard) Unwrap() error { return e.err }

func guardError(err error) error {
	if errors.Is(err, guard.ErrCorrupt) && !guard.Advised(err) {
		err = fmt.Errorf("%w; it counts as locked and is left as it is: inspect it, then remove it with "+
			"resilience.ops.qos_guard (state: unlocked, force: true) or `qos_guard --force unlock`", err)
	}
	return &errGuard{err: err}
}
