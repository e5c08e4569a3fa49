package manager

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"resilience.ops/internal/export"
	"resilience.ops/internal/record"
	"resilience.ops/internal/session"
)

// SendRequest is action send_metrics (Alerts false: deliver session SessionID's metrics) or
// send_alerts (Alerts: deliver an alert when the session breaches a threshold of Thresholds) to
// Systems.
type SendRequest struct {
	Common
	SessionID  string
	Systems    []export.System
	Thresholds *session.Thresholds
	Alerts     bool
}

// SendResult is the result of actions send_metrics and send_alerts.
type SendResult struct {
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

// Send delivers the session's metrics (send_metrics) or, when a threshold is breached, an alert
// (send_alerts) to the external systems. Systems are sent to concurrently, each with its own
// timeout and retries. A failed delivery is a warning and an entry of deliveries; the task fails
// only when a system marked required failed. For alerts, only the first host of a session to
// claim a breach group sends it (the claim is kept in the session file). Metrics are sent once per
// system until an operation is recorded (session.MetricsKey): the handlers may run more than once
// (every inclusion of the role loads a copy of them, and ansible-core 2.14 runs run_once handlers
// more than once, ansible/ansible#81666). In check mode nothing is sent and each delivery says
// what would be sent.
func Send(req SendRequest, env Env) (Reply, error) {
	env = env.withDefaults()
	id := req.SessionID
	st := newStore(req.Common, env)
	now := env.Clock.Now()
	// The session's operations are read as a stream, summed as they come.
	snap, alerts, sess, err := st.Snapshot(id, now, req.Thresholds)
	if err != nil {
		return Reply{}, err
	}
	if sess == nil {
		if !req.CheckMode {
			return Reply{}, fmt.Errorf("%w %s in %s: start it (or record an operation) before sending its metrics",
				session.ErrNoSession, id, st.Dir)
		}
		// A session started in check mode has no file: an empty one says what would be sent.
		sess = &session.Session{SessionID: id, SessionStart: record.Timestamp(now), SessionStatus: session.StatusActive}
		snap, alerts = session.Snapshot(sess, now, req.Thresholds)
	}
	results := deliver(req, st, sess, snap, env)
	ret := SendResult{SessionID: id, Event: export.EventMetrics, Alerts: alerts, Deliveries: results}
	if req.Alerts {
		ret.Event, ret.AlertKey = export.EventAlerts, export.AlertKey(snap)
	}
	for _, w := range export.Warnings(results) {
		env.Warn(w)
	}
	changed := false
	for _, r := range results {
		changed = changed || r.Sent || r.Skipped == export.SkipCheckMode
	}
	msg := sendMessage(req.CheckMode, ret)
	if changed && !req.CheckMode {
		env.Log(msg)
	}
	if err := export.Err(results); err != nil {
		var de *export.DeliveryError
		if errors.As(err, &de) {
			msg = err.Error() + "; " + msg
		}
		return Reply{Failed: true, Msg: msg, Changed: changed, Data: ret}, nil
	}
	return Reply{Changed: changed, Msg: msg, Data: ret}, nil
}

// deliver sends snap to the systems of req, leaving out (as already_sent) the systems that
// received the session's current metrics before, and records the metrics delivered.
func deliver(req SendRequest, st *session.Store, sess *session.Session, snap export.Snapshot, env Env) []export.Result {
	id, alertMode := req.SessionID, req.Alerts
	opts := export.Options{CheckMode: req.CheckMode, Alerts: alertMode}
	if alertMode && !req.CheckMode {
		opts.Claim = func(_ context.Context, key string) (bool, error) { return st.Claim(id, key) }
	}
	// Metrics are delivered once per system and content: a system that already received the
	// session's current operations (an earlier run of the handler) is skipped.
	metricsKey := session.MetricsKey(snap)
	results := make([]export.Result, len(req.Systems))
	skip := make([]bool, len(req.Systems))
	var todo []export.System
	for i, sys := range req.Systems {
		if !alertMode && !req.CheckMode && sys.Enabled && slices.Contains(sys.Events, export.EventMetrics) &&
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
			env.warnf("the delivery of the metrics was not recorded in retry session %s (they will be sent again next time): %v", id, err)
		}
	}
	return results
}

// sendMessage summarises the deliveries: "retry metrics of session S: pg (pushgateway,
// 127.0.0.1:9091) sent; chat (slack, hooks.slack.com) not subscribed".
func sendMessage(check bool, ret SendResult) string {
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
