package retry

import (
	"fmt"
	"time"
)

// StopReason says why the engine stopped retrying: the stop_reason of the
// operation record. The set is closed (see [StopReasons]). A string value:
// safe for concurrent use.
type StopReason string

// The stop reasons.
const (
	StopSucceeded         StopReason = "succeeded"           // an attempt succeeded
	StopAlreadyDone       StopReason = "already_done"        // the BeforeRetry hook found the effect present: a success
	StopNonRetryable      StopReason = "non_retryable_error" // the failure's type is not retried
	StopAttemptsExhausted StopReason = "attempts_exhausted"  // max_attempts attempts ran
	StopDeadlineExceeded  StopReason = "deadline_exceeded"   // max_total_time (or ctx's deadline) left no time for another attempt
	StopCancelled         StopReason = "cancelled"           // ctx was cancelled
	// StopRejected: a guardrail refused to let an attempt run (see [WithGate]): the circuit
	// breaker is open (circuit_open), the bulkhead is full (bulkhead_full) or the retry budget is
	// spent (retry_budget_exhausted); the type of the last failure says which. Also the stop
	// after an attempt that failed with a reserved type.
	StopRejected StopReason = "rejected"
)

// StopReasons returns every stop reason, for documentation and tests.
func StopReasons() []StopReason {
	return []StopReason{StopSucceeded, StopAlreadyDone, StopNonRetryable, StopAttemptsExhausted, StopDeadlineExceeded, StopCancelled, StopRejected}
}

// Succeeded reports whether r ends a run successfully.
func (r StopReason) Succeeded() bool { return r == StopSucceeded || r == StopAlreadyDone }

// Outcome is the result of [Engine.Do]: why it stopped, every attempt, and
// the last failure. A plain value: safe for concurrent use as long as nobody
// modifies it.
type Outcome struct {
	Reason StopReason
	// Attempts has one entry per attempt that ran, in order; it is empty
	// when ctx was done before the first.
	Attempts []Attempt
	// MaxAttempts is the policy's max_attempts, for the record.
	MaxAttempts int
	// LastFailure is the failure of the last attempt that ran (with TimedOut
	// set by the engine if the attempt ran out of time) and LastType its
	// type; nil and "" when that attempt succeeded or none ran. After
	// already_done they describe the failure before the hook's check. After
	// rejected they are the gate's refusal (see [WithGate]), which is not in
	// Attempts: the attempt did not run.
	LastFailure *Failure
	LastType    ErrorType
	// Start and End bound the run, from the engine's clock.
	Start, End time.Time
}

// Succeeded reports whether the run ended in success (succeeded or already_done).
func (o Outcome) Succeeded() bool { return o.Reason.Succeeded() }

// The statuses of a finished run, as the operation records show them (package record adds the
// statuses of operations that are still running or only planned).
const (
	StatusCompleted = "completed"
	StatusFailed    = "failed"
)

// Status is the status of the run's record: StatusCompleted or StatusFailed.
func (o Outcome) Status() string {
	if o.Succeeded() {
		return StatusCompleted
	}
	return StatusFailed
}

// Err returns nil when the run succeeded, else a *StopError.
func (o Outcome) Err() error {
	if o.Succeeded() {
		return nil
	}
	return &StopError{Reason: o.Reason, Attempts: len(o.Attempts), Type: o.LastType, Failure: o.LastFailure}
}

// StopError is the error of a run that did not succeed: why it stopped and
// the last failure. It unwraps to the last failure's Err, so errors.Is and
// errors.As see the underlying Go error. Not modified after creation: safe
// for concurrent use.
type StopError struct {
	Reason   StopReason
	Attempts int
	Type     ErrorType // "" when no attempt failed
	Failure  *Failure  // nil when no attempt failed
}

func (e *StopError) Error() string {
	s := fmt.Sprintf("retry stopped (%s) after %d attempt", e.Reason, e.Attempts)
	if e.Attempts != 1 {
		s += "s"
	}
	if e.Failure != nil {
		s += fmt.Sprintf(": %s: %s", e.Type, e.Failure.Summary())
	}
	return s
}

func (e *StopError) Unwrap() error {
	if e.Failure == nil {
		return nil
	}
	return e.Failure.Err
}

// Attempt is one attempt as the engine ran it: passed to [WithOnAttempt] and kept in
// [Outcome.Attempts]. Package record turns it into the attempt of the users' reports. A plain
// value: safe for concurrent use as long as nobody modifies it.
type Attempt struct {
	Number     int
	Start, End time.Time
	Succeeded  bool
	// ErrorType and ErrorMessage ([Failure.Summary]) are empty on success.
	ErrorType    ErrorType
	ErrorMessage string
	// ShouldRetry says the engine decided to retry after this attempt and
	// started the wait (which cancellation may have cut short).
	ShouldRetry bool
	// DelayBeforeRetry is the planned wait after this attempt, before the
	// next one; 0 when there is none.
	DelayBeforeRetry time.Duration
	// Evidence says how the failure was classified; nil on success.
	Evidence *Evidence
}

// ExecutionTime is how long the attempt ran.
func (a Attempt) ExecutionTime() time.Duration { return a.End.Sub(a.Start) }

// operationIDDigits is how many random digits end an operation ID.
const operationIDDigits = 6

// NewOperationID returns "<name>_<unix seconds>_<6 random digits>", as
// "vmware_vm_create_1640995200_789012". rnd returns uniform values in [0, 1);
// nil means math/rand/v2.Float64. NewOperationID("retry", ...) gives a
// session ID of the same shape.
func NewOperationID(name string, now time.Time, rnd func() float64) string {
	const limit = 1_000_000 // 10^operationIDDigits
	n := min(int(draw(rnd)*limit), limit-1)
	return fmt.Sprintf("%s_%d_%0*d", name, now.Unix(), operationIDDigits, n)
}
