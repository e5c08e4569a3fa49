package session

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
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

// maxHeadRetries bounds how often a record starts over because the head changed under it (a
// finalize began, or the session was removed and created again).
const maxHeadRetries = 5

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

	// segmentSize replaces SegmentSize when set (tests).
	segmentSize int64
	// afterRead, when set, runs after Finalize read the parts and before it writes the head
	// (tests).
	afterRead func()
}

func (s *Store) segSize() int64 {
	if s.segmentSize > 0 {
		return s.segmentSize
	}
	return SegmentSize
}

// Files returns the file names of the store's directory.
func (s *Store) Files() Files { return Files{Dir: s.Dir} }

func (s *Store) now() time.Time { return clock.Or(s.Clock).Now() }

// openDir opens the state directory; (nil, nil) when it does not exist and create is false.
func (s *Store) openStateDir(create bool) (*state.Dir, error) {
	d, err := state.OpenDir(s.Dir, create)
	if !create && errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return d, err
}

// decodeSession parses the head (or format-1 file) of session id.
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
	if s.FormatVersion >= 2 {
		s.Operations = nil // the parts hold them
	}
	return &s, nil
}

// legacy reports whether h was read from a format-1 session file, which holds the operations.
func legacy(h *Session) bool { return h.FormatVersion < 2 }

// readHead reads the head of session id in the state directory d; nil when it has no file.
func readHead(d *state.Dir, id string) (*Session, error) {
	data, err := readMaybeGzIn(d, headName(id))
	if err != nil || data == nil {
		return nil, err
	}
	return decodeSession(d.Join(headName(id)), id, data)
}

// encodeHead is the content of the head file of sess: the session without its operations.
func encodeHead(sess *Session) ([]byte, error) {
	type headFile struct {
		*Session
		Operations []record.Operation `json:"operations,omitempty"` // hides Session.Operations
	}
	return json.MarshalIndent(headFile{Session: sess}, "", "  ")
}

// newHead is the head of a session created now.
func newHead(id string, now time.Time) *Session {
	return &Session{FormatVersion: FormatVersion, SessionID: id, SessionStart: record.Timestamp(now),
		SessionStatus: StatusActive, Alerts: []Alert{}}
}

// tidy gives the slices of sess their non-nil empty values.
func tidy(sess *Session) {
	if sess.Alerts == nil {
		sess.Alerts = []Alert{}
	}
	if sess.Operations == nil {
		sess.Operations = []record.Operation{}
	}
}

// Head returns the head of session id (format 1: the whole session, as the file holds it), or
// (nil, nil) when it has no file. It reads one small file, whatever the session holds.
func (s *Store) Head(id string) (*Session, error) {
	if err := ValidateID(id); err != nil {
		return nil, err
	}
	d, err := s.openStateDir(false)
	if err != nil || d == nil {
		return nil, err
	}
	defer d.Close()
	return readHead(d, id)
}

// UpdateHead applies fn to the head of session id under the session's exclusive lock and writes
// the result. A session without a file is created first (active, started now): fn then gets
// created true and may refuse it with an error. A format-1 session is moved to the parts first,
// so fn always gets a head without operations. fn returning state.ErrUnchanged keeps an existing
// file as it is. UpdateHead returns the head as written (in DryRun, as it would be; a format-1
// session then keeps its operations) and whether it was created.
func (s *Store) UpdateHead(id string, fn func(sess *Session, created bool) error) (Session, bool, error) {
	if err := ValidateID(id); err != nil {
		return Session{}, false, err
	}
	now := s.now()
	if s.DryRun {
		return s.dryUpdateHead(id, now, fn)
	}
	d, err := s.openStateDir(true)
	if err != nil {
		return Session{}, false, err
	}
	defer d.Close()
	unlock, err := d.Lock(lockName(id))
	if err != nil {
		return Session{}, false, err
	}
	defer unlock()
	h, err := readHead(d, id)
	if err != nil {
		return Session{}, false, err
	}
	created, migrated := h == nil, false
	if created {
		h = newHead(id, now)
	} else if legacy(h) {
		if err := migrate(d, id, h, s.segSize()); err != nil {
			return Session{}, false, err
		}
		migrated = true
	}
	err = fn(h, created)
	if errors.Is(err, state.ErrUnchanged) && !created && !migrated {
		tidy(h)
		return *h, false, nil
	}
	if err != nil && !errors.Is(err, state.ErrUnchanged) {
		return Session{}, false, err
	}
	h.FormatVersion, h.UpdatedAt, h.Operations = FormatVersion, record.Timestamp(now), nil
	tidy(h)
	if err := writeHead(d, id, h, created); err != nil {
		return Session{}, false, err
	}
	return *h, created, nil
}

// dryUpdateHead is UpdateHead in DryRun: fn gets the head as it is read (a format-1 session keeps
// its operations), and nothing is written.
func (s *Store) dryUpdateHead(id string, now time.Time, fn func(sess *Session, created bool) error) (Session, bool, error) {
	d, err := s.openStateDir(false)
	if err != nil {
		return Session{}, false, err
	}
	var h *Session
	if d != nil {
		h, err = readHead(d, id)
		d.Close()
		if err != nil {
			return Session{}, false, err
		}
	}
	created := h == nil
	if created {
		h = newHead(id, now)
	}
	if err := fn(h, created); err != nil && !errors.Is(err, state.ErrUnchanged) {
		return Session{}, false, err
	}
	tidy(h)
	return *h, created, nil
}

// writeHead writes head h of session id (the caller holds the session's exclusive lock), removes a
// compressed head it replaces and, for a session just created, creates its parts directory.
func writeHead(d *state.Dir, id string, h *Session, created bool) error {
	data, err := encodeHead(h)
	if err != nil {
		return err
	}
	// A fixed temporary name: one that a writer killed mid-write left is reused (we hold the lock).
	if err := d.Write(headName(id), data, state.WriteOptions{Temp: tempName(headName(id))}); err != nil {
		return err
	}
	if err := d.Remove(headName(id) + gzExt); err != nil {
		return err
	}
	if created {
		pd, err := openParts(d, id, true)
		if err != nil {
			return err
		}
		pd.Close()
	}
	return nil
}

// migrate moves the operations of the format-1 session h into its parts (under the session's
// exclusive lock, which the caller holds) and leaves h without them; the caller writes h. Records
// that an earlier migration killed before it rewrote the head left in the parts directory are
// removed first: until the head is rewritten, readers use the operations of the old file.
func migrate(d *state.Dir, id string, h *Session, segSize int64) error {
	pd, err := openParts(d, id, true)
	if err != nil {
		return err
	}
	defer pd.Close()
	entries, err := pd.ReadDir()
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.Type().IsRegular() {
			if err := pd.Remove(e.Name()); err != nil {
				return err
			}
		}
	}
	byKey := map[string][]byte{}
	var keys []string
	add := func(k string, line []byte) {
		if _, ok := byKey[k]; !ok {
			keys = append(keys, k)
		}
		byKey[k] = append(append(byKey[k], line...), '\n')
	}
	for i := range h.Operations {
		op := h.Operations[i]
		op.SessionID = id
		line, err := json.Marshal(op)
		if err != nil {
			return err
		}
		add(HostKey(op.Host), line)
	}
	// The error log of format 1 was written by each failure: its entries become records too.
	lines, err := legacyErrorLines(d, id)
	if err != nil {
		return err
	}
	for _, line := range lines {
		var e struct {
			ErrorEntry ErrorEntry `json:"error_entry"`
		}
		if json.Unmarshal(line, &e) == nil {
			add(HostKey(e.ErrorEntry.Host), line)
		}
	}
	for _, k := range keys {
		data, n := byKey[k], 0
		for len(data) > 0 { // segments of at most SegmentSize (whole lines)
			cut := len(data)
			if cut > int(segSize) {
				cut = bytes.LastIndexByte(data[:segSize], '\n') + 1
				if cut == 0 {
					cut = bytes.IndexByte(data, '\n') + 1
				}
			}
			seg, err := pd.OpenSegment(segmentName(k, n), true)
			if err != nil {
				return err
			}
			err = seg.Append(data[:cut])
			seg.Close()
			if err != nil {
				return err
			}
			data, n = data[cut:], n+1
		}
	}
	h.Operations = nil
	return nil
}

// legacyErrorLines returns the entries of the error log that format 1 kept (appended by each
// failure) as error records; none when it has no such file or it does not parse (then it is left
// as it is until the next finalize replaces it).
func legacyErrorLines(d *state.Dir, id string) ([][]byte, error) {
	data, err := readMaybeGzIn(d, filepath.Base(Files{}.ErrorLog(id)))
	if err != nil || data == nil {
		return nil, err
	}
	var log ErrorLog
	if json.Unmarshal(data, &log) != nil || log.SessionID != id {
		return nil, nil
	}
	var out [][]byte
	for i := range log.Errors {
		line, err := encodeRecords(nil, log.Errors[i:i+1])
		if err != nil {
			return nil, err
		}
		out = append(out, bytes.TrimSuffix(line, []byte("\n")))
	}
	return out, nil
}

// Start creates session id or joins it. The context's call_stack_session_id, if any, is kept as
// the session's when it has none yet; the creator's context is kept as the session's. Joining a
// finalized session makes it active again. It returns the session's head and whether it was
// created or changed.
func (s *Store) Start(id string, context map[string]any) (sess Session, created, changed bool, err error) {
	sess, created, err = s.UpdateHead(id, func(se *Session, created bool) error {
		changed = created
		if created && len(context) > 0 {
			se.Context = context
		}
		if cs := callStackID(context); cs != "" && se.CallStackSessionID == "" {
			se.CallStackSessionID, changed = cs, true
		}
		if se.SessionStatus != StatusActive || se.Finalizing != "" {
			se.SessionStatus, se.Finalizing, changed = StatusActive, "", true
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
	se.SessionStatus, se.Finalizing = StatusActive, ""
}

// needsJoin reports whether a record must change the head h first: h is missing, in format 1,
// not active, being finalized, or lacks the call_stack_session_id the operation's context has.
func needsJoin(h *Session, context map[string]any) bool {
	return h == nil || legacy(h) || h.SessionStatus != StatusActive || h.Finalizing != "" ||
		(callStackID(context) != "" && h.CallStackSessionID == "")
}

// Lookup finds the current version of an operation of the host being recorded: nil when it has
// none.
type Lookup func(operationID string) (*record.Operation, error)

// UpdateOperation records a new version of an operation of host in session id (creating the
// session when needed, and joining it as NoteContext says): fn gets lookup, which finds the
// current version of an operation of host by id, and returns the new version and the error log
// entries to add with it (in the same write), or state.ErrUnchanged to write nothing (then the
// zero Operation is returned). Only host's records are locked and read, so it
// costs the same whatever the session holds. The operation's session_id is set to id. In
// DryRun, nothing is written and the operation is returned as it would be recorded.
func (s *Store) UpdateOperation(id, host string, context map[string]any, fn func(lookup Lookup) (record.Operation, []ErrorEntry, error)) (record.Operation, error) {
	if err := ValidateID(id); err != nil {
		return record.Operation{}, err
	}
	var rec record.Operation
	build := func(find func(match func([]byte) bool) ([]byte, error)) ([]byte, error) {
		lookup := func(opID string) (*record.Operation, error) {
			if ValidateOperationID(opID) != nil {
				return nil, nil
			}
			line, err := find(func(line []byte) bool {
				kind, lid := classify(line)
				return kind == lineOp && lid == opID && json.Valid(line)
			})
			if err != nil || line == nil {
				return nil, err
			}
			var op record.Operation
			if err := json.Unmarshal(line, &op); err != nil {
				return nil, nil
			}
			return &op, nil
		}
		op, errs, err := fn(lookup)
		if errors.Is(err, state.ErrUnchanged) {
			return nil, nil // nothing to append
		}
		if err != nil {
			return nil, err
		}
		if err := ValidateOperationID(op.OperationID); err != nil {
			return nil, err
		}
		op.SessionID = id
		rec = op
		return encodeRecords(&op, errs)
	}
	if s.DryRun {
		return rec, s.dryRecord(id, host, build)
	}
	return rec, s.record(id, host, context, build)
}

// record appends what build returns to host's part of session id: under the session's lock,
// shared, after making the head ready (created, moved from format 1, active, not being
// finalized: needsJoin) under the exclusive lock when it is not.
func (s *Store) record(id, host string, context map[string]any, build func(func(func([]byte) bool) ([]byte, error)) ([]byte, error)) error {
	d, err := s.openStateDir(true)
	if err != nil {
		return err
	}
	defer d.Close()
	for try := 0; ; try++ {
		unlock, err := d.LockShared(lockName(id))
		if err != nil {
			return err
		}
		h, err := readHead(d, id)
		if err != nil {
			unlock()
			return err
		}
		if needsJoin(h, context) {
			unlock()
			if try == maxHeadRetries {
				return fmt.Errorf("record into retry session %s: its head kept changing (%d tries)", id, try)
			}
			if _, _, err := s.UpdateHead(id, func(se *Session, _ bool) error {
				if !needsJoin(se, context) {
					return state.ErrUnchanged
				}
				NoteContext(se, context)
				return nil
			}); err != nil {
				return err
			}
			continue
		}
		err = s.appendTo(d, id, host, build)
		unlock()
		return err
	}
}

// appendTo appends what build returns to host's part of session id; the caller holds the
// session's lock shared. The head's modification time says when the session was last written
// (retention reads it): it is set to now after the record.
func (s *Store) appendTo(d *state.Dir, id, host string, build func(func(func([]byte) bool) ([]byte, error)) ([]byte, error)) error {
	pd, err := openParts(d, id, true)
	if err != nil {
		return err
	}
	defer pd.Close()
	if err := appendRecords(pd, HostKey(host), s.segSize(), build); err != nil {
		return err
	}
	now := s.now()
	if err := d.Touch(headName(id), now); errors.Is(err, fs.ErrNotExist) {
		_ = d.Touch(headName(id)+gzExt, now)
	}
	return nil
}

// dryRecord runs build on what is recorded for host, without locking or writing (check mode).
func (s *Store) dryRecord(id, host string, build func(func(func([]byte) bool) ([]byte, error)) ([]byte, error)) error {
	d, err := s.openStateDir(false)
	if err != nil {
		return err
	}
	none := func(func([]byte) bool) ([]byte, error) { return nil, nil }
	if d == nil {
		_, err := build(none)
		return err
	}
	defer d.Close()
	h, err := readHead(d, id)
	if err != nil {
		return err
	}
	if h != nil && legacy(h) {
		_, err := build(func(match func([]byte) bool) ([]byte, error) {
			for i := len(h.Operations) - 1; i >= 0; i-- {
				if line, err := json.Marshal(h.Operations[i]); err == nil && match(line) {
					return line, nil
				}
			}
			return nil, nil
		})
		return err
	}
	pd, err := openParts(d, id, false)
	if err != nil {
		return err
	}
	if pd == nil {
		_, err := build(none)
		return err
	}
	defer pd.Close()
	key := HostKey(host)
	_, err = build(func(match func([]byte) bool) ([]byte, error) {
		for k := lastSegment(pd, key); k >= 0; k-- {
			data, err := readSegment(pd, key, k)
			if err != nil {
				return nil, err
			}
			if line := lastMatch(data, match); line != nil {
				return line, nil
			}
		}
		return nil, nil
	})
	return err
}

// encodeRecords is the lines that record op (when not nil) and the error log entries errs.
func encodeRecords(op *record.Operation, errs []ErrorEntry) ([]byte, error) {
	var out []byte
	if op != nil {
		line, err := json.Marshal(op)
		if err != nil {
			return nil, err
		}
		if !bytes.HasPrefix(line, []byte(opLinePrefix)) {
			return nil, fmt.Errorf("record %s: unexpected encoding", op.OperationID) // record.Operation's first field is its id
		}
		out = append(line, '\n')
	}
	for i := range errs {
		e, err := json.Marshal(struct {
			ErrorEntry *ErrorEntry `json:"error_entry"`
		}{&errs[i]})
		if err != nil {
			return nil, err
		}
		out = append(append(out, e...), '\n')
	}
	return out, nil
}

// RecordOperation stores a finished or running operation in session id (creating the session
// when needed), replacing an operation of the same host with the same id, with the error log
// entries errs. See UpdateOperation.
func (s *Store) RecordOperation(id string, op record.Operation, errs ...ErrorEntry) (record.Operation, error) {
	return s.UpdateOperation(id, op.Host, op.Context, func(Lookup) (record.Operation, []ErrorEntry, error) { return op, errs, nil })
}

// AppendError adds e to the error log of session id: a record of e's host (creating the session
// when needed).
func (s *Store) AppendError(id string, e ErrorEntry) error {
	if err := ValidateID(id); err != nil {
		return err
	}
	if s.DryRun {
		return nil
	}
	return s.record(id, e.Host, nil, func(func(func([]byte) bool) ([]byte, error)) ([]byte, error) {
		return encodeRecords(nil, []ErrorEntry{e})
	})
}

// stream calls op with each operation of session id (its current version) and entry with each
// error log entry, host by host, and returns the head (nil when the session has no file) and the
// number of lines that were skipped (torn or not records). A format-1 session gives the
// operations of its file. Memory: one segment at a time.
func (s *Store) stream(id string, shared bool, op func(line []byte, legacyOp *record.Operation) error, entry func(line []byte) error) (*Session, int, error) {
	d, err := s.openStateDir(false)
	if err != nil || d == nil {
		return nil, 0, err
	}
	defer d.Close()
	if shared && !s.DryRun {
		if _, err := d.Lstat(lockName(id)); err == nil {
			unlock, err := d.LockShared(lockName(id))
			if err != nil {
				return nil, 0, err
			}
			defer unlock()
		}
	}
	h, err := readHead(d, id)
	if err != nil || h == nil {
		return h, 0, err
	}
	if legacy(h) {
		for i := range h.Operations {
			if err := op(nil, &h.Operations[i]); err != nil {
				return h, 0, err
			}
		}
		if entry == nil {
			return h, 0, nil
		}
		lines, err := legacyErrorLines(d, id)
		if err != nil {
			return h, 0, err
		}
		for _, line := range lines {
			if err := entry(line); err != nil {
				return h, 0, err
			}
		}
		return h, 0, nil
	}
	pd, err := openParts(d, id, false)
	if err != nil || pd == nil {
		return h, 0, err
	}
	defer pd.Close()
	keys, segs, err := hostSegments(pd)
	if err != nil {
		return h, 0, err
	}
	bad := 0
	for _, k := range keys {
		err := scanHost(pd, k, segs[k], func(kind lineKind, line []byte) error {
			if kind == lineOp {
				return op(line, nil)
			}
			if entry != nil {
				return entry(line)
			}
			return nil
		}, &bad)
		if err != nil {
			return h, bad, err
		}
	}
	return h, bad, nil
}

// Each calls fn with every operation of session id, decoded, host by host, and returns the head;
// (nil, nil) when the session has no file. It holds one segment and one operation at a time.
func (s *Store) Each(id string, fn func(op *record.Operation) error) (*Session, error) {
	if err := ValidateID(id); err != nil {
		return nil, err
	}
	h, _, err := s.stream(id, false, func(line []byte, lop *record.Operation) error {
		if lop != nil {
			return fn(lop)
		}
		var op record.Operation
		if json.Unmarshal(line, &op) != nil {
			return errBadRecord
		}
		return fn(&op)
	}, nil)
	return h, err
}

// Load returns session id composed with all its operations in memory, or (nil, nil) when it has
// no file. Use it for small sessions and tests; Each and Compose stream.
func (s *Store) Load(id string) (*Session, error) {
	var ops []record.Operation
	h, err := s.Each(id, func(op *record.Operation) error {
		ops = append(ops, *op)
		return nil
	})
	if err != nil || h == nil {
		return h, err
	}
	h.Operations = ops
	tidy(h)
	return h, nil
}

// Compose writes session id as the users' reports show it (Session: the head's fields and the
// operations) to w as JSON, streaming: one segment in memory at a time, whatever the session
// holds. It returns ErrNoSession when the session has no file.
func (s *Store) Compose(id string, w io.Writer) error {
	if err := ValidateID(id); err != nil {
		return err
	}
	h, err := s.Head(id)
	if err != nil {
		return err
	}
	if h == nil {
		return s.noSession(id)
	}
	hc := *h
	hc.Operations = nil
	tidy(&hc)
	head, err := encodeHead(&hc)
	if err != nil {
		return err
	}
	head = bytes.TrimRight(head, "\n}")
	if _, err := io.WriteString(w, string(head)+",\n  \"operations\": ["); err != nil {
		return err
	}
	n := 0
	var buf bytes.Buffer
	_, _, err = s.stream(id, false, func(line []byte, lop *record.Operation) error {
		if lop != nil {
			b, err := json.Marshal(lop)
			if err != nil {
				return err
			}
			line = b
		} else if !json.Valid(line) {
			return errBadRecord
		}
		buf.Reset()
		if n > 0 {
			buf.WriteByte(',')
		}
		buf.WriteString("\n    ")
		buf.Write(line)
		n++
		_, err := w.Write(buf.Bytes())
		return err
	}, nil)
	if err != nil {
		return err
	}
	end := "]\n}\n"
	if n > 0 {
		end = "\n  ]\n}\n"
	}
	_, err = io.WriteString(w, end)
	return err
}

// Finalize computes the final statistics and the alerts (none when th is nil) of session id,
// sets its end, duration and status, and writes its performance metrics file and its error log.
// It reads the parts as a stream (running sums, one segment in memory at a time) without holding
// the session's exclusive lock, so recording goes on meanwhile; when an operation is recorded
// while it reads, the session stays active (the statistics are those read). The session must
// exist, except in DryRun: a session started in check mode has no file, and finalizing it in
// check mode gives the statistics of an empty session. Finalizing again recomputes everything
// from the operations recorded by then.
func (s *Store) Finalize(id string, status Status, th *Thresholds) (Session, error) {
	f, err := s.FinalizeReport(id, status, th)
	return f.Session, err
}

// MaxReportedFailures bounds the failures that a finalize reports (Finalized.Failures), for the
// AAP artifacts: the oldest ones.
const MaxReportedFailures = 10

// maxReportedText bounds each text of a reported failure.
const maxReportedText = 256

// Finalized is what a finalize found besides the head: bounded, whatever the session holds.
type Finalized struct {
	Session
	// Failures are the oldest error log entries (at most MaxReportedFailures, texts cut to 256
	// bytes); FailureCount counts them all.
	Failures     []ErrorEntry
	FailureCount int
	// Hosts counts the distinct hosts with operations.
	Hosts int
}

// FinalizeReport is Finalize, and it also returns the first failures, their count and the hosts.
func (s *Store) FinalizeReport(id string, status Status, th *Thresholds) (Finalized, error) {
	if err := ValidateID(id); err != nil {
		return Finalized{}, err
	}
	token, err := s.markFinalizing(id)
	if err != nil {
		return Finalized{}, err
	}
	t := newTally()
	errs := newErrorCollector(MaxErrorLogEntries)
	h, bad, err := s.stream(id, true, t.addLine, errs.addLine)
	if err != nil {
		return Finalized{}, err
	}
	if s.afterRead != nil {
		s.afterRead()
	}
	if h == nil {
		if !s.DryRun {
			return Finalized{}, s.noSession(id)
		}
		h = newHead(id, s.now())
	}
	now := s.now()
	start, err := record.ParseTimestamp(h.SessionStart)
	if err != nil {
		return Finalized{}, fmt.Errorf("session %s: session_start %q: %w", id, h.SessionStart, err)
	}
	dur := max(now.Sub(start), 0)
	stats := t.statistics(dur)
	alerts := []Alert{}
	if th != nil {
		alerts = CheckAlerts(stats, *th)
	}
	out, err := s.applyFinal(id, token, *h, func(se *Session) {
		se.SessionEnd, se.SessionDuration, se.SessionStatus = record.Timestamp(now), round(dur.Seconds(), 3), status
		se.FinalStatistics, se.Alerts = &stats, alerts
	})
	if err != nil {
		return Finalized{}, err
	}
	perf := t.performance(&out, stats, now)
	perf.SkippedRecords = bad
	rep := Finalized{Session: out, FailureCount: errs.count, Hosts: perf.Hosts, Failures: errs.first(MaxReportedFailures)}
	for i := range rep.Failures {
		e := &rep.Failures[i]
		e.ErrorMessage, e.FailedTask, e.OperationName, e.Host = clip(e.ErrorMessage, maxReportedText),
			clip(e.FailedTask, maxReportedText), clip(e.OperationName, maxReportedText), clip(e.Host, maxReportedText)
	}
	if err := s.writeJSON(s.Files().Performance(id), perf); err != nil {
		return rep, err
	}
	return rep, s.writeJSON(s.Files().ErrorLog(id), errs.log(id))
}

// markFinalizing marks session id's head with a new random token before a finalize reads the
// session, and returns the token ("" in DryRun, which writes nothing). A session without a file
// fails, before the directory or a lock file is created.
func (s *Store) markFinalizing(id string) (string, error) {
	if s.DryRun {
		return "", nil
	}
	if cur, err := s.Head(id); err != nil || cur == nil {
		if err == nil {
			err = s.noSession(id)
		}
		return "", err
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	token := hex.EncodeToString(b[:])
	_, _, err := s.UpdateHead(id, func(se *Session, created bool) error {
		if created {
			return s.noSession(id) // removed since the check above
		}
		se.Finalizing = token
		return nil
	})
	return token, err
}

// applyFinal sets what final sets in the head of session id, unless the head lost token since
// markFinalizing (an operation was recorded, or another finalize ran, meanwhile): the head is then
// left as it is, and the session h that was read is reported with final applied and its status
// kept. In DryRun nothing is written. It returns the session as reported, without operations.
func (s *Store) applyFinal(id, token string, h Session, final func(se *Session)) (Session, error) {
	out := h
	if s.DryRun {
		final(&out)
	} else {
		applied := false
		written, _, err := s.UpdateHead(id, func(se *Session, created bool) error {
			if created {
				return s.noSession(id) // removed meanwhile
			}
			if se.Finalizing != token { // recorded into, or finalized by another, meanwhile
				return state.ErrUnchanged
			}
			se.Finalizing, applied = "", true
			final(se)
			return nil
		})
		if err != nil {
			return Session{}, err
		}
		out = written
		if !applied { // the head is left as it is: report what was read, with its status
			st := out.SessionStatus
			final(&out)
			out.SessionStatus = st
		}
	}
	out.Finalizing = ""
	tidy(&out)
	out.Operations = nil
	return out, nil
}

func (s *Store) noSession(id string) error {
	return fmt.Errorf("%w %s in %s: start it (or record an operation) before finalizing", ErrNoSession, id, s.Dir)
}

// writeJSON replaces path with v under path's lock; nothing in DryRun.
func (s *Store) writeJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if s.DryRun {
		return nil
	}
	d, err := s.openStateDir(true)
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
	if err := d.Write(name, data, state.WriteOptions{Temp: tempName(name)}); err != nil {
		return err
	}
	return d.Remove(name + gzExt)
}

// tempName is the temporary file of name for writers that hold name's lock: fixed, so that the
// one a writer killed mid-write left behind is removed by the next write.
func tempName(name string) string { return "." + name + ".tmp" }

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

// ErrorLog is the content of a session's error log, composed when the session is finalized: the
// error log entries of its hosts, oldest first. It holds at most MaxErrorLogEntries entries (and
// a few MiB): ErrorCount counts them all, Omitted those left out (the newest).
type ErrorLog struct {
	SessionID  string       `json:"session_id"`
	Errors     []ErrorEntry `json:"errors"`
	ErrorCount int          `json:"error_count"`
	Omitted    int          `json:"omitted,omitempty"`
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
