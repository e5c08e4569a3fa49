// Package record is the one model of a retried operation and its attempts: the operation object
// of the users' reports, of retry_manager's results, of the session files and of the AAP
// artifacts. The retry engine (package retry) produces outcomes; FromOutcome turns one into a
// record. The session actions, whose attempts run elsewhere (the retry_manager role's tasks),
// build records attempt by attempt. Sessions (package session) store records as they are.
//
// A record holds its times as the text the reports show and its durations in seconds, so what is
// read back from a file is what was written. Its fields are plain strings, not the typed values of
// package retry: action record decodes a user's registered result into an Operation, and the
// messages of that decoding name the field's Go type.
package record

import (
	"strings"
	"time"

	"resilience.ops/internal/retry"
)

// The statuses of an operation (Operation.Status).
const (
	Running   = "running"             // attempts are being recorded (the session actions)
	Completed = retry.StatusCompleted // an attempt succeeded, or the idempotency check found the effect
	Failed    = retry.StatusFailed    // retrying stopped without success
	Planned   = "planned"             // check mode: nothing ran, the schedule was planned
)

// The statuses of an attempt (Attempt.Status).
const (
	AttemptSuccess = "success"
	AttemptFailed  = "failed"
)

// Operation is one retried operation: the operation record of the users' reports, with the host
// it ran for. Attempts are in order. A plain value: not safe for concurrent mutation.
type Operation struct {
	OperationID   string    `json:"operation_id"`
	OperationName string    `json:"operation_name"`
	SessionID     string    `json:"session_id"`
	Host          string    `json:"host,omitempty"`
	StartTime     string    `json:"start_time"`
	EndTime       string    `json:"end_time"`
	Status        string    `json:"status"` // Running, Completed, Failed or Planned
	AttemptCount  int       `json:"attempt_count"`
	MaxAttempts   int       `json:"max_attempts"`
	ExecutionTime float64   `json:"execution_time"` // seconds from the first attempt's start to the last one's end
	Attempts      []Attempt `json:"attempts"`
	// StopReason is set when the operation ended.
	StopReason string `json:"stop_reason,omitempty"` // a retry.StopReason
	// ErrorType is the type of the failure that ended a failed operation. It differs from the
	// last attempt's when a guardrail ended it: circuit_open or bulkhead_full when an attempt was
	// refused (before the first, an operation has no attempt at all), retry_budget_exhausted
	// when a retry was refused.
	ErrorType string         `json:"error_type,omitempty"` // a retry.ErrorType
	Context   map[string]any `json:"context,omitempty"`    // the caller's operation context
}

// Finished reports whether the operation ended (completed or failed).
func (o *Operation) Finished() bool { return o.Status == Completed || o.Status == Failed }

// RetryCount is the number of retries: attempts after the first.
func (o *Operation) RetryCount() int { return max(o.AttemptCount-1, 0) }

// LastErrorType is the type of the failure that ended the operation: a guardrail's refusal
// (ErrorType) when one stopped it, else the last attempt's; "" when none failed.
func (o *Operation) LastErrorType() string {
	if o.ErrorType != "" {
		return o.ErrorType
	}
	if n := len(o.Attempts); n > 0 && o.Attempts[n-1].ErrorType != nil {
		return *o.Attempts[n-1].ErrorType
	}
	return ""
}

// Attempt is one attempt: when it ran, how it ended, and the decision taken after it.
type Attempt struct {
	AttemptNumber int    `json:"attempt_number"`
	StartTime     string `json:"start_time"`
	EndTime       string `json:"end_time"`
	Status        string `json:"status"` // AttemptSuccess or AttemptFailed
	// ErrorType (a retry.ErrorType) and ErrorMessage (retry.Failure.Summary) are null on success.
	ErrorType    *string `json:"error_type"`
	ErrorMessage *string `json:"error_message"`
	// ShouldRetry says a retry was decided after this attempt, DelayBeforeRetry (seconds) the wait
	// before it; 0 when there is none.
	ShouldRetry      bool    `json:"should_retry"`
	DelayBeforeRetry float64 `json:"delay_before_retry"`
	ExecutionTime    float64 `json:"execution_time"` // seconds
	// FailedTask names the failed task when the attempt ran as Ansible tasks.
	FailedTask string `json:"failed_task,omitempty"`
	// Evidence says how the failure was classified (debug_mode only).
	Evidence *retry.Evidence `json:"evidence,omitempty"`
}

// FromOutcome is the record of outcome o of the engine for operation name in session
// sessionID, with id (see NewOperationID). Its times are to the second, as the users' reports
// have them. Each attempt keeps its evidence: clear it outside debug_mode (o is not changed).
func FromOutcome(id, name, sessionID string, o retry.Outcome) Operation {
	attempts := make([]Attempt, 0, len(o.Attempts))
	for _, a := range o.Attempts {
		attempts = append(attempts, FromAttempt(a))
	}
	return Operation{
		OperationID:   id,
		OperationName: name,
		SessionID:     sessionID,
		StartTime:     Second(o.Start),
		EndTime:       Second(o.End),
		Status:        o.Status(),
		AttemptCount:  len(o.Attempts),
		MaxAttempts:   o.MaxAttempts,
		ExecutionTime: o.End.Sub(o.Start).Seconds(),
		Attempts:      attempts,
		StopReason:    string(o.Reason),
	}
}

// FromAttempt is the record of one attempt of the engine, its times to the second.
func FromAttempt(a retry.Attempt) Attempt {
	r := Attempt{
		AttemptNumber:    a.Number,
		StartTime:        Second(a.Start),
		EndTime:          Second(a.End),
		Status:           AttemptFailed,
		ShouldRetry:      a.ShouldRetry,
		DelayBeforeRetry: a.DelayBeforeRetry.Seconds(),
		ExecutionTime:    a.ExecutionTime().Seconds(),
		Evidence:         a.Evidence,
	}
	if a.Succeeded {
		r.Status = AttemptSuccess
	} else {
		typ, msg := string(a.ErrorType), a.ErrorMessage
		r.ErrorType, r.ErrorMessage = &typ, &msg
	}
	return r
}

// Second formats t as RFC 3339 in UTC to the second, as the users' reports do:
// "2023-12-01T10:05:30Z".
func Second(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// Timestamp formats t in UTC as RFC 3339 to the millisecond, as "2023-12-01T10:05:30.250Z";
// whole seconds have no fraction, as "2023-12-01T10:05:30Z" in the users' reports. Sessions keep
// their times so.
func Timestamp(t time.Time) string {
	t = t.UTC().Truncate(time.Millisecond)
	if t.Nanosecond() == 0 {
		return t.Format(time.RFC3339)
	}
	return t.Format("2006-01-02T15:04:05.000Z07:00")
}

// ParseTimestamp parses an RFC 3339 time as Timestamp and Second write it.
func ParseTimestamp(s string) (time.Time, error) { return time.Parse(time.RFC3339Nano, s) }

// maxNameInID bounds the part of an operation id that comes from the operation's name.
const maxNameInID = 64

// FileSafeName turns an operation name into the part of an operation id that is safe in file
// names: characters other than letters, digits, '.', '_' and '-' become '_', and it is cut to 64
// bytes. "vmware_vm_create" is kept as it is.
func FileSafeName(name string) string {
	var b strings.Builder
	for _, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '-', r == '.':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
		if b.Len() >= maxNameInID {
			break
		}
	}
	s := strings.TrimLeft(b.String(), ".")
	if s == "" {
		s = "operation"
	}
	return s
}

// NewOperationID returns "<file-safe name>_<unix seconds>_<6 random digits>", as
// "vmware_vm_create_1640995200_789012"; rnd as for retry.NewOperationID.
func NewOperationID(name string, now time.Time, rnd func() float64) string {
	return retry.NewOperationID(FileSafeName(name), now, rnd)
}
