package manager

import (
	"fmt"
	"math"
	"time"

	"resilience.ops/internal/record"
	"resilience.ops/internal/retry"
	"resilience.ops/internal/session"
)

// Outcome is what one attempt that ran elsewhere (the role's tasks) observed.
type Outcome struct {
	Failed  bool
	Failure retry.Failure // when Failed
	// RetryAfter is the wait the remote side asked for (its Retry-After header); 0 for none.
	RetryAfter time.Duration
	Task       string // the failed task
}

// RecordRequest is action record: record attempt Attempt (0: not given) of operation Name, which
// ran elsewhere and observed Outcome, in session SessionID; decide, as the engine does, whether
// and when to retry.
type RecordRequest struct {
	Common
	SessionID   string
	Name        string
	OperationID string // the operation attempt 1 returned; "" records a new operation
	Attempt     int
	// Now is when the attempt is recorded, its end (a Retry-After date was counted from it);
	// the zero time means the clock's now.
	Now time.Time
	// AttemptStart is when the attempt started, in Unix seconds; nil means now.
	AttemptStart *float64
	Outcome      Outcome
	Settings     Settings
	Classifier   *retry.Classifier
	Guard        *GuardConfig
}

// RecordResult is the result of action record: the operation as recorded, and the decision.
type RecordResult struct {
	record.Operation
	ErrorType     string   `json:"error_type"`
	ShouldRetry   bool     `json:"should_retry"`
	Delay         float64  `json:"delay"`
	NextAttempt   int      `json:"next_attempt"`
	PolicySources []string `json:"policy_sources"`
	SessionFile   string   `json:"session_file"`
	GuardReport
}

// recording is what one record action decided, under the session's lock.
type recording struct {
	rec      record.Operation
	decision retry.StopReason
	typ      retry.ErrorType
	refused  string // why a guardrail stopped the retries
}

// Record is action record.
func Record(req RecordRequest, env Env) (Reply, error) {
	env = env.withDefaults()
	now := req.Now
	if now.IsZero() {
		now = env.Clock.Now()
	}
	gr, pol, err := startGuardRun(req.Guard, req.Settings.Policy, req.CheckMode, env)
	if err != nil {
		return Reply{}, err
	}
	start := now
	if req.AttemptStart != nil {
		sec, frac := math.Modf(*req.AttemptStart)
		start = time.Unix(int64(sec), int64(frac*1e9))
		if start.After(now) { // the controller's clock and this host's differ a little
			start = now
		}
	}
	if req.OperationID != "" {
		if err := session.ValidateOperationID(req.OperationID); err != nil {
			return Reply{}, err
		}
	}
	st := newStore(req.Common, env)
	var r recording
	opID := req.OperationID
	r.rec, err = st.UpdateOperation(req.SessionID, req.Host, req.Context, func(lookup session.Lookup) (record.Operation, []session.ErrorEntry, error) {
		o, err := operationFor(req.Common, lookup, req.SessionID, &opID, req.Name, req.Attempt, start)
		if err != nil {
			return record.Operation{}, nil, err
		}
		r = recordAttempt(req, o, pol, gr, start, now, env)
		return *o, errorEntries(o, now), nil
	})
	if err != nil {
		return Reply{}, err
	}
	if err := logAttemptFiles(st, req, &r.rec); err != nil {
		return Reply{}, err
	}
	return recordReply(req, gr, r, st, env), nil
}

// recordAttempt adds the attempt to operation o and decides what follows it.
func recordAttempt(req RecordRequest, o *record.Operation, pol retry.Policy, gr *guardRun, start, now time.Time, env Env) recording {
	var r recording
	oc := req.Outcome
	n := o.AttemptCount + 1
	opStart, err := record.ParseTimestamp(o.StartTime)
	if err != nil {
		opStart = start
	}
	a := record.Attempt{AttemptNumber: n, StartTime: record.Timestamp(start), EndTime: record.Timestamp(now),
		Status: record.AttemptSuccess, ExecutionTime: secondsOf(now.Sub(start)), FailedTask: oc.Task}
	if !oc.Failed {
		a.FailedTask = ""
		o.Status, o.StopReason, r.decision = record.Completed, string(retry.StopSucceeded), retry.StopSucceeded
		if gr != nil {
			gr.record("", true)
		}
	} else {
		r.decide(req, o, &a, pol, gr, opStart, now, env)
	}
	o.Attempts = append(o.Attempts, a)
	o.AttemptCount, o.MaxAttempts, o.EndTime = n, pol.MaxAttempts, record.Timestamp(now)
	o.ExecutionTime = secondsOf(now.Sub(opStart))
	return r
}

// decide classifies the failed attempt a of o and decides, as the engine does (Policy.Decide,
// then the retry budget), whether and when to retry.
func (r *recording) decide(req RecordRequest, o *record.Operation, a *record.Attempt, pol retry.Policy, gr *guardRun,
	opStart, now time.Time, env Env) {
	var ev retry.Evidence
	r.typ, ev = req.Classifier.Classify(req.Outcome.Failure)
	summary := req.Outcome.Failure.Summary()
	t := string(r.typ)
	a.Status, a.ErrorType, a.ErrorMessage = record.AttemptFailed, &t, &summary
	if req.Debug {
		a.Evidence = &ev
	}
	var prev time.Duration
	if k := len(o.Attempts); k > 0 {
		prev = durationOf(o.Attempts[k-1].DelayBeforeRetry)
	}
	var deadline time.Time
	if pol.MaxTotalTime > 0 {
		deadline = opStart.Add(pol.MaxTotalTime)
	}
	var delay time.Duration
	r.decision, delay = pol.Decide(a.AttemptNumber, r.typ, prev, req.Outcome.RetryAfter, now, deadline, env.Rand)
	if gr != nil {
		gr.record(r.typ, pol.ShouldRetry(r.typ))
		if r.decision == "" {
			if f := gr.allowRetry(); f != nil {
				r.decision, r.refused = retry.StopRejected, f.Message
				o.ErrorType = string(retry.RetryBudgetExhausted)
			}
		}
	}
	if r.decision == "" {
		a.ShouldRetry, a.DelayBeforeRetry = true, delay.Seconds()
		return
	}
	o.Status, o.StopReason = record.Failed, string(r.decision)
	if o.ErrorType == "" {
		o.ErrorType = t
	}
}

// logAttemptFiles writes the attempt's own file, when asked. (A failed operation's entry of the
// error log is recorded with it: see errorEntries.)
func logAttemptFiles(st *session.Store, req RecordRequest, rec *record.Operation) error {
	if !req.LogEach {
		return nil
	}
	return st.WriteAttempt(req.SessionID, rec, rec.Attempts[len(rec.Attempts)-1])
}

// errorEntries is the error log entry of operation op when it failed, recorded with it at now.
func errorEntries(op *record.Operation, now time.Time) []session.ErrorEntry {
	if op.Status != record.Failed {
		return nil
	}
	return []session.ErrorEntry{session.ErrorEntryOf(op, now)}
}

// recordReply is the reply of action record, with a message that says what follows the attempt.
func recordReply(req RecordRequest, gr *guardRun, r recording, st *session.Store, env Env) Reply {
	rec := r.rec
	last := rec.Attempts[len(rec.Attempts)-1]
	ret := RecordResult{Operation: rec, ErrorType: string(r.typ), ShouldRetry: last.ShouldRetry, Delay: last.DelayBeforeRetry,
		PolicySources: req.Settings.Sources, SessionFile: st.Files().Session(req.SessionID)}
	if r.refused != "" {
		ret.ErrorType = string(retry.RetryBudgetExhausted)
	}
	if gr != nil {
		ret.GuardReport = gr.report()
		gr.warnAll(env)
	}
	name, n := req.Name, rec.AttemptCount
	var msg string
	switch {
	case !req.Outcome.Failed:
		msg = fmt.Sprintf("%s: attempt %d of %d succeeded", name, n, rec.MaxAttempts)
	case r.refused != "":
		msg = refusal(name, retry.RetryBudgetExhausted, n, rec.MaxAttempts, string(r.typ), r.refused)
	case last.ShouldRetry:
		ret.NextAttempt = n + 1
		msg = fmt.Sprintf("%s: attempt %d of %d failed with %s; attempt %d follows in %s s: %s", name, n, rec.MaxAttempts, r.typ,
			n+1, fmtSeconds(last.DelayBeforeRetry), *last.ErrorMessage)
	default:
		msg = stopMessage(name, r.decision, r.typ, n, rec.MaxAttempts, *last.ErrorMessage)
	}
	if req.CheckMode {
		msg = checkMsg(true, msg)
	} else {
		env.logf("retry %s", msg) // the attempt's error type and the delay before the next one
	}
	return Reply{Changed: true, Msg: msg, Data: ret}
}

// newOperation returns a new operation of name in session id, started at start, for attempt given
// (0: not given): only attempt 1 starts an operation, except in check mode, where the earlier
// attempts of an operation with id *opID were not written. *opID is set to its id when empty.
func newOperation(c Common, id string, opID *string, name string, given int, start time.Time) (*record.Operation, error) {
	done := 0
	if given > 1 {
		if *opID == "" || !c.CheckMode {
			return nil, fmt.Errorf("attempt %d of operation %s cannot be recorded: session %s has no operation %q with earlier attempts "+
				"(give the operation_id that attempt 1 returned)", given, name, id, *opID)
		}
		done = given - 1 // check mode: the earlier attempts were not written
	}
	if *opID == "" {
		// Its own random source: Env.Rand draws the jitter, as in the engine.
		*opID = record.NewOperationID(name, start, nil)
	}
	return &record.Operation{OperationID: *opID, OperationName: name, SessionID: id,
		Host: c.Host, StartTime: record.Timestamp(start), Status: record.Running, AttemptCount: done,
		Attempts: []record.Attempt{}, Context: c.Context}, nil
}
