package manager

import (
	"context"
	"fmt"

	"resilience.ops/internal/record"
	"resilience.ops/internal/resilience"
	"resilience.ops/internal/retry"
	"resilience.ops/internal/session"
)

// AdmitRequest is action admit: ask the circuit breaker of Guard (nil: no guardrail is enabled)
// whether attempt Attempt of operation Name, which runs elsewhere (the role's tasks files), may
// run. Settings resolves the operation's retry settings; it is called only when the breaker
// refuses, to record the operation with its max_attempts.
type AdmitRequest struct {
	Common
	SessionID   string
	Name        string
	OperationID string
	Attempt     int
	Guard       *GuardConfig
	Settings    func() (Settings, error)
}

// AdmitResult is the result of action admit when the attempt may run.
type AdmitResult struct {
	Admitted bool `json:"admitted"`
	GuardReport
}

// RefusedResult is the result of action admit when the circuit breaker refused the attempt: the
// operation, ended with circuit_open, as recorded.
type RefusedResult struct {
	Admitted bool `json:"admitted"`
	RecordResult
}

// bulkheadNotApplied says why action admit does not apply the bulkhead.
const bulkheadNotApplied = "a bulkhead slot is held by the process that runs the attempt; the tasks of a tasks file run " +
	"in other processes than the module, so they are not bounded by it (bound them with the play's forks, throttle or serial)"

// Admit is action admit. A refusal ends the operation in the session with circuit_open, without
// an attempt, so that the role does not run the tasks. The half-open trial slot cannot be held
// while other processes run the attempt: every attempt admitted while half-open is a trial, and
// the first result recorded decides.
func Admit(req AdmitRequest, env Env) (Reply, error) {
	env = env.withDefaults()
	gc, name := req.Guard, req.Name
	if gc == nil || !gc.Settings.CircuitBreaker.Enabled {
		ret := AdmitResult{Admitted: true}
		if gc != nil {
			ret.CircuitKey = gc.Key
		}
		return Reply{Msg: fmt.Sprintf("%s: no circuit breaker is enabled: the attempt may run", name), Data: ret}, nil
	}
	s := *gc
	bulkhead := s.Settings.Bulkhead.Enabled
	s.Settings.Bulkhead.Enabled = false
	g, err := newGuardrails(&s, req.CheckMode, env)
	if err != nil {
		return Reply{}, err
	}
	gr := newGuardRun(g, s.Key)
	f := gr.admit(context.Background())
	gr.release() // the attempt runs in other processes: nothing can be held for it
	rep := gr.report()
	if bulkhead {
		rep.Bulkhead = BulkheadJSON{BulkheadReport: resilience.BulkheadReport{Enabled: true,
			MaxConcurrent: gc.Settings.Bulkhead.MaxConcurrent, MaxWait: gc.Settings.Bulkhead.MaxWait.Seconds()},
			NotApplied: bulkheadNotApplied}
		if req.Attempt <= 1 {
			env.warnf("%s: the bulkhead does not apply to tasks files: %s", name, bulkheadNotApplied)
		}
	}
	gr.warnAll(env)
	if f == nil {
		prefix := ""
		if req.CheckMode {
			prefix = checkPrefix
		}
		state := "closed"
		if gr.breaker != nil {
			state = string(gr.breaker.State)
		}
		return Reply{Changed: len(gr.transitions) > 0 && !req.CheckMode, Data: AdmitResult{Admitted: true, GuardReport: rep},
			Msg: fmt.Sprintf("%s%s: circuit breaker %q is %s: the attempt may run", prefix, name, s.Key, state)}, nil
	}
	return recordRefusal(req, f, rep, env)
}

// recordRefusal ends the operation of action admit with the guardrail's refusal f.
func recordRefusal(req AdmitRequest, f *retry.Failure, rep GuardReport, env Env) (Reply, error) {
	settings, err := req.Settings()
	if err != nil {
		return Reply{}, err
	}
	pol := settings.Policy
	opID := req.OperationID
	if opID != "" {
		if err := session.ValidateOperationID(opID); err != nil {
			return Reply{}, err
		}
	}
	now := env.Clock.Now()
	st := newStore(req.Common, env)
	rec, err := st.UpdateOperation(req.SessionID, req.Host, req.Context, func(lookup session.Lookup) (record.Operation, []session.ErrorEntry, error) {
		o, err := operationFor(req.Common, lookup, req.SessionID, &opID, req.Name, req.Attempt, now)
		if err != nil {
			return record.Operation{}, nil, err
		}
		opStart, err := record.ParseTimestamp(o.StartTime)
		if err != nil {
			opStart = now
		}
		o.Status, o.StopReason, o.ErrorType = record.Failed, string(retry.StopRejected), string(f.Type)
		o.MaxAttempts, o.EndTime, o.ExecutionTime = pol.MaxAttempts, record.Timestamp(now), secondsOf(now.Sub(opStart))
		entry := session.ErrorEntryOf(o, now)
		entry.ErrorMessage = f.Summary()
		return *o, []session.ErrorEntry{entry}, nil
	})
	if err != nil {
		return Reply{}, err
	}
	last := ""
	if n := len(rec.Attempts); n > 0 && rec.Attempts[n-1].ErrorType != nil {
		last = *rec.Attempts[n-1].ErrorType
	}
	msg := refusal(req.Name, f.Type, rec.AttemptCount, rec.MaxAttempts, last, f.Summary())
	ret := RefusedResult{RecordResult: RecordResult{Operation: rec, ErrorType: string(f.Type), PolicySources: settings.Sources,
		SessionFile: st.Files().Session(req.SessionID), GuardReport: rep}}
	return Reply{Changed: true, Msg: checkMsg(req.CheckMode, msg), Data: ret}, nil
}
