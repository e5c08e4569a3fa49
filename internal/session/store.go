package session

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"time"

	"resilience.ops/internal/clock"
	"resilience.ops/internal/record"
	"resilience.ops/internal/state"
)

// ErrNoSession is returned when a session that must exist has no file.
var ErrNoSession = errors.New("no such retry session")

// maxFileSize bounds what is read from a session file, also once decompressed: the limit of
// package state.
const maxFileSize = state.MaxFileSize

// Store reads and updates the sessions of one state directory. Its methods are safe for
// concurrent use by goroutines and by processes, on one host or on several sharing the directory
// through a file system with working flock; its fields must not change while it is in use.
type Store struct {
	// Dir is the state directory; created 0700 when missing. It is refused, and nothing is
	// created in it, when it or a directory above it belongs to another user, can be written by
	// others without the sticky bit, or is a symbolic link (state.OpenDir).
	Dir string
	// Clock gives the time of every timestamp; nil means the real clock.
	Clock clock.Clock
	// DryRun (check mode) reads files but never creates, writes or removes one: updates are
	// computed on what is read and returned as they would be written.
	DryRun bool
}

// Files returns the file names of the store's directory.
func (s *Store) Files() Files { return Files{Dir: s.Dir} }

func (s *Store) now() time.Time { return clock.Or(s.Clock).Now() }

// readMaybeGz reads path, or path.gz when only the compressed file exists; (nil, nil) when
// neither (or their directory) does.
func readMaybeGz(path string) ([]byte, error) {
	d, err := state.OpenDir(filepath.Dir(path), false)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer d.Close()
	return readMaybeGzIn(d, filepath.Base(path))
}

// readMaybeGzIn is readMaybeGz of the file name in the open state directory d.
func readMaybeGzIn(d *state.Dir, name string) ([]byte, error) {
	data, err := d.ReadFile(name)
	if err != nil || data != nil {
		return data, err
	}
	if _, err := d.Lstat(name); err == nil {
		return data, nil // an empty file
	}
	gz, err := d.ReadFile(name + ".gz")
	if err != nil || gz == nil {
		return nil, err
	}
	path := d.Join(name)
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return nil, fmt.Errorf("read %s.gz: %w", path, err)
	}
	out, err := io.ReadAll(io.LimitReader(zr, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s.gz: %w", path, err)
	}
	if len(out) > maxFileSize {
		return nil, fmt.Errorf("read %s.gz: larger than %d bytes once decompressed", path, maxFileSize)
	}
	return out, nil
}

// update replaces the content of path with what fn returns, under the exclusive lock of
// path.lock, atomically (package state). fn gets the current content, read from path.gz when only
// that exists, or nil; returning state.ErrUnchanged keeps the file as it is. After a write,
// path.gz is removed. In DryRun nothing is locked or written. The state directory is created
// (0700) when missing, and refused when another user could change it (state.OpenDir).
func (s *Store) update(path string, fn func(cur []byte) ([]byte, error)) error {
	if s.DryRun {
		cur, err := readMaybeGz(path)
		if err != nil {
			return err
		}
		if _, err := fn(cur); err != nil && !errors.Is(err, state.ErrUnchanged) {
			return err
		}
		return nil
	}
	d, err := state.OpenDir(s.Dir, true)
	if err != nil {
		return err
	}
	defer d.Close()
	name := filepath.Base(path)
	unlock, err := d.Lock(name + ".lock")
	if err != nil {
		return err
	}
	defer unlock()
	cur, err := readMaybeGzIn(d, name)
	if err != nil {
		return err
	}
	next, err := fn(cur)
	if errors.Is(err, state.ErrUnchanged) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := d.Write(name, next, state.WriteOptions{}); err != nil {
		return err
	}
	return d.Remove(name + ".gz")
}

// decodeSession parses the file of session id.
func decodeSession(path, id string, data []byte) (*Session, error) {
	var s Session
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("session file %s is not valid JSON (%v): it is kept as it is; move it away to start over", path, err)
	}
	if s.FormatVersion > FormatVersion {
		return nil, fmt.Errorf("session file %s has format_version %d, newer than this collection's %d", path, s.FormatVersion, FormatVersion)
	}
	if s.SessionID != id {
		return nil, fmt.Errorf("session file %s holds session_id %q, not %s: it is kept as it is; move it away to start over", path, s.SessionID, id)
	}
	return &s, nil
}

// Load returns session id, or (nil, nil) when it has no file.
func (s *Store) Load(id string) (*Session, error) {
	if err := ValidateID(id); err != nil {
		return nil, err
	}
	path := s.Files().Session(id)
	data, err := readMaybeGz(path)
	if err != nil || data == nil {
		return nil, err
	}
	return decodeSession(path, id, data)
}

// Update applies fn to session id under the session's lock and writes the result. A session
// without a file is created first (active, started now): fn then gets created true and may refuse
// it with an error. fn returning state.ErrUnchanged keeps an existing file as it is. Update
// returns the session as written (in DryRun, as it would be) and whether it was created.
func (s *Store) Update(id string, fn func(sess *Session, created bool) error) (Session, bool, error) {
	if err := ValidateID(id); err != nil {
		return Session{}, false, err
	}
	path := s.Files().Session(id)
	var out Session
	var created bool
	err := s.update(path, func(cur []byte) ([]byte, error) {
		now := s.now()
		var sess *Session
		if cur == nil {
			created = true
			sess = &Session{FormatVersion: FormatVersion, SessionID: id, SessionStart: record.Timestamp(now),
				SessionStatus: StatusActive, Operations: []record.Operation{}, Alerts: []Alert{}}
		} else {
			var err error
			if sess, err = decodeSession(path, id, cur); err != nil {
				return nil, err
			}
		}
		err := fn(sess, created)
		if errors.Is(err, state.ErrUnchanged) && !created {
			out = *sess
			return nil, err
		}
		if err != nil && !errors.Is(err, state.ErrUnchanged) {
			return nil, err
		}
		sess.FormatVersion = FormatVersion
		sess.UpdatedAt = record.Timestamp(now)
		if sess.Operations == nil {
			sess.Operations = []record.Operation{}
		}
		if sess.Alerts == nil {
			sess.Alerts = []Alert{}
		}
		out = *sess
		return json.MarshalIndent(sess, "", "  ")
	})
	return out, created, err
}

// Start creates session id or joins it. The context's call_stack_session_id, if any, is kept as
// the session's when it has none yet; the creator's context is kept as the session's. Joining a
// finalized session makes it active again. It returns the session and whether it was created or
// changed.
func (s *Store) Start(id string, context map[string]any) (sess Session, created, changed bool, err error) {
	sess, created, err = s.Update(id, func(se *Session, created bool) error {
		changed = created
		if created && len(context) > 0 {
			se.Context = context
		}
		if cs := callStackID(context); cs != "" && se.CallStackSessionID == "" {
			se.CallStackSessionID, changed = cs, true
		}
		if se.SessionStatus != StatusActive {
			se.SessionStatus, changed = StatusActive, true
		}
		if !changed {
			return state.ErrUnchanged
		}
		return nil
	})
	return sess, created, changed, err
}

// callStackID returns context["call_stack_session_id"] when it is a non-empty string.
func callStackID(context map[string]any) string {
	s, _ := context["call_stack_session_id"].(string)
	return s
}

// NoteContext keeps the call_stack_session_id of an operation's context on the session when it
// has none, and makes a finalized session active again: recording into a session joins it.
func NoteContext(se *Session, context map[string]any) {
	if cs := callStackID(context); cs != "" && se.CallStackSessionID == "" {
		se.CallStackSessionID = cs
	}
	se.SessionStatus = StatusActive
}

// RecordOperation stores a finished or running operation in session id (creating the session
// when needed), replacing an operation with the same id.
func (s *Store) RecordOperation(id string, op record.Operation) (Session, error) {
	op.SessionID = id
	sess, _, err := s.Update(id, func(se *Session, _ bool) error {
		NoteContext(se, op.Context)
		se.Put(op)
		return nil
	})
	return sess, err
}

// Finalize computes the final statistics and the alerts (none when th is nil) of session id,
// sets its end, duration and status, and writes its performance metrics file. The session must
// exist, except in DryRun: a session started in check mode has no file, and finalizing it in
// check mode gives the statistics of an empty session. Finalizing again recomputes everything
// from the operations recorded by then.
func (s *Store) Finalize(id string, status Status, th *Thresholds) (Session, error) {
	if err := ValidateID(id); err != nil {
		return Session{}, err
	}
	if !s.DryRun { // fail before creating the directory or a lock file
		if cur, err := s.Load(id); err != nil || cur == nil {
			if err == nil {
				err = s.noSession(id)
			}
			return Session{}, err
		}
	}
	sess, _, err := s.Update(id, func(se *Session, created bool) error {
		if created && !s.DryRun {
			return s.noSession(id) // removed since the check above
		}
		now := s.now()
		start, err := record.ParseTimestamp(se.SessionStart)
		if err != nil {
			return fmt.Errorf("session %s: session_start %q: %w", id, se.SessionStart, err)
		}
		dur := max(now.Sub(start), 0)
		stats := Compute(se.Operations, dur)
		se.SessionEnd, se.SessionDuration, se.SessionStatus = record.Timestamp(now), round(dur.Seconds(), 3), status
		se.FinalStatistics = &stats
		se.Alerts = []Alert{}
		if th != nil {
			se.Alerts = CheckAlerts(stats, *th)
		}
		return nil
	})
	if err != nil {
		return sess, err
	}
	perf := ComputePerformance(&sess, *sess.FinalStatistics, s.now())
	return sess, s.writeJSON(s.Files().Performance(id), perf)
}

func (s *Store) noSession(id string) error {
	return fmt.Errorf("%w %s in %s: start it (or record an operation) before finalizing", ErrNoSession, id, s.Dir)
}

// writeJSON replaces path with v under path's lock.
func (s *Store) writeJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return s.update(path, func([]byte) ([]byte, error) { return data, nil })
}

// AttemptLog is the content of a per-attempt log file.
type AttemptLog struct {
	SessionID     string `json:"session_id"`
	OperationID   string `json:"operation_id"`
	OperationName string `json:"operation_name"`
	Host          string `json:"host,omitempty"`
	record.Attempt
}

// WriteAttempt writes the per-attempt log of attempt a of op. The file name is unique to the
// attempt, so it needs no lock; it is still written atomically.
func (s *Store) WriteAttempt(sessionID string, op *record.Operation, a record.Attempt) error {
	if err := ValidateOperationID(op.OperationID); err != nil {
		return err
	}
	if s.DryRun {
		return nil
	}
	d, err := state.OpenDir(s.Dir, true)
	if err != nil {
		return err
	}
	defer d.Close()
	data, err := json.MarshalIndent(AttemptLog{SessionID: sessionID, OperationID: op.OperationID,
		OperationName: op.OperationName, Host: op.Host, Attempt: a}, "", "  ")
	if err != nil {
		return err
	}
	return d.Write(filepath.Base(s.Files().Attempt(op.OperationID, a.AttemptNumber)), data, state.WriteOptions{})
}

// ErrorLog is the content of a session's error log.
type ErrorLog struct {
	SessionID string       `json:"session_id"`
	Errors    []ErrorEntry `json:"errors"`
}

// ErrorEntry is one failed operation in the error log.
type ErrorEntry struct {
	Timestamp     string `json:"timestamp"`
	OperationID   string `json:"operation_id"`
	OperationName string `json:"operation_name"`
	Host          string `json:"host,omitempty"`
	ErrorType     string `json:"error_type"`
	ErrorMessage  string `json:"error_message"`
	StopReason    string `json:"stop_reason"`
	AttemptCount  int    `json:"attempt_count"`
	FailedTask    string `json:"failed_task,omitempty"`
}

// ErrorEntryOf describes failed operation op for the error log.
func ErrorEntryOf(op *record.Operation, now time.Time) ErrorEntry {
	e := ErrorEntry{Timestamp: record.Timestamp(now), OperationID: op.OperationID, OperationName: op.OperationName,
		Host: op.Host, StopReason: op.StopReason, AttemptCount: op.AttemptCount,
		ErrorType: op.LastErrorType()} // a guardrail's refusal when one ended it
	if n := len(op.Attempts); n > 0 {
		last := op.Attempts[n-1]
		if last.ErrorMessage != nil {
			e.ErrorMessage = *last.ErrorMessage
		}
		e.FailedTask = last.FailedTask
	}
	return e
}

// AppendError adds e to the error log of session id.
func (s *Store) AppendError(id string, e ErrorEntry) error {
	if err := ValidateID(id); err != nil {
		return err
	}
	path := s.Files().ErrorLog(id)
	return s.update(path, func(cur []byte) ([]byte, error) {
		log := ErrorLog{SessionID: id, Errors: []ErrorEntry{}}
		if cur != nil {
			if err := json.Unmarshal(cur, &log); err != nil {
				return nil, fmt.Errorf("error log %s is not valid JSON (%v): it is kept as it is", path, err)
			}
		}
		log.Errors = append(log.Errors, e)
		return json.MarshalIndent(log, "", "  ")
	})
}
