package session

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"slices"
	"time"

	"resilience.ops/internal/duration"
	"resilience.ops/internal/export"
	"resilience.ops/internal/record"
	"resilience.ops/internal/state"
)

// Snapshot returns what package export delivers for session s at now: per operation name and
// final status, the counts of the finished operations; the statistics of every finished
// operation; and the thresholds of th that they breach (none when th is nil). The statistics are
// computed afresh, as Finalize computes them, so that a session that was not finalized (or got
// operations since) is reported as it is. The duration is the finalized session's when it is
// finalized, else the time since its start. It is a pure function.
func Snapshot(s *Session, now time.Time, th *Thresholds) (export.Snapshot, []Alert) {
	t := newTally()
	for i := range s.Operations {
		t.add(liteOf(&s.Operations[i]))
	}
	return snapshotOf(s, t, now, th)
}

// Snapshot is the Snapshot of session id, read as a stream (running sums, one segment in memory at
// a time), and the session's head; the head is nil when the session has no file.
func (s *Store) Snapshot(id string, now time.Time, th *Thresholds) (export.Snapshot, []Alert, *Session, error) {
	if err := ValidateID(id); err != nil {
		return export.Snapshot{}, nil, nil, err
	}
	t := newTally()
	h, _, err := s.stream(id, false, t.addLine, nil)
	if err != nil || h == nil {
		return export.Snapshot{}, nil, h, err
	}
	snap, alerts := snapshotOf(h, t, now, th)
	return snap, alerts, h, nil
}

// snapshotOf is the Snapshot of the head s whose operations t summed.
func snapshotOf(s *Session, t *tally, now time.Time, th *Thresholds) (export.Snapshot, []Alert) {
	dur := time.Duration(0)
	if start, err := record.ParseTimestamp(s.SessionStart); err == nil {
		dur = max(now.Sub(start), 0)
	}
	if s.SessionStatus != StatusActive && s.SessionEnd != "" {
		dur = max(duration.FromSeconds(s.SessionDuration), 0) // read from a file: never trusted
	}
	stats := t.statistics(dur)
	alerts := []Alert{}
	if th != nil {
		alerts = CheckAlerts(stats, *th)
	}
	snap := export.Snapshot{
		SessionID: s.SessionID,
		Time:      now,
		Duration:  round(dur.Seconds(), 3),
		Statistics: export.Statistics{
			TotalOperations: stats.TotalOperations, SuccessfulOperations: stats.SuccessfulOperations,
			FailedOperations: stats.FailedOperations, SuccessRate: stats.SuccessRate, FailureRate: stats.FailureRate,
			RetryRate: stats.RetryRate, AverageRetryCount: stats.AverageRetryCount,
			TotalExecutionTime: stats.TotalExecutionTime, OperationsPerMinute: stats.OperationsPerMinute,
		},
	}
	if ops := t.operationStats(); len(ops) > 0 {
		snap.Operations = ops
	}
	for _, a := range alerts {
		snap.Alerts = append(snap.Alerts, export.Alert{Name: a.Alert, Metric: a.Metric, Value: a.Value, Threshold: a.Threshold})
	}
	return snap, alerts
}

// MaxDelivered bounds the entries of Session.Delivered.
const MaxDelivered = 1000

// Claim records key in session id's Delivered, under the session's lock, and reports whether this
// caller is the first to claim it. The hosts of a session all notify the alert handler: only the
// first one to claim a breach group sends it. It never creates a session; in DryRun nothing is
// written and the answer says whether key was already claimed.
func (s *Store) Claim(id, key string) (bool, error) {
	if key == "" {
		return false, errors.New("claim a delivery: empty key")
	}
	first := false
	err := s.addDelivered(id, func(se *Session) []string {
		if slices.Contains(se.Delivered, key) {
			return nil
		}
		first = true
		return []string{key}
	})
	return first, err
}

// MarkDelivered adds keys that are not in session id's Delivered yet. It never creates a session.
func (s *Store) MarkDelivered(id string, keys []string) error {
	return s.addDelivered(id, func(se *Session) []string {
		var add []string
		for _, k := range keys {
			if k != "" && !slices.Contains(se.Delivered, k) && !slices.Contains(add, k) {
				add = append(add, k)
			}
		}
		return add
	})
}

// addDelivered appends what fn returns to session id's Delivered, under the session's lock.
func (s *Store) addDelivered(id string, fn func(se *Session) []string) error {
	if !s.DryRun { // a delivery must not create a session
		if cur, err := s.Head(id); err != nil || cur == nil {
			if err == nil {
				err = s.noSession(id)
			}
			return err
		}
	}
	_, _, err := s.UpdateHead(id, func(se *Session, _ bool) error {
		add := fn(se)
		if len(add) == 0 {
			return state.ErrUnchanged
		}
		se.Delivered = append(se.Delivered, add...)
		if n := len(se.Delivered); n > MaxDelivered {
			se.Delivered = append([]string(nil), se.Delivered[n-MaxDelivered:]...)
		}
		return nil
	})
	return err
}

// MetricsKey identifies what a metrics delivery of snap says about its session's operations: the
// session, the counts per operation and status, and the breached thresholds, but not the figures
// that move with the clock alone (duration, operations per minute). A system that received
// metrics under a key has nothing new to receive until an operation is recorded.
func MetricsKey(snap export.Snapshot) string {
	h := sha256.New()
	h.Write([]byte(snap.SessionID))
	ops, _ := json.Marshal(snap.Operations) // plain values: cannot fail
	h.Write([]byte{0})
	h.Write(ops)
	for _, a := range snap.Alerts {
		h.Write([]byte{0})
		h.Write([]byte(a.Name))
	}
	return "metrics_" + hex.EncodeToString(h.Sum(nil))[:16]
}
