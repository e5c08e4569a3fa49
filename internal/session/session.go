// Package session keeps retry sessions: the operations of one run (a play, a job template, a
// workflow), the attempts of each, and the statistics, alerts and retention that reports and AAP
// artifacts use.
//
// # Layout
//
// A session lives in a state directory (DefaultDir unless configured). Recording an operation
// writes only the records of its host, so it costs the same whether the session holds ten
// operations or a million, and hosts never wait for each other:
//
//	retry_session_<id>.json          the head: the session's "Session Statistics" (id, start, end, status,
//	                                 final_statistics, alerts) and bookkeeping, a few KiB (Session without operations)
//	retry_session_<id>.json.lock     the session's lock: exclusive to change the head, shared to record
//	retry_session_<id>.d/            the parts: per host, append-only segments of JSON lines
//	  <host key>.<n>.jsonl           one record a line: a version of an operation (the reference's
//	                                 "Operation Details" object), or {"error_entry": {...}}; the last
//	                                 version of an operation is the current one (HostKey, SegmentSize)
//	retry_performance_<id>.json      metrics written when the session is finalized (Performance)
//	retry_session_error_<id>.json    the failed operations, composed when finalized (ErrorLog)
//	attempt_<operation_id>_<n>.json  one attempt, when per-attempt logs are on (AttemptLog)
//
// A record takes the session's lock shared (so that retention never removes a session under a
// writer), reads the head (a few KiB), then locks its host's last segment alone and appends one
// line with one write, synced: a writer killed at any point leaves the segment as it was or with
// the new line, and a torn line is never read as a record (state.Segment). The session as the
// users' reports show it (Session, with its operations), the statistics and the error log are
// composed from the parts when they are read or finalized, streaming: one segment in memory at a
// time and running sums, whatever the session holds.
//
// The head and every file are written atomically with mode 0600, in directories created 0700,
// through the checked directory handles of package state (no symbolic link, owners checked,
// bounded lock waits, nothing larger than state.MaxFileSize). Retention may gzip any file to
// `<file>.gz`; readers fall back to it transparently, and a compressed segment is closed (the
// next records go to a new one).
//
// Sessions written by earlier versions (format_version 1: one file that holds the operations) are
// read as they are, and moved to this layout by the next write (Store.UpdateHead, a record,
// finalize) under the session's exclusive lock.
//
// Session ids are checked (ValidateID) before any path is built, so an id can never name a file
// outside the directory. The statistics (Compute) and alerts (CheckAlerts) are pure functions;
// the Store takes its clock (package clock) as a field, so tests control time exactly.
package session

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"

	"time"

	"resilience.ops/internal/record"
	"resilience.ops/internal/state"
)

// DefaultDir is the default state directory, as the retry role users run today has it.
const DefaultDir = "/tmp/ansible_retry"

// FormatVersion is the format_version of the session heads this package writes: 2, the head and
// per-host parts. Version 1 (and files without one) held the operations in the session file.
const FormatVersion = 2

// Status is a session's status (an operation's is a record.Status). A string value: safe for concurrent use.
type Status string

// Session statuses.
const (
	// StatusActive: operations are being recorded; the session is not finalized (or was joined
	// again after it was).
	StatusActive Status = "active"
	// StatusCompleted: finalized normally. Some operations may have failed: see final_statistics.
	StatusCompleted Status = "completed"
	// StatusFailed: finalized by the error path (the "cleanup retry session on error" handler).
	StatusFailed Status = "failed"
)

var idPattern = regexp.MustCompile(`^retry_[0-9]{1,19}_[0-9]{1,19}$`)

// ErrBadID is wrapped by the errors of ValidateID and ValidateOperationID.
var ErrBadID = errors.New("invalid id")

// ValidateID checks a session id: `retry_<unix seconds>_<digits>`, as NewID makes them. Nothing
// else is accepted, so an id can never hold a path separator, `..` or other surprises.
func ValidateID(id string) error {
	if !idPattern.MatchString(id) || !state.SafeName(id) {
		return fmt.Errorf("%w: session_id %s must look like retry_<unix seconds>_<digits>, as retry_1764000000_123456",
			ErrBadID, quote(id))
	}
	return nil
}

// ValidateOperationID checks an operation id given by a caller: letters, digits, '.', '_' and
// '-' (state.SafeName), as NewOperationID makes them.
func ValidateOperationID(id string) error {
	if !state.SafeName(id) || len(id) > 100 {
		return fmt.Errorf("%w: operation_id %s may hold only letters, digits, '.', '_' and '-' (at most 100), as vmware_vm_create_1764000000_123456",
			ErrBadID, quote(id))
	}
	return nil
}

// quote quotes s for an error message, cut so that a long value does not flood the output.
func quote(s string) string {
	if len(s) > 80 {
		s = s[:80] + "..."
	}
	return strconv.Quote(s)
}

// NewID returns a new session id, "retry_<unix seconds>_<6 random digits>". The digits come from
// crypto/rand: sessions started in the same second on different controllers do not collide in
// practice.
func NewID(now time.Time) string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("retry_%d_%06d", now.Unix(), binary.BigEndian.Uint64(b[:])%1000000)
}

// Files names the files of a state directory. A plain value: safe for concurrent use.
type Files struct{ Dir string }

// Session is the session file (the head) of id; id must be valid.
func (f Files) Session(id string) string { return filepath.Join(f.Dir, headName(id)) }

// Parts is the parts directory of session id.
func (f Files) Parts(id string) string { return filepath.Join(f.Dir, partsName(id)) }

// headName, lockName and partsName are the names of a session's head, lock and parts directory in
// the state directory.
func headName(id string) string  { return "retry_session_" + id + ".json" }
func lockName(id string) string  { return headName(id) + ".lock" }
func partsName(id string) string { return "retry_session_" + id + ".d" }

// Performance is the performance metrics file of session id.
func (f Files) Performance(id string) string {
	return filepath.Join(f.Dir, "retry_performance_"+id+".json")
}

// ErrorLog is the error log of session id.
func (f Files) ErrorLog(id string) string {
	return filepath.Join(f.Dir, "retry_session_error_"+id+".json")
}

// Attempt is the per-attempt log of attempt n of operation opID; opID must be valid.
func (f Files) Attempt(opID string, n int) string {
	return filepath.Join(f.Dir, fmt.Sprintf("attempt_%s_%d.json", opID, n))
}

// Session is a session as the users' reports show it: the "Session Statistics" of the role's
// documentation and its operations. The head file holds it without the operations; composed
// (Store.Load, Store.Compose), the operations come host by host (in the order of their host keys),
// each host's in the order they were recorded. A format-1 file holds the operations too. A plain
// value: not safe for concurrent mutation.
type Session struct {
	FormatVersion int    `json:"format_version"`
	SessionID     string `json:"session_id"`
	// SessionStart is when the session was created, SessionEnd when it was last finalized (RFC
	// 3339, UTC, to the millisecond; whole seconds print without a fraction).
	SessionStart string `json:"session_start"`
	SessionEnd   string `json:"session_end,omitempty"`
	// SessionDuration is SessionEnd - SessionStart in seconds, set when finalized.
	SessionDuration float64 `json:"session_duration"`
	SessionStatus   Status  `json:"session_status"`
	// CallStackSessionID is the call_stack_session_id of the first context that had one, for
	// correlation with the call stack of the run.
	CallStackSessionID string             `json:"call_stack_session_id,omitempty"`
	Context            map[string]any     `json:"context,omitempty"`
	Operations         []record.Operation `json:"operations"`
	// FinalStatistics and Alerts are set when the session is finalized.
	FinalStatistics *Statistics `json:"final_statistics,omitempty"`
	Alerts          []Alert     `json:"alerts"`
	// Delivered lists what was delivered to external systems, so that it is not delivered again:
	// the breach groups whose alert a host claimed (export.AlertKey), and "<metrics key>/<system>"
	// for the metrics a system received (see Store.Claim and Store.MarkDelivered). The oldest
	// entries beyond MaxDelivered are dropped.
	Delivered []string `json:"delivered,omitempty"`
	// Finalizing is set by a finalize while it reads the parts; a record that finds it set clears
	// it (and makes the session active), so that the finalize knows that operations came in
	// meanwhile and does not mark the session finalized.
	Finalizing string `json:"finalizing,omitempty"`
	UpdatedAt  string `json:"updated_at"`
}

// Operation returns the operation with id, or nil.
func (s *Session) Operation(id string) *record.Operation {
	for i := range s.Operations {
		if s.Operations[i].OperationID == id {
			return &s.Operations[i]
		}
	}
	return nil
}

// Put replaces the operation with op's id, or appends op.
func (s *Session) Put(op record.Operation) {
	if cur := s.Operation(op.OperationID); cur != nil {
		*cur = op
		return
	}
	s.Operations = append(s.Operations, op)
}

// Summary is the "Session Statistics" object of the users' reports and of the
// retry_session_statistics artifact.
type Summary struct {
	SessionID          string      `json:"session_id"`
	SessionStart       string      `json:"session_start"`
	SessionEnd         string      `json:"session_end"`
	SessionDuration    float64     `json:"session_duration"`
	SessionStatus      Status      `json:"session_status"`
	CallStackSessionID string      `json:"call_stack_session_id,omitempty"`
	FinalStatistics    *Statistics `json:"final_statistics"`
	Alerts             []Alert     `json:"alerts"`
}

// Summary returns the session's summary.
func (s *Session) Summary() Summary {
	alerts := s.Alerts
	if alerts == nil {
		alerts = []Alert{}
	}
	return Summary{SessionID: s.SessionID, SessionStart: s.SessionStart, SessionEnd: s.SessionEnd,
		SessionDuration: s.SessionDuration, SessionStatus: s.SessionStatus, CallStackSessionID: s.CallStackSessionID,
		FinalStatistics: s.FinalStatistics, Alerts: alerts}
}
