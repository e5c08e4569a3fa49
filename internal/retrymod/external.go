package retrymod

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"resilience.ops/internal/export"
	"resilience.ops/internal/module"
	"resilience.ops/internal/resilience"
	"resilience.ops/internal/retry"
	"resilience.ops/internal/session"
)

// Actions admit, send_metrics and send_alerts: the circuit breaker in front of the role's tasks
// files, and the delivery of a session's metrics and alerts to external systems.

// operationFor returns the operation of the host's records in session id that attempt given (0:
// not given) of name belongs to: the one with *opID (found by lookup), or a new one started at
// start (whose id is then set in *opID). It refuses what would record an attempt twice or out of
// order.
func operationFor(ctx *module.Ctx, p module.Params, lookup session.Lookup, id string, opID *string, name string, given int, start time.Time) (*session.Operation, error) {
	var o *session.Operation
	if *opID != "" {
		var err error
		if o, err = lookup(*opID); err != nil {
			return nil, err
		}
	}
	if o == nil {
		done := 0
		if given > 1 {
			if *opID == "" || !ctx.CheckMode {
				return nil, fmt.Errorf("attempt %d of operation %s cannot be recorded: session %s has no operation %q with earlier attempts "+
					"(give the operation_id that attempt 1 returned)", given, name, id, *opID)
			}
			done = given - 1 // check mode: the earlier attempts were not written
		}
		if *opID == "" {
			// Its own random source: d.rnd draws the jitter, as in the engine.
			*opID = session.NewOperationID(name, start, nil)
		}
		o = &session.Operation{OperationID: *opID, OperationName: name, SessionID: id,
			Host: p.Str("host"), StartTime: session.Timestamp(start), Status: session.OpRunning, AttemptCount: done,
			Attempts: []session.Attempt{}, Context: p.Dict("context")}
	}
	if o.Finished() {
		return nil, fmt.Errorf("operation %s already ended (%s, %s) in session %s: leave operation_id out to record a new operation",
			o.OperationID, o.Status, o.StopReason, id)
	}
	if n := o.AttemptCount + 1; given != 0 && given != n {
		return nil, fmt.Errorf("parameter attempt: operation %s has %d attempts recorded, so the next one is %d, not %d",
			o.OperationID, o.AttemptCount, n, given)
	}
	return o, nil
}

// admitReturn is the result of action admit when the attempt may run.
type admitReturn struct {
	Admitted bool `json:"admitted"`
	guardReport
}

// refusedReturn is the result of action admit when the circuit breaker refused the attempt: the
// operation, ended with circuit_open, as recorded.
type refusedReturn struct {
	Admitted bool `json:"admitted"`
	recordReturn
}

// bulkheadNotApplied says why action admit does not apply the bulkhead.
const bulkheadNotApplied = "a bulkhead slot is held by the process that runs the attempt; the tasks of a tasks file run " +
	"in other processes than the module, so they are not bounded by it (bound them with the play's forks, throttle or serial)"

// handleAdmit asks the circuit breaker whether the next attempt of an operation that runs
// elsewhere (action admit, before each attempt of the role's tasks files) may run. A refusal
// ends the operation in the session with circuit_open, without an attempt, so that the role does
// not run the tasks. The half-open trial slot cannot be held while other processes run the
// attempt: every attempt admitted while half-open is a trial, and the first result recorded
// decides.
func handleAdmit(ctx *module.Ctx, p module.Params, d deps) (module.Result, error) {
	id, err := sessionID(p, true)
	if err != nil {
		return module.Result{}, err
	}
	if err := requireOperation(p); err != nil {
		return module.Result{}, err
	}
	name := p.Str("operation")
	gc, err := resolveGuardrails(p)
	if err != nil {
		return module.Result{}, err
	}
	if gc == nil || !gc.settings.CircuitBreaker.Enabled {
		ret := admitReturn{Admitted: true}
		if gc != nil {
			ret.CircuitKey = gc.key
		}
		return module.Result{Msg: fmt.Sprintf("%s: no circuit breaker is enabled: the attempt may run", name), Data: ret}, nil
	}
	s := *gc
	bulkhead := s.settings.Bulkhead.Enabled
	s.settings.Bulkhead.Enabled = false
	g, err := newGuardrails(&s, ctx.CheckMode, d)
	if err != nil {
		return module.Result{}, err
	}
	gr := newGuardRun(g, s.key)
	f := gr.admit(context.Background())
	gr.release() // the attempt runs in other processes: nothing can be held for it
	rep := gr.report()
	if bulkhead {
		rep.Bulkhead = bulkheadJSON{BulkheadReport: resilience.BulkheadReport{Enabled: true,
			MaxConcurrent: gc.settings.Bulkhead.MaxConcurrent, MaxWait: gc.settings.Bulkhead.MaxWait.Seconds()},
			NotApplied: bulkheadNotApplied}
		if p.Int("attempt") <= 1 {
			ctx.Warn("%s: the bulkhead does not apply to tasks files: %s", name, bulkheadNotApplied)
		}
	}
	for _, w := range gr.warnings {
		ctx.Warn("%s", w)
	}
	prefix := ""
	if ctx.CheckMode {
		prefix = "check mode: "
	}
	if f == nil {
		state := "closed"
		if gr.breaker != nil {
			state = string(gr.breaker.State)
		}
		return module.Result{Changed: len(gr.transitions) > 0 && !ctx.CheckMode, Data: admitReturn{Admitted: true, guardReport: rep},
			Msg: fmt.Sprintf("%s%s: circuit breaker %q is %s: the attempt may run", prefix, name, s.key, state)}, nil
	}
	return recordRefusal(ctx, p, d, id, name, f, rep)
}

// recordRefusal ends the operation of action admit with the guardrail's refusal f.
func recordRefusal(ctx *module.Ctx, p module.Params, d deps, id, name string, f *retry.Failure, rep guardReport) (module.Result, error) {
	pol, sources, err := resolvePolicy(p, false)
	if err != nil {
		return module.Result{}, err
	}
	opID := p.Str("operation_id")
	if opID != "" {
		if err := session.ValidateOperationID(opID); err != nil {
			return module.Result{}, err
		}
	}
	now := d.now()
	st := newStore(ctx, p, d)
	rec, err := st.UpdateOperation(id, p.Str("host"), p.Dict("context"), func(lookup session.Lookup) (session.Operation, []session.ErrorEntry, error) {
		o, err := operationFor(ctx, p, lookup, id, &opID, name, int(p.Int("attempt")), now)
		if err != nil {
			return session.Operation{}, nil, err
		}
		opStart, err := session.ParseTimestamp(o.StartTime)
		if err != nil {
			opStart = now
		}
		o.Status, o.StopReason, o.ErrorType = session.OpFailed, string(retry.StopRejected), string(f.Type)
		o.MaxAttempts, o.EndTime, o.ExecutionTime = pol.MaxAttempts, session.Timestamp(now), secondsOf(now.Sub(opStart))
		entry := session.ErrorEntryOf(o, now)
		entry.ErrorMessage = f.Summary()
		return *o, []session.ErrorEntry{entry}, nil
	})
	if err != nil {
		return module.Result{}, err
	}
	last := ""
	if n := len(rec.Attempts); n > 0 && rec.Attempts[n-1].ErrorType != nil {
		last = *rec.Attempts[n-1].ErrorType
	}
	msg := refusal(name, f.Type, rec.AttemptCount, rec.MaxAttempts, last, f.Summary())
	if ctx.CheckMode {
		msg = "check mode: " + msg + " (nothing written)"
	}
	ret := refusedReturn{recordReturn: recordReturn{Operation: rec, ErrorType: string(f.Type), PolicySources: sources,
		SessionFile: st.Files().Session(id), guardReport: rep}}
	return module.Result{Changed: true, Msg: msg, Data: ret}, nil
}

// parseSystems validates external_systems (given directly or in settings).
func parseSystems(p module.Params) ([]export.System, error) {
	systems, err := export.ParseSystems(p.List("external_systems"))
	if err != nil {
		return nil, fmt.Errorf("invalid external_systems: %s", strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	return systems, nil
}

// sendReturn is the result of actions send_metrics and send_alerts.
type sendReturn struct {
	SessionID string `json:"session_id"`
	// Event is "metrics" or "alerts".
	Event export.Event `json:"event"`
	// AlertKey identifies the breach group of an alert (send_alerts, when a threshold is breached).
	AlertKey string `json:"alert_key,omitempty"`
	// Alerts are the breached thresholds, as finalize reports them.
	Alerts []session.Alert `json:"alerts"`
	// Deliveries has one entry per external system: sent, skipped (why) or failed (why).
	Deliveries []export.Result `json:"deliveries"`
}

// handleSend delivers the session's metrics (send_metrics) or, when a threshold is breached, an
// alert (send_alerts) to the external systems. Systems are sent to concurrently, each with its
// own timeout and retries. A failed delivery is a warning and an entry of deliveries; the task
// fails only when a system marked required failed. For alerts, only the first host of a session
// to claim a breach group sends it (the claim is kept in the session file). Metrics are sent once
// per system until an operation is recorded (session.MetricsKey): the handlers may run more than
// once (every inclusion of the role loads a copy of them, and ansible-core 2.14 runs run_once
// handlers more than once, ansible/ansible#81666). In check mode nothing is sent and each delivery
// says what would be sent.
func handleSend(ctx *module.Ctx, p module.Params, d deps) (module.Result, error) {
	id, err := sessionID(p, true)
	if err != nil {
		return module.Result{}, err
	}
	systems, err := parseSystems(p)
	if err != nil {
		return module.Result{}, err
	}
	th, err := thresholds(p)
	if err != nil {
		return module.Result{}, err
	}
	st := newStore(ctx, p, d)
	now := d.now()
	snap, alerts, sess, err := st.Snapshot(id, now, th)
	if err != nil {
		return module.Result{}, err
	}
	if sess == nil {
		if !ctx.CheckMode {
			return module.Result{}, fmt.Errorf("%w %s in %s: start it (or record an operation) before sending its metrics",
				session.ErrNoSession, id, st.Dir)
		}
		// A session started in check mode has no file: an empty one says what would be sent.
		sess = &session.Session{SessionID: id, SessionStart: session.Timestamp(now), SessionStatus: session.StatusActive}
		snap, alerts = session.Snapshot(sess, now, th)
	}
	alertMode := p.Str("action") == actionSendAlerts
	opts := export.Options{CheckMode: ctx.CheckMode, Alerts: alertMode}
	if alertMode && !ctx.CheckMode {
		opts.Claim = func(_ context.Context, key string) (bool, error) { return st.Claim(id, key) }
	}
	// Metrics are delivered once per system and content: a system that already received the
	// session's current operations (an earlier run of the handler) is skipped.
	metricsKey := session.MetricsKey(snap)
	results := make([]export.Result, len(systems))
	skip := make([]bool, len(systems))
	var todo []export.System
	for i, sys := range systems {
		if !alertMode && !ctx.CheckMode && sys.Enabled && slices.Contains(sys.Events, export.EventMetrics) &&
			slices.Contains(sess.Delivered, metricsKey+"/"+sys.Name) {
			skip[i] = true
			results[i] = export.Result{Name: sys.Name, Type: sys.Type, Host: sys.Host(), Path: sys.Path,
				Event: export.EventMetrics, Required: sys.Required, Skipped: export.SkipAlreadySent}
			continue
		}
		todo = append(todo, sys)
	}
	sent := export.Deliver(context.Background(), todo, snap, opts)
	var delivered []string
	for i := range results {
		if skip[i] {
			continue
		}
		results[i], sent = sent[0], sent[1:]
		if results[i].Sent && !alertMode {
			delivered = append(delivered, metricsKey+"/"+results[i].Name)
		}
	}
	if len(delivered) > 0 {
		if err := st.MarkDelivered(id, delivered); err != nil {
			ctx.Warn("the delivery of the metrics was not recorded in retry session %s (they will be sent again next time): %v", id, err)
		}
	}
	ret := sendReturn{SessionID: id, Event: export.EventMetrics, Alerts: alerts, Deliveries: results}
	if alertMode {
		ret.Event, ret.AlertKey = export.EventAlerts, export.AlertKey(snap)
	}
	for _, w := range export.Warnings(results) {
		ctx.Warn("%s", w)
	}
	changed := false
	for _, r := range results {
		changed = changed || r.Sent || r.Skipped == export.SkipCheckMode
	}
	msg := sendMessage(ctx.CheckMode, ret)
	if changed && !ctx.CheckMode {
		ctx.Log("%s", msg)
	}
	if err := export.Err(results); err != nil {
		var de *export.DeliveryError
		if errors.As(err, &de) {
			msg = err.Error() + "; " + msg
		}
		return module.Result{}, &module.Failure{Msg: msg, Changed: changed, Data: ret}
	}
	return module.Result{Changed: changed, Msg: msg, Data: ret}, nil
}

// sendMessage summarises the deliveries: "retry metrics of session S: pg (pushgateway,
// 127.0.0.1:9091) sent; chat (slack, hooks.slack.com) not subscribed".
func sendMessage(check bool, ret sendReturn) string {
	what := "retry metrics"
	if ret.Event == export.EventAlerts {
		what = "retry alert"
	}
	head := fmt.Sprintf("%s of session %s", what, ret.SessionID)
	if check {
		head = "check mode: " + head
	}
	if len(ret.Deliveries) == 0 {
		return head + ": no external system is configured (external_systems)"
	}
	if ret.Event == export.EventAlerts && len(ret.Alerts) == 0 {
		head += ": no alert threshold is breached"
	} else if ret.Event == export.EventAlerts {
		var parts []string
		for _, a := range ret.Alerts {
			parts = append(parts, a.Message)
		}
		head += " (" + strings.Join(parts, "; ") + ")"
	}
	var parts []string
	for _, r := range ret.Deliveries {
		state := "sent"
		switch {
		case r.Failed():
			state = fmt.Sprintf("not delivered after %d attempt%s (%s): %s", r.Attempts, plural(r.Attempts), r.ErrorType, r.Error)
		case r.Skipped == export.SkipCheckMode:
			state = "would be sent"
		case r.Skipped != "":
			state = "skipped: " + strings.ReplaceAll(r.Skipped, "_", " ")
		}
		parts = append(parts, fmt.Sprintf("%s (%s, %s) %s", r.Name, r.Type, r.Host, state))
	}
	return head + ": " + strings.Join(parts, "; ")
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
