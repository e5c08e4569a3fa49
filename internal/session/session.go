// Package session keeps retry sessions: the operations of one run (a play, a job template, a
// workflow), the attempts of each, and the statistics, alerts and retention that reports and AAP
// artifacts use.
//
// A session lives in a state directory (DefaultDir unless configured) as a few JSON files:
//
//	retry_session_<id>.json        the session and its operations (Session)
//	attempt_<operation_id>_<n>.json one attempt, when per-attempt logs are on (Attempt)
//	retry_performance_<id>.json     metrics written when the session is finalized (Performance)
//	retry_session_error_<id>.json   the operations that failed (ErrorLog)
//
// Every file is written atomically with mode 0600, in a directory created 0700 (package state).
// Updates of one file are serialised by an exclusive lock on `<file>.lock`, so any number of
// hosts, forks and processes can record into one session at once without losing an update.
// Retention may gzip a file to `<file>.gz`; readers and writers fall back to it transparently.
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

// FormatVersion is the format_version of the session files this package writes.
const FormatVersion = 1

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

// Session is the session file of id; id must be valid.
func (f Files) Session(id string) string { return filepath.Join(f.Dir, "retry_session_"+id+".json") }

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

// Session is the content of a session file. Session ("Session Statistics" in the role's
// documentation) keeps its operations in the order they were first recorded. A plain value: not
// safe for concurrent mutation.
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
	UpdatedAt string   `json:"updated_at"`
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
