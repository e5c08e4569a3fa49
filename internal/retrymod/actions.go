package retrymod

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"resilience.ops/internal/duration"
	"resilience.ops/internal/module"
	"resilience.ops/internal/retry"
	"resilience.ops/internal/session"
	"resilience.ops/internal/state"
)

// The session actions: start, record, finalize, cleanup, compress and wait. They let the
// retry_manager role drive retries of arbitrary tasks: the role runs an attempt, the module
// records it, classifies its failure and decides (with the engine's own Policy.Decide) whether
// and when to retry.

// startReturn is the result of action start.
type startReturn struct {
	SessionID          string      `json:"session_id"`
	SessionFile        string      `json:"session_file"`
	SessionStart       string      `json:"session_start"`
	SessionStatus      string      `json:"session_status"`
	Created            bool        `json:"created"`
	CallStackSessionID string      `json:"call_stack_session_id,omitempty"`
	OperationCount     int         `json:"operation_count"`
	MaxAttempts        int         `json:"max_attempts,omitempty"`
	Policy             *policyJSON `json:"policy,omitempty"`
	PolicySources      []string    `json:"policy_sources,omitempty"`
	// Admission says the role must ask action admit before each attempt of a tasks file: the
	// operation's circuit breaker is enabled. CircuitKey is its key.
	Admission  bool   `json:"admission"`
	CircuitKey string `json:"circuit_key,omitempty"`
}

// policyJSON is a resolved policy in the units of the parameters.
type policyJSON struct {
	MaxAttempts       int      `json:"max_attempts"`
	RetryPolicy       string   `json:"retry_policy"`
	BaseDelay         float64  `json:"base_delay"`
	MaxDelay          float64  `json:"max_delay"`
	BackoffMultiplier float64  `json:"backoff_multiplier"`
	JitterEnabled     bool     `json:"jitter_enabled"`
	JitterMode        string   `json:"jitter_mode"`
	MaxTotalTime      float64  `json:"max_total_time"`
	AttemptTimeout    float64  `json:"attempt_timeout"`
	RetryConditions   []string `json:"retry_conditions"`
	RetryUnknown      bool     `json:"retry_unknown"`
}

func policyOf(p retry.Policy) *policyJSON {
	out := &policyJSON{MaxAttempts: p.MaxAttempts, RetryPolicy: string(p.RetryPolicy), BaseDelay: p.BaseDelay.Seconds(),
		MaxDelay: p.MaxDelay.Seconds(), BackoffMultiplier: p.BackoffMultiplier, JitterEnabled: p.JitterEnabled,
		JitterMode: string(p.JitterMode), MaxTotalTime: p.MaxTotalTime.Seconds(), AttemptTimeout: p.AttemptTimeout.Seconds(),
		RetryConditions: []string{}, RetryUnknown: p.RetryUnknown}
	for _, t := range p.RetryConditions {
		out.RetryConditions = append(out.RetryConditions, string(t))
	}
	return out
}

// recordReturn is the result of action record: the operation as recorded, and the decision.
type recordReturn struct {
	session.Operation
	ErrorType     string   `json:"error_type"`
	ShouldRetry   bool     `json:"should_retry"`
	Delay         float64  `json:"delay"`
	NextAttempt   int      `json:"next_attempt"`
	PolicySources []string `json:"policy_sources"`
	SessionFile   string   `json:"session_file"`
	guardReport
}

// finalizeReturn is the result of action finalize: the session statistics, its files, and
// bounded facts for the AAP artifacts (the first failures and their count, the hosts), whatever
// the session holds.
type finalizeReturn struct {
	session.Summary
	SessionFile     string               `json:"session_file"`
	PerformanceFile string               `json:"performance_file"`
	ErrorLogFile    string               `json:"error_log_file"`
	Hosts           int                  `json:"hosts"`
	FailureCount    int                  `json:"failure_count"`
	Failures        []session.ErrorEntry `json:"failures"`
}

// retentionReturn is the result of actions cleanup and compress.
type retentionReturn struct {
	Removed    []string             `json:"removed,omitempty"`
	Compressed []session.Compressed `json:"compressed,omitempty"`
}

// waitReturn is the result of action wait.
type waitReturn struct {
	Waited float64 `json:"waited"`
}

// newStore returns the store of the state directory; in check mode it writes nothing.
func newStore(ctx *module.Ctx, p module.Params, d deps) *session.Store {
	return &session.Store{Dir: p.Str("state_dir"), Now: d.now, DryRun: ctx.CheckMode}
}

// sessionID returns the session_id parameter, checked; required says it must be given.
func sessionID(p module.Params, required bool) (string, error) {
	id := p.Str("session_id")
	if id == "" {
		if required {
			return "", fmt.Errorf("parameter session_id: is required with action %s", p.Str("action"))
		}
		return "", nil
	}
	return id, session.ValidateID(id)
}

// handleStart creates or joins a session (action start). With an operation it also resolves and
// returns the operation's retry settings, so that callers know max_attempts before attempt 1.
func handleStart(ctx *module.Ctx, p module.Params, fromSettings bool, d deps) (module.Result, error) {
	id, err := sessionID(p, false)
	if err != nil {
		return module.Result{}, err
	}
	if id == "" {
		id = session.NewID(d.now())
	}
	ret := startReturn{}
	if p.Str("operation") != "" {
		pol, sources, err := resolvePolicy(p, fromSettings)
		if err != nil {
			return module.Result{}, err
		}
		ret.MaxAttempts, ret.Policy, ret.PolicySources = pol.MaxAttempts, policyOf(pol), sources
		gc, err := resolveGuardrails(p)
		if err != nil {
			return module.Result{}, err
		}
		if gc != nil {
			ret.CircuitKey, ret.Admission = gc.key, gc.settings.CircuitBreaker.Enabled
		}
	}
	// external_systems are used by the handlers at the end of the play: a mistake fails now.
	if _, err := parseSystems(p); err != nil {
		return module.Result{}, err
	}
	st := newStore(ctx, p, d)
	sess, created, changed, err := st.Start(id, p.Dict("context"))
	if err != nil {
		return module.Result{}, err
	}
	ret.SessionID, ret.SessionFile, ret.SessionStart = id, st.Files().Session(id), sess.SessionStart
	ret.SessionStatus, ret.Created, ret.CallStackSessionID = string(sess.SessionStatus), created, sess.CallStackSessionID
	ret.OperationCount = operationCount(&sess)
	msg := fmt.Sprintf("joined retry session %s (%d operations at its last finalize)", id, ret.OperationCount)
	if created {
		msg = fmt.Sprintf("started retry session %s in %s", id, st.Dir)
	}
	if ctx.CheckMode {
		msg = "check mode: " + msg + " (nothing written)"
	}
	return module.Result{Changed: changed, Msg: msg, Data: ret}, nil
}

// operationCount is what start reports as operation_count: the operations that the session's last
// finalize counted (finished and running), which its head keeps; joining never reads the
// operations, so that it costs the same whatever the session holds. A session written by an
// earlier version holds them in its file (check mode reads it as it is).
func operationCount(sess *session.Session) int {
	if len(sess.Operations) > 0 {
		return len(sess.Operations)
	}
	if s := sess.FinalStatistics; s != nil {
		return s.TotalOperations + s.RunningOperations
	}
	return 0
}

// attemptOutcome is what one attempt that ran elsewhere observed.
type attemptOutcome struct {
	failed     bool
	failure    retry.Failure
	retryAfter time.Duration
	task       string
}

// outcomeOf decodes the outcome parameter. Explicit keys (msg, stdout, stderr, rc, status,
// retry_after) win over what is found in result, the failed task's registered result
// (ansible_failed_result in a rescue section).
func outcomeOf(raw map[string]any, now time.Time) (attemptOutcome, error) {
	if raw == nil {
		return attemptOutcome{}, fmt.Errorf("parameter outcome: is required with action record (or give operation_result)")
	}
	dec, err := outcomeSpec.Decode(raw)
	if err != nil {
		return attemptOutcome{}, fmt.Errorf("outcome: %w", err)
	}
	o := attemptOutcome{failed: dec.Bool("failed"), task: dec.Str("task")}
	if !o.failed {
		return o, nil
	}
	f, retryAfter := failureFromResult(dec.Dict("result"), 0)
	if s := dec.Str("msg"); s != "" {
		f.Message = s
	}
	if s := dec.Str("stdout"); s != "" {
		f.Stdout = s
	}
	if s := dec.Str("stderr"); s != "" {
		f.Stderr = s
	}
	if dec.Has("rc") {
		rc := int(dec.Int("rc"))
		f.ExitCode = &rc
	}
	if dec.Has("status") {
		f.HTTPStatus = httpStatus(dec.Int("status"))
	}
	if dec.Has("retry_after") {
		retryAfter = dec.Str("retry_after")
	}
	if retryAfter != "" {
		o.retryAfter, _ = retry.ParseRetryAfter(retryAfter, now)
	}
	o.failure = f
	return o, nil
}

// httpStatus keeps real HTTP statuses: ansible.builtin.uri reports -1 when no response came.
func httpStatus(n int64) int {
	if n >= 100 && n <= 599 {
		return int(n)
	}
	return 0
}

// failureFromResult reads an Ansible task result: msg, stdout, stderr, rc, status (and the
// retry_after header that ansible.builtin.uri returns), and for a loop the first failed item's.
// It never fails: what is not understood is left out.
func failureFromResult(res map[string]any, depth int) (retry.Failure, string) {
	var f retry.Failure
	if res == nil {
		return f, ""
	}
	f.Message, f.Stdout, f.Stderr = text(res["msg"]), text(res["stdout"]), text(res["stderr"])
	if f.Message == "" {
		f.Message = text(res["reason"])
	}
	if n, ok := number(res["rc"]); ok {
		rc := int(n)
		f.ExitCode = &rc
	}
	if n, ok := number(res["status"]); ok {
		f.HTTPStatus = httpStatus(n)
	}
	retryAfter := text(res["retry_after"])
	if items, ok := res["results"].([]any); ok && depth == 0 {
		for _, it := range items {
			m, _ := it.(map[string]any)
			if failed, _ := m["failed"].(bool); !failed {
				continue
			}
			inner, ra := failureFromResult(m, depth+1)
			// A loop's own msg is "One or more items failed": the item says what went wrong.
			if inner.Message != "" {
				f.Message = inner.Message
			}
			if f.Stdout == "" {
				f.Stdout = inner.Stdout
			}
			if f.Stderr == "" {
				f.Stderr = inner.Stderr
			}
			if f.ExitCode == nil {
				f.ExitCode = inner.ExitCode
			}
			if f.HTTPStatus == 0 {
				f.HTTPStatus = inner.HTTPStatus
			}
			if retryAfter == "" {
				retryAfter = ra
			}
			break
		}
	}
	return f, retryAfter
}

// text turns a result value into text: strings as they are, lists of strings joined by newlines,
// anything else as JSON.
func text(v any) string {
	switch t := v.(type) {
	case nil:
		return ""
	case string:
		return t
	case []any:
		parts := make([]string, 0, len(t))
		for _, e := range t {
			parts = append(parts, text(e))
		}
		return strings.Join(parts, "\n")
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// number reads an integer from a JSON number or a numeric string.
func number(v any) (int64, bool) {
	switch t := v.(type) {
	case float64:
		if t == math.Trunc(t) && math.Abs(t) < 1<<53 {
			return int64(t), true
		}
	case string:
		if n, err := strconv.ParseInt(strings.TrimSpace(t), 10, 64); err == nil {
			return n, true
		}
	}
	return 0, false
}

// fmtSeconds formats seconds to the millisecond without trailing zeros: "0.1", "5", "2.25".
func fmtSeconds(f float64) string {
	return strconv.FormatFloat(math.Round(f*1000)/1000, 'f', -1, 64)
}

func secondsOf(d time.Duration) float64 { return math.Round(d.Seconds()*1000) / 1000 }

// durationOf is s seconds as a Duration: every conversion of the module's seconds goes through
// duration.FromSeconds, rounded to the nanosecond and never overflowing.
func durationOf(s float64) time.Duration { return duration.FromSeconds(s) }

// handleRecord records one attempt of an operation that ran elsewhere (action record), or a
// finished run of the module (operation_result), in the session.
func handleRecord(ctx *module.Ctx, p module.Params, fromSettings bool, d deps) (module.Result, error) {
	id, err := sessionID(p, true)
	if err != nil {
		return module.Result{}, err
	}
	if p.Has("operation_result") {
		return ingest(ctx, p, id, d)
	}
	if p.Has("operation_results") {
		return ingestAll(ctx, p, id, d)
	}
	if err := requireOperation(p); err != nil {
		return module.Result{}, err
	}
	now := d.now()
	oc, err := outcomeOf(p.Dict("outcome"), now)
	if err != nil {
		return module.Result{}, err
	}
	pol, sources, err := resolvePolicy(p, fromSettings)
	if err != nil {
		return module.Result{}, err
	}
	cls, err := classifier(p)
	if err != nil {
		return module.Result{}, err
	}
	gr, pol, err := startGuardRun(p, pol, ctx.CheckMode, d)
	if err != nil {
		return module.Result{}, err
	}
	start := now
	if p.Has("attempt_start") {
		sec, frac := math.Modf(p.Float("attempt_start"))
		start = time.Unix(int64(sec), int64(frac*1e9))
		if start.After(now) { // the controller's clock and this host's differ a little
			start = now
		}
	}
	opID := p.Str("operation_id")
	if opID != "" {
		if err := session.ValidateOperationID(opID); err != nil {
			return module.Result{}, err
		}
	}
	name, given := p.Str("operation"), int(p.Int("attempt"))
	st := newStore(ctx, p, d)
	var decision retry.StopReason
	var delay time.Duration
	var typ retry.ErrorType
	var refused string // why a guardrail stopped the retries
	rec, err := st.UpdateOperation(id, p.Str("host"), p.Dict("context"), func(lookup session.Lookup) (session.Operation, []session.ErrorEntry, error) {
		o, err := operationFor(ctx, p, lookup, id, &opID, name, given, start)
		if err != nil {
			return session.Operation{}, nil, err
		}
		n := o.AttemptCount + 1
		opStart, err := session.ParseTimestamp(o.StartTime)
		if err != nil {
			opStart = start
		}
		a := session.Attempt{AttemptNumber: n, StartTime: session.Timestamp(start), EndTime: session.Timestamp(now),
			Status: "success", ExecutionTime: secondsOf(now.Sub(start)), FailedTask: oc.task}
		if !oc.failed {
			a.FailedTask = ""
			o.Status, o.StopReason, decision = session.OpCompleted, string(retry.StopSucceeded), retry.StopSucceeded
		} else {
			var ev retry.Evidence
			typ, ev = cls.Classify(oc.failure)
			summary := oc.failure.Summary()
			t := string(typ)
			a.Status, a.ErrorType, a.ErrorMessage = "failed", &t, &summary
			if p.Bool("debug_mode") {
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
			decision, delay = pol.Decide(n, typ, prev, oc.retryAfter, now, deadline, d.rnd)
			if gr != nil {
				gr.record(typ, pol.ShouldRetry(typ))
				if decision == "" {
					if f := gr.allowRetry(); f != nil {
						decision, refused = retry.StopRejected, f.Message
						o.ErrorType = string(retry.RetryBudgetExhausted)
					}
				}
			}
			if decision == "" {
				a.ShouldRetry, a.DelayBeforeRetry = true, delay.Seconds()
			} else {
				o.Status, o.StopReason = session.OpFailed, string(decision)
				if o.ErrorType == "" {
					o.ErrorType = t
				}
			}
		}
		if !oc.failed && gr != nil {
			gr.record("", true)
		}
		o.Attempts = append(o.Attempts, a)
		o.AttemptCount, o.MaxAttempts, o.EndTime = n, pol.MaxAttempts, session.Timestamp(now)
		o.ExecutionTime = secondsOf(now.Sub(opStart))
		var errs []session.ErrorEntry
		if o.Status == session.OpFailed {
			errs = append(errs, session.ErrorEntryOf(o, now))
		}
		return *o, errs, nil
	})
	if err != nil {
		return module.Result{}, err
	}
	last := rec.Attempts[len(rec.Attempts)-1]
	if p.Bool("log_individual_attempts") {
		if err := st.WriteAttempt(id, &rec, last); err != nil {
			return module.Result{}, err
		}
	}
	ret := recordReturn{Operation: rec, ErrorType: string(typ), ShouldRetry: last.ShouldRetry, Delay: last.DelayBeforeRetry,
		PolicySources: sources, SessionFile: st.Files().Session(id)}
	if refused != "" {
		ret.ErrorType = string(retry.RetryBudgetExhausted)
	}
	if gr != nil {
		ret.guardReport = gr.report()
		for _, w := range gr.warnings {
			ctx.Warn("%s", w)
		}
	}
	n := rec.AttemptCount
	var msg string
	switch {
	case !oc.failed:
		msg = fmt.Sprintf("%s: attempt %d of %d succeeded", name, n, rec.MaxAttempts)
	case refused != "":
		msg = refusal(name, retry.RetryBudgetExhausted, n, rec.MaxAttempts, string(typ), refused)
	case last.ShouldRetry:
		ret.NextAttempt = n + 1
		msg = fmt.Sprintf("%s: attempt %d of %d failed with %s; attempt %d follows in %s s: %s", name, n, rec.MaxAttempts, typ,
			n+1, fmtSeconds(last.DelayBeforeRetry), *last.ErrorMessage)
	default:
		msg = stopMessage(name, decision, typ, n, rec.MaxAttempts, *last.ErrorMessage)
	}
	if ctx.CheckMode {
		msg = "check mode: " + msg + " (nothing written)"
	} else {
		ctx.Log("retry %s", msg) // the attempt's error type and the delay before the next one
	}
	return module.Result{Changed: true, Msg: msg, Data: ret}, nil
}

// ingest records a finished run of this module (its registered result) in the session.
func ingest(ctx *module.Ctx, p module.Params, id string, d deps) (module.Result, error) {
	op, err := operationOf(p.Dict("operation_result"), p)
	if err != nil {
		return module.Result{}, fmt.Errorf("parameter operation_result: %w", err)
	}
	st := newStore(ctx, p, d)
	op.SessionID = id
	if _, err := st.RecordOperation(id, op, errorEntries(&op, d)...); err != nil {
		return module.Result{}, err
	}
	if err := logAttempts(st, p, id, &op); err != nil {
		return module.Result{}, err
	}
	ret := recordReturn{Operation: op, SessionFile: st.Files().Session(id), PolicySources: []string{}}
	// The type of the failure that ended the run: a guardrail's refusal (circuit_open, ...) when
	// one stopped it, else the last attempt's.
	if op.ErrorType != "" {
		ret.ErrorType = op.ErrorType
	} else if n := len(op.Attempts); n > 0 && op.Attempts[n-1].ErrorType != nil {
		ret.ErrorType = *op.Attempts[n-1].ErrorType
	}
	msg := fmt.Sprintf("recorded %s (%s after %d attempts) in retry session %s", op.OperationID, op.Status, op.AttemptCount, id)
	if ctx.CheckMode {
		msg = "check mode: " + msg + " (nothing written)"
	}
	return module.Result{Changed: true, Msg: msg, Data: ret}, nil
}

// operationOf decodes the registered result of a finished run (operation_result): the host is
// its own, else the host parameter; the context and the name likewise.
func operationOf(raw map[string]any, p module.Params) (session.Operation, error) {
	b, err := json.Marshal(raw)
	if err != nil {
		return session.Operation{}, err
	}
	var op session.Operation
	if err := json.Unmarshal(b, &op); err != nil {
		return session.Operation{}, fmt.Errorf("not the result of action run: %v", err)
	}
	switch {
	case op.Status == "planned":
		return session.Operation{}, fmt.Errorf("a check-mode result (status planned) has nothing to record")
	case op.Status != session.OpCompleted && op.Status != session.OpFailed:
		return session.Operation{}, fmt.Errorf("status must be completed or failed (the registered result of action run), got %q", op.Status)
	case len(op.Attempts) != op.AttemptCount:
		return session.Operation{}, fmt.Errorf("attempt_count %d but %d attempts", op.AttemptCount, len(op.Attempts))
	}
	if err := session.ValidateOperationID(op.OperationID); err != nil {
		return session.Operation{}, err
	}
	if op.Host == "" {
		op.Host = p.Str("host")
	}
	if op.Context == nil {
		op.Context = p.Dict("context")
	}
	if name := p.Str("operation"); op.OperationName == "" {
		op.OperationName = name
	}
	return op, nil
}

// maxNotRecorded bounds the entries that ingestAll lists as not recorded.
const maxNotRecorded = 10

// notRecorded is an entry of operation_results that was not recorded.
type notRecorded struct {
	Index  int    `json:"index"`
	Reason string `json:"reason"`
}

// ingestAllReturn is the result of action record with operation_results: counts, bounded
// whatever the fleet.
type ingestAllReturn struct {
	SessionID        string        `json:"session_id"`
	SessionFile      string        `json:"session_file"`
	Recorded         int           `json:"recorded"`
	Unchanged        int           `json:"unchanged"`
	NotRecorded      []notRecorded `json:"not_recorded"`
	NotRecordedCount int           `json:"not_recorded_count"`
}

// ingestAll records the finished runs of several hosts (operation_results), each under its own
// host; a run already recorded as it is is left as it is, so that recording a batch again (the
// role records each play batch's runs, and a later batch finds the earlier runs among the hosts'
// results) writes nothing twice.
func ingestAll(ctx *module.Ctx, p module.Params, id string, d deps) (module.Result, error) {
	st := newStore(ctx, p, d)
	ret := ingestAllReturn{SessionID: id, SessionFile: st.Files().Session(id), NotRecorded: []notRecorded{}}
	skip := func(i int, reason string) {
		ret.NotRecordedCount++
		if len(ret.NotRecorded) < maxNotRecorded {
			ret.NotRecorded = append(ret.NotRecorded, notRecorded{Index: i, Reason: reason})
		}
	}
	for i, raw := range p.List("operation_results") {
		m, _ := raw.(map[string]any)
		op, err := operationOf(m, p)
		if err != nil {
			skip(i, err.Error())
			continue
		}
		op.SessionID = id
		want, _ := json.Marshal(op)
		same := false
		if _, err := st.UpdateOperation(id, op.Host, op.Context, func(lookup session.Lookup) (session.Operation, []session.ErrorEntry, error) {
			if cur, err := lookup(op.OperationID); err == nil && cur != nil {
				if got, _ := json.Marshal(cur); bytes.Equal(got, want) {
					same = true
					return session.Operation{}, nil, state.ErrUnchanged
				}
			}
			return op, errorEntries(&op, d), nil
		}); err != nil {
			return module.Result{}, fmt.Errorf("record %s of host %q: %w", op.OperationID, op.Host, err)
		}
		if same {
			ret.Unchanged++
			continue
		}
		if err := logAttempts(st, p, id, &op); err != nil {
			return module.Result{}, err
		}
		ret.Recorded++
	}
	msg := fmt.Sprintf("recorded %d operations in retry session %s (%d already recorded, %d entries not finished runs)",
		ret.Recorded, id, ret.Unchanged, ret.NotRecordedCount)
	if ctx.CheckMode {
		msg = "check mode: " + msg + " (nothing written)"
	}
	return module.Result{Changed: ret.Recorded > 0, Msg: msg, Data: ret}, nil
}

// errorEntries is the error log entry of a finished operation, recorded with it when it failed.
func errorEntries(op *session.Operation, d deps) []session.ErrorEntry {
	if op.Status != session.OpFailed {
		return nil
	}
	return []session.ErrorEntry{session.ErrorEntryOf(op, d.now())}
}

// logAttempts writes the per-attempt logs of a finished operation, when asked.
func logAttempts(st *session.Store, p module.Params, id string, op *session.Operation) error {
	if p.Bool("log_individual_attempts") {
		for _, a := range op.Attempts {
			if err := st.WriteAttempt(id, op, a); err != nil {
				return err
			}
		}
	}
	return nil
}

// trackRun records a finished run of action run in its session (track_session); errorType is
// the type of the failure that ended it ("" when it succeeded).
func trackRun(p module.Params, d deps, rec retry.OperationRecord, errorType retry.ErrorType) (string, error) {
	b, err := json.Marshal(rec)
	if err != nil {
		return "", err
	}
	var op session.Operation
	if err := json.Unmarshal(b, &op); err != nil {
		return "", err
	}
	op.Host = p.Str("host")
	if rec.Status == session.OpFailed {
		op.ErrorType = string(errorType)
	}
	st := &session.Store{Dir: p.Str("state_dir"), Now: d.now}
	if _, err := st.RecordOperation(rec.SessionID, op, errorEntries(&op, d)...); err != nil {
		return "", err
	}
	return st.Files().Session(rec.SessionID), logAttempts(st, p, rec.SessionID, &op)
}

// thresholds decodes monitoring; nil when monitoring is disabled.
func thresholds(p module.Params) (*session.Thresholds, error) {
	raw := p.Dict("monitoring")
	if raw == nil {
		raw = map[string]any{}
	}
	mon, err := monitoringSpec.Decode(raw)
	if err != nil {
		return nil, fmt.Errorf("monitoring: %w", err)
	}
	if !mon.Bool("enabled") {
		return nil, nil
	}
	al := mon.Dict("alerts")
	if al == nil {
		al = map[string]any{}
	}
	a, err := alertsSpec.Decode(al)
	if err != nil {
		return nil, fmt.Errorf("monitoring.alerts: %w", err)
	}
	return &session.Thresholds{MinSuccessRate: a.Float("min_success_rate"), MaxAverageRetries: a.Float("max_average_retries"),
		MaxExecutionTime: a.Float("max_execution_time"), MaxErrorRate: a.Float("max_error_rate")}, nil
}

// handleFinalize computes the session's statistics and alerts (action finalize).
func handleFinalize(ctx *module.Ctx, p module.Params, d deps) (module.Result, error) {
	id, err := sessionID(p, true)
	if err != nil {
		return module.Result{}, err
	}
	th, err := thresholds(p)
	if err != nil {
		return module.Result{}, err
	}
	st := newStore(ctx, p, d)
	rep, err := st.FinalizeReport(id, session.Status(p.Str("session_status")), th)
	if err != nil {
		return module.Result{}, err
	}
	sess := rep.Session
	s := sess.FinalStatistics
	msg := fmt.Sprintf("retry session %s %s: %d operations, %d succeeded, %d failed, %d retried",
		id, sess.SessionStatus, s.TotalOperations, s.SuccessfulOperations, s.FailedOperations, s.RetriedOperations)
	if s.RunningOperations > 0 {
		msg += fmt.Sprintf(", %d still running", s.RunningOperations)
	}
	if len(sess.Alerts) > 0 {
		var parts []string
		for _, a := range sess.Alerts {
			parts = append(parts, a.Message)
		}
		msg += "; alerts: " + strings.Join(parts, "; ")
	}
	if ctx.CheckMode {
		msg = "check mode: " + msg + " (nothing written)"
	}
	failures := rep.Failures
	if failures == nil {
		failures = []session.ErrorEntry{}
	}
	return module.Result{Changed: true, Msg: msg, Data: finalizeReturn{Summary: sess.Summary(),
		SessionFile: st.Files().Session(id), PerformanceFile: st.Files().Performance(id), ErrorLogFile: st.Files().ErrorLog(id),
		Hosts: rep.Hosts, FailureCount: rep.FailureCount, Failures: failures}}, nil
}

// retentionOf decodes retention.
func retentionOf(p module.Params) (session.Retention, error) {
	raw := p.Dict("retention")
	if raw == nil {
		raw = map[string]any{}
	}
	r, err := retentionSpec.Decode(raw)
	if err != nil {
		return session.Retention{}, fmt.Errorf("retention: %w", err)
	}
	days := func(name string) time.Duration { return duration.FromDays(r.Float(name)) }
	return session.Retention{MaxAge: days("max_age_days"), MaxSessions: int(r.Int("max_sessions")),
		CompressMinSize: r.Int("compress_min_size"), CompressAfter: days("compress_after_days")}, nil
}

// handleRetention removes (cleanup) or compresses (compress) old sessions; the session given in
// session_id, the current one, is left alone.
func handleRetention(ctx *module.Ctx, p module.Params, d deps) (module.Result, error) {
	keep, err := sessionID(p, false)
	if err != nil {
		return module.Result{}, err
	}
	r, err := retentionOf(p)
	if err != nil {
		return module.Result{}, err
	}
	st := newStore(ctx, p, d)
	prefix := ""
	if ctx.CheckMode {
		prefix = "check mode: would have "
	}
	if p.Str("action") == actionCleanup {
		removed, err := st.Cleanup(r, keep)
		if err != nil {
			return module.Result{}, &module.Failure{Msg: fmt.Sprintf("retention in %s: %v", st.Dir, err),
				Changed: len(removed) > 0 && !ctx.CheckMode, Data: retentionReturn{Removed: removed}}
		}
		return module.Result{Changed: len(removed) > 0, Data: retentionReturn{Removed: nonNil(removed)},
			Msg: fmt.Sprintf("%sremoved %d files from %s", prefix, len(removed), st.Dir)}, nil
	}
	done, err := st.Compress(r, keep)
	var before, after int64
	for _, c := range done {
		before, after = before+c.SizeBefore, after+c.SizeAfter
	}
	if err != nil {
		return module.Result{}, &module.Failure{Msg: fmt.Sprintf("compression in %s: %v", st.Dir, err),
			Changed: len(done) > 0 && !ctx.CheckMode, Data: retentionReturn{Compressed: done}}
	}
	if done == nil {
		done = []session.Compressed{}
	}
	return module.Result{Changed: len(done) > 0, Data: retentionReturn{Compressed: done},
		Msg: fmt.Sprintf("%scompressed %d files in %s (%d bytes to %d)", prefix, len(done), st.Dir, before, after)}, nil
}

func nonNil(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}

// handleWait waits seconds (action wait): ansible.builtin.pause and wait_for take whole seconds
// only, and pause runs once for all the hosts of a batch, while computed delays are fractions of
// a second apart and differ between hosts.
func handleWait(ctx *module.Ctx, p module.Params, d deps) (module.Result, error) {
	if !p.Has("seconds") {
		return module.Result{}, fmt.Errorf("parameter seconds: is required with action wait")
	}
	secs := p.Float("seconds")
	if ctx.CheckMode {
		return module.Result{Msg: fmt.Sprintf("check mode: did not wait %s s", fmtSeconds(secs)), Data: waitReturn{}}, nil
	}
	wait := durationOf(secs)
	if d.clock != nil {
		_ = d.clock.Sleep(context.Background(), wait)
	} else {
		time.Sleep(wait)
	}
	return module.Result{Msg: fmt.Sprintf("waited %s s", fmtSeconds(secs)), Data: waitReturn{Waited: secs}}, nil
}
