package manager

import (
	"context"
	"fmt"
	"strings"
	"time"

	"resilience.ops/internal/record"
	"resilience.ops/internal/session"
)

// The session actions: start, finalize, cleanup, compress and wait (record and admit are in
// record.go and admit.go). They let the retry_manager role drive retries of arbitrary tasks: the
// role runs an attempt, the module records it, classifies its failure and decides (with the
// engine's own Policy.Decide) whether and when to retry.

// newStore returns the store of the state directory; in check mode it writes nothing.
func newStore(c Common, env Env) *session.Store {
	return &session.Store{Dir: c.StateDir, Clock: env.Clock, DryRun: c.CheckMode}
}

// StartRequest is action start: create or join session SessionID ("" for a new one). With an
// operation (Name), the result also gives its resolved settings, so that callers know
// max_attempts before attempt 1.
type StartRequest struct {
	Common
	SessionID string
	Name      string
	Settings  Settings
	Guard     *GuardConfig
}

// StartResult is the result of action start.
type StartResult struct {
	SessionID          string      `json:"session_id"`
	SessionFile        string      `json:"session_file"`
	SessionStart       string      `json:"session_start"`
	SessionStatus      string      `json:"session_status"`
	Created            bool        `json:"created"`
	CallStackSessionID string      `json:"call_stack_session_id,omitempty"`
	OperationCount     int         `json:"operation_count"`
	MaxAttempts        int         `json:"max_attempts,omitempty"`
	Policy             *PolicyJSON `json:"policy,omitempty"`
	PolicySources      []string    `json:"policy_sources,omitempty"`
	// Admission says the role must ask action admit before each attempt of a tasks file: the
	// operation's circuit breaker is enabled. CircuitKey is its key.
	Admission  bool   `json:"admission"`
	CircuitKey string `json:"circuit_key,omitempty"`
}

// Start is action start.
func Start(req StartRequest, env Env) (Reply, error) {
	env = env.withDefaults()
	id := req.SessionID
	if id == "" {
		id = session.NewID(env.Clock.Now())
	}
	ret := StartResult{}
	if req.Name != "" {
		pol := req.Settings.Policy
		ret.MaxAttempts, ret.Policy, ret.PolicySources = pol.MaxAttempts, policyJSON(pol), req.Settings.Sources
		if req.Guard != nil {
			ret.CircuitKey, ret.Admission = req.Guard.Key, req.Guard.Settings.CircuitBreaker.Enabled
		}
	}
	st := newStore(req.Common, env)
	sess, created, changed, err := st.Start(id, req.Context)
	if err != nil {
		return Reply{}, err
	}
	ret.SessionID, ret.SessionFile, ret.SessionStart = id, st.Files().Session(id), sess.SessionStart
	ret.SessionStatus, ret.Created, ret.CallStackSessionID = string(sess.SessionStatus), created, sess.CallStackSessionID
	ret.OperationCount = operationCount(&sess)
	msg := fmt.Sprintf("joined retry session %s (%d operations at its last finalize)", id, ret.OperationCount)
	if created {
		msg = fmt.Sprintf("started retry session %s in %s", id, st.Dir)
	}
	return Reply{Changed: changed, Msg: checkMsg(req.CheckMode, msg), Data: ret}, nil
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

// FinalizeRequest is action finalize: compute the statistics and the alerts (none when Thresholds
// is nil) of session SessionID, which ends with Status.
type FinalizeRequest struct {
	Common
	SessionID  string
	Status     session.Status
	Thresholds *session.Thresholds
}

// FinalizeResult is the result of action finalize: the session statistics, its files, and
// bounded facts for the AAP artifacts (the first failures and their count, the hosts), whatever
// the session holds.
type FinalizeResult struct {
	session.Summary
	SessionFile     string               `json:"session_file"`
	PerformanceFile string               `json:"performance_file"`
	ErrorLogFile    string               `json:"error_log_file"`
	Hosts           int                  `json:"hosts"`
	FailureCount    int                  `json:"failure_count"`
	Failures        []session.ErrorEntry `json:"failures"`
}

// Finalize is action finalize.
func Finalize(req FinalizeRequest, env Env) (Reply, error) {
	env = env.withDefaults()
	id := req.SessionID
	st := newStore(req.Common, env)
	rep, err := st.FinalizeReport(id, req.Status, req.Thresholds)
	if err != nil {
		return Reply{}, err
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
	failures := rep.Failures
	if failures == nil {
		failures = []session.ErrorEntry{}
	}
	return Reply{Changed: true, Msg: checkMsg(req.CheckMode, msg), Data: FinalizeResult{Summary: sess.Summary(),
		SessionFile: st.Files().Session(id), PerformanceFile: st.Files().Performance(id), ErrorLogFile: st.Files().ErrorLog(id),
		Hosts: rep.Hosts, FailureCount: rep.FailureCount, Failures: failures}}, nil
}

// RetentionRequest is action cleanup (remove old sessions) or, with Compress, action compress
// (gzip large or old sessions), by Rules. Session Keep, the current one, is left alone.
type RetentionRequest struct {
	Common
	Keep     string
	Rules    session.Retention
	Compress bool
}

// RetentionResult is the result of actions cleanup and compress.
type RetentionResult struct {
	Removed    []string             `json:"removed,omitempty"`
	Compressed []session.Compressed `json:"compressed,omitempty"`
}

// Retention is actions cleanup and compress.
func Retention(req RetentionRequest, env Env) (Reply, error) {
	env = env.withDefaults()
	st := newStore(req.Common, env)
	prefix := ""
	if req.CheckMode {
		prefix = "check mode: would have "
	}
	if !req.Compress {
		removed, err := st.Cleanup(req.Rules, req.Keep)
		if err != nil {
			return Reply{Failed: true, Msg: fmt.Sprintf("retention in %s: %v", st.Dir, err),
				Changed: len(removed) > 0 && !req.CheckMode, Data: RetentionResult{Removed: removed}}, nil
		}
		if removed == nil {
			removed = []string{}
		}
		return Reply{Changed: len(removed) > 0, Data: RetentionResult{Removed: removed},
			Msg: fmt.Sprintf("%sremoved %d files from %s", prefix, len(removed), st.Dir)}, nil
	}
	done, err := st.Compress(req.Rules, req.Keep)
	var before, after int64
	for _, c := range done {
		before, after = before+c.SizeBefore, after+c.SizeAfter
	}
	if err != nil {
		return Reply{Failed: true, Msg: fmt.Sprintf("compression in %s: %v", st.Dir, err),
			Changed: len(done) > 0 && !req.CheckMode, Data: RetentionResult{Compressed: done}}, nil
	}
	if done == nil {
		done = []session.Compressed{}
	}
	return Reply{Changed: len(done) > 0, Data: RetentionResult{Compressed: done},
		Msg: fmt.Sprintf("%scompressed %d files in %s (%d bytes to %d)", prefix, len(done), st.Dir, before, after)}, nil
}

// WaitResult is the result of action wait.
type WaitResult struct {
	Waited float64 `json:"waited"`
}

// Wait is action wait: it waits seconds, to the millisecond. ansible.builtin.pause and wait_for
// take whole seconds only, and pause runs once for all the hosts of a batch, while computed
// delays are fractions of a second apart and differ between hosts.
func Wait(seconds float64, check bool, env Env) Reply {
	env = env.withDefaults()
	if check {
		return Reply{Msg: fmt.Sprintf("check mode: did not wait %s s", fmtSeconds(seconds)), Data: WaitResult{}}
	}
	_ = env.Clock.Sleep(context.Background(), durationOf(seconds))
	return Reply{Msg: fmt.Sprintf("waited %s s", fmtSeconds(seconds)), Data: WaitResult{Waited: seconds}}
}

// operationFor returns the operation of the host's records in session id that attempt given (0:
// not given) of name belongs to: the one with *opID (found by lookup), or a new one started at
// start (whose id is then set in *opID). It refuses what would record an attempt twice or out of
// order.
func operationFor(c Common, lookup session.Lookup, id string, opID *string, name string, given int, start time.Time) (*record.Operation, error) {
	var o *record.Operation
	if *opID != "" {
		var err error
		if o, err = lookup(*opID); err != nil {
			return nil, err
		}
	}
	if o == nil {
		var err error
		if o, err = newOperation(c, id, opID, name, given, start); err != nil {
			return nil, err
		}
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
