package manager

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"resilience.ops/internal/clock"
	"resilience.ops/internal/operation"
	"resilience.ops/internal/record"
	"resilience.ops/internal/retry"
	"resilience.ops/internal/session"
)

// Operation is what action run runs: a command, or an HTTP request with its client.
type Operation struct {
	Command *operation.Command
	Request *operation.HTTPRequest
	Client  *http.Client
}

// IdempotencyCheck runs before each retry: when it succeeds, the operation's effect is already
// there (a timed-out create did create) and the operation succeeds without running again.
type IdempotencyCheck struct {
	Command *operation.Command
	Request *operation.HTTPRequest
	Client  *http.Client
	Timeout time.Duration
}

// Common are the options every session action shares.
type Common struct {
	StateDir  string
	Host      string         // the inventory host the operation is for
	Context   map[string]any // recorded with the operation
	Debug     bool           // keep each failure's classification evidence
	LogEach   bool           // also write each attempt to its own file
	CheckMode bool           // change nothing
}

// RunRequest is action run: run Operation with retries, as Settings (and the guardrails of
// Guard, nil when none is enabled) say.
type RunRequest struct {
	Common
	Name       string
	SessionID  string // "" for a new one
	Track      bool   // record the operation in session SessionID
	Operation  Operation
	Check      *IdempotencyCheck
	Settings   Settings
	Classifier *retry.Classifier
	Guard      *GuardConfig
	// Publish publishes the operation as AAP artifacts; TextfileDir receives the circuit
	// breaker's metrics ("" for none).
	Publish     bool
	TextfileDir string
}

// RunResult is the result of action run: the operation record in the shape users' reports
// consume, plus the last attempt's output.
type RunResult struct {
	record.Operation
	// StopReason is always there, also empty (check mode): it shadows the record's, which a
	// session leaves out while an operation runs.
	StopReason      string                `json:"stop_reason"`
	ErrorType       string                `json:"error_type"`
	PolicySources   []string              `json:"policy_sources"`
	RC              *int                  `json:"rc,omitempty"`
	Stdout          *string               `json:"stdout,omitempty"`
	Stderr          *string               `json:"stderr,omitempty"`
	StdoutTruncated bool                  `json:"stdout_truncated,omitempty"`
	StderrTruncated bool                  `json:"stderr_truncated,omitempty"`
	Cmd             []string              `json:"cmd,omitempty"`
	Response        *operation.HTTPResult `json:"response,omitempty"`
	Schedule        *Schedule             `json:"schedule,omitempty"`
	// SessionFile is set when the operation was recorded in its session.
	SessionFile string `json:"session_file,omitempty"`
	GuardReport
}

// Schedule is the check-mode plan in seconds.
type Schedule struct {
	Attempts       []ScheduledAttempt `json:"attempts"`
	WorstCaseWait  float64            `json:"worst_case_wait"`
	WorstCaseTotal float64            `json:"worst_case_total"`
	Bounded        bool               `json:"bounded"`
	RetryPolicy    string             `json:"retry_policy"`
	JitterMode     string             `json:"jitter_mode"`
}

// ScheduledAttempt is one attempt of the plan.
type ScheduledAttempt struct {
	AttemptNumber  int     `json:"attempt_number"`
	Delay          float64 `json:"delay"`
	WorstCaseDelay float64 `json:"worst_case_delay"`
}

// NewSessionID returns "retry_<unix>_<6 random digits>" (see session.NewID).
func NewSessionID(now time.Time) string { return session.NewID(now) }

// Run is action run: it runs the operation with retries and returns its record. A failure of the
// operation is a failed Reply; an error means nothing ran (or the guardrails could not start).
func Run(req RunRequest, env Env) (Reply, error) {
	env = env.withDefaults()
	op := newRunner(req.Operation, env.Clock)
	pol := req.Settings.Policy
	if op.req != nil {
		// The server's answer is scrubbed of every secret of the task (its secret headers too)
		// before it is cut to a message or kept in a session file.
		op.req.Secrets = env.Secrets
		if pol.AttemptTimeout == 0 {
			pol.AttemptTimeout = operation.DefaultTimeout // a network call always has a timeout
		}
	}
	check := newChecker(req.Check, env)
	sessionID := req.SessionID
	if sessionID == "" {
		sessionID = NewSessionID(env.Clock.Now())
	}
	gr, pol, err := startGuardRun(req.Guard, pol, req.CheckMode, env)
	if err != nil {
		return Reply{}, err
	}
	if gr != nil {
		defer gr.release()
	}
	if req.CheckMode {
		return checkRun(req, gr, op, pol, sessionID, env), nil
	}
	eng, err := retry.NewEngine(pol, engineOptions(req, gr, check, pol, env)...)
	if err != nil {
		return Reply{}, err
	}
	out := eng.Do(context.Background(), op.attempt)
	return runReply(req, gr, op, out, sessionID, env), nil
}

// engineOptions are the engine's classifier, clock, random source, guardrails, idempotency check
// and the hook that logs each attempt.
func engineOptions(req RunRequest, gr *guardRun, check *checker, pol retry.Policy, env Env) []retry.Option {
	opts := []retry.Option{retry.WithClassifier(req.Classifier), retry.WithOnAttempt(func(a retry.Attempt) {
		if gr != nil {
			gr.after(a)
		}
		logAttempt(env, req.Name, pol.MaxAttempts, a)
	}), retry.WithClock(env.Clock)}
	if gr != nil {
		opts = append(opts, retry.WithGate(gr.gate))
	}
	if env.Rand != nil {
		opts = append(opts, retry.WithRandom(env.Rand))
	}
	if check != nil {
		opts = append(opts, retry.WithBeforeRetry(func(c context.Context, _ int, _ retry.ErrorType) bool {
			return check.done(c)
		}))
	}
	return opts
}

// runReply is the reply of a run that ran: the record (recorded in its session when asked),
// the guardrails' report and the artifacts.
func runReply(req RunRequest, gr *guardRun, op *runner, out retry.Outcome, sessionID string, env Env) Reply {
	name := req.Name
	rec := record.FromOutcome(record.NewOperationID(name, out.Start, env.Rand), name, sessionID, out)
	// The host, so that recording this result (action record, operation_result) names the same
	// host's records.
	rec.Context, rec.Host = req.Context, req.Host
	if !req.Debug {
		for i := range rec.Attempts {
			rec.Attempts[i].Evidence = nil
		}
	}
	ret := RunResult{Operation: rec, StopReason: rec.StopReason, ErrorType: string(out.LastType), PolicySources: req.Settings.Sources}
	op.fill(&ret, out.Reason == retry.StopAlreadyDone)
	if gr != nil {
		ret.GuardReport = gr.report()
		gr.warnAll(env)
		if dir := req.TextfileDir; dir != "" && gr.g.Settings().CircuitBreaker.Enabled {
			if err := writeBreakerMetrics(dir, gr.g, gr.key); err != nil {
				env.warnf("could not write the circuit breaker metrics of %s: %v", gr.key, err)
			}
		}
	}
	if req.Track {
		// The operation ran: a bookkeeping problem must not turn its result into a failure that
		// invites running it again, so it is a warning.
		if path, err := trackRun(req.Common, env, rec, out.LastType); err != nil {
			env.warnf("%s was not recorded in retry session %s: %v", name, sessionID, err)
		} else {
			ret.SessionFile = path
		}
	}
	stats := runArtifacts(req, rec, env.Clock)
	if !out.Succeeded() {
		// ansible-core drops the stats of a task that ends failed; they count when failed_when
		// keeps the task from failing (the role does so, then fails the host itself).
		return Reply{Failed: true, Msg: failureMessage(name, out), Data: ret, Changed: op.changes, Stats: stats}
	}
	msg := fmt.Sprintf("%s succeeded after %d of %d attempts", name, len(out.Attempts), out.MaxAttempts)
	if out.Reason == retry.StopAlreadyDone {
		msg = fmt.Sprintf("%s: the idempotency check found the effect already present after %d attempts", name, len(out.Attempts))
	}
	return Reply{Changed: op.changes, Msg: msg, Data: ret, Stats: stats}
}

// runArtifacts are the AAP artifacts of action run, or nil when they are not published (the role
// turns them off: it publishes the same names itself, with the session's statistics).
func runArtifacts(req RunRequest, rec record.Operation, c clock.Clock) map[string]any {
	if !req.Publish {
		return nil
	}
	return operationArtifacts(rec, req.Track || req.SessionID != "", c.Now())
}

// logAttempt writes one attempt to the host's syslog: its outcome, error type and the delay before
// the next attempt, as the role's record action does.
func logAttempt(env Env, name string, max int, a retry.Attempt) {
	switch {
	case a.Succeeded:
		env.logf("retry %s: attempt %d of %d succeeded", name, a.Number, max)
	case a.ShouldRetry:
		env.logf("retry %s: attempt %d of %d failed with %s; attempt %d follows in %s: %s", name, a.Number, max,
			a.ErrorType, a.Number+1, a.DelayBeforeRetry.Round(time.Millisecond), a.ErrorMessage)
	default:
		env.logf("retry %s: attempt %d of %d failed with %s; no retry: %s", name, a.Number, max, a.ErrorType, a.ErrorMessage)
	}
}

func failureMessage(name string, out retry.Outcome) string {
	last := "no attempt ran"
	if out.LastFailure != nil {
		last = out.LastFailure.Summary()
	}
	if out.Reason == retry.StopRejected && out.LastType.Reserved() {
		lastType := ""
		if n := len(out.Attempts); n > 0 {
			lastType = string(out.Attempts[n-1].ErrorType)
		}
		return refusal(name, out.LastType, len(out.Attempts), out.MaxAttempts, lastType, last)
	}
	return stopMessage(name, out.Reason, out.LastType, len(out.Attempts), out.MaxAttempts, last)
}

// checkRun is action run in check mode: nothing runs, the schedule is planned, and the
// guardrails are read (an open circuit breaker says the operation would fail at once).
func checkRun(req RunRequest, gr *guardRun, op *runner, pol retry.Policy, sessionID string, env Env) Reply {
	plan := planOf(pol)
	rec := record.Operation{OperationName: req.Name, SessionID: sessionID, Status: record.Planned,
		MaxAttempts: pol.MaxAttempts, Attempts: []record.Attempt{}, Context: req.Context}
	ret := RunResult{Operation: rec, PolicySources: req.Settings.Sources, Schedule: &plan}
	msg := fmt.Sprintf("check mode: %s was not run; up to %d attempts, worst-case wait %s s%s",
		op.describe(), pol.MaxAttempts, trimFloat(plan.WorstCaseWait), boundText(plan))
	if gr != nil {
		if f := gr.admit(context.Background()); f != nil {
			ret.ErrorType = string(f.Type)
			msg = fmt.Sprintf("check mode: %s was not run; it would fail at once with %s: %s", op.describe(), f.Type, f.Summary())
		}
		if gr.g.Settings().RetryBudget.Enabled {
			if d, err := gr.g.AllowRetry(gr.key); err == nil { // read-only in check mode
				d.Reason = "a retry now: " + d.Reason
				gr.budget = &d
			}
		}
		ret.GuardReport = gr.report()
		gr.warnAll(env)
	}
	return Reply{Msg: msg, Data: ret, Stats: runArtifacts(req, rec, env.Clock)}
}

// stopMessage says why retrying name stopped without success after attempts of maxAttempts.
func stopMessage(name string, reason retry.StopReason, typ retry.ErrorType, attempts, maxAttempts int, last string) string {
	switch reason {
	case retry.StopNonRetryable:
		return fmt.Sprintf("%s failed with %s, which is not retried (attempt %d of %d): %s",
			name, typ, attempts, maxAttempts, last)
	case retry.StopAttemptsExhausted:
		return fmt.Sprintf("%s failed after all %d attempts; last error %s: %s", name, attempts, typ, last)
	case retry.StopDeadlineExceeded:
		return fmt.Sprintf("%s stopped at max_total_time after %d of %d attempts; last error %s: %s",
			name, attempts, maxAttempts, typ, last)
	}
	return fmt.Sprintf("%s stopped (%s) after %d attempts; last error %s: %s", name, reason, attempts, typ, last)
}

func planOf(p retry.Policy) Schedule {
	plan := p.Schedule()
	s := Schedule{WorstCaseWait: plan.WorstCaseWait.Seconds(), WorstCaseTotal: plan.WorstCaseTotal.Seconds(),
		Bounded: plan.Bounded, RetryPolicy: string(p.RetryPolicy), JitterMode: string(p.JitterMode)}
	if !p.JitterEnabled {
		s.JitterMode = string(retry.JitterNone)
	}
	for _, a := range plan.Attempts {
		s.Attempts = append(s.Attempts, ScheduledAttempt{AttemptNumber: a.Number, Delay: a.Delay.Seconds(),
			WorstCaseDelay: a.WorstCaseDelay.Seconds()})
	}
	return s
}

func boundText(s Schedule) string {
	if s.Bounded {
		return fmt.Sprintf(", worst-case total %s s", trimFloat(s.WorstCaseTotal))
	}
	return " (attempts are unbounded: set attempt_timeout or max_total_time to bound the total)"
}

// runner runs the operation's attempts and keeps the last one's output.
type runner struct {
	cmd     *operation.Command
	req     *operation.HTTPRequest
	client  *http.Client
	clock   clock.Clock // the time a Retry-After date is counted from
	changes bool        // whether success means a change (a command, or a non-GET request)

	lastCmd  *operation.CommandResult
	lastHTTP *operation.HTTPResult
}

func newRunner(o Operation, c clock.Clock) *runner {
	r := &runner{cmd: o.Command, req: o.Request, client: o.Client, clock: c, changes: true}
	if o.Request != nil {
		m := o.Request.Method
		r.changes = m != "GET" && m != "HEAD" && m != "OPTIONS"
	}
	return r
}

func (o *runner) describe() string {
	if o.cmd != nil {
		if o.cmd.Shell != "" {
			return "the shell command"
		}
		return "command " + o.cmd.Argv[0]
	}
	return o.req.Method + " " + operation.Redact(o.req.URL)
}

func (o *runner) attempt(ctx context.Context, _ int) retry.Result {
	if o.cmd != nil {
		res, f := o.cmd.Run(ctx)
		o.lastCmd = &res
		return retry.Result{Failure: f}
	}
	res, f, after := o.req.Do(ctx, o.client, o.clock.Now())
	o.lastHTTP = &res
	return retry.Result{Failure: f, RetryAfter: after}
}

func (o *runner) fill(r *RunResult, alreadyDone bool) {
	if c := o.lastCmd; c != nil {
		if !alreadyDone { // a failed attempt's rc would fail the task
			rc := c.RC
			r.RC = &rc
		}
		// Trailing newlines are stripped, as ansible.builtin.command does.
		stdout, stderr := strings.TrimRight(c.Stdout, "\r\n"), strings.TrimRight(c.Stderr, "\r\n")
		r.Stdout, r.Stderr = &stdout, &stderr
		r.StdoutTruncated, r.StderrTruncated, r.Cmd = c.StdoutTruncated, c.StderrTruncated, c.Cmd
	}
	r.Response = o.lastHTTP
}

// checker runs the idempotency check.
type checker struct {
	IdempotencyCheck
	clock clock.Clock
}

func newChecker(c *IdempotencyCheck, env Env) *checker {
	if c == nil {
		return nil
	}
	if c.Request != nil {
		c.Request.Secrets = env.Secrets
	}
	return &checker{IdempotencyCheck: *c, clock: env.Clock}
}

func (ic *checker) done(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, ic.Timeout)
	defer cancel()
	if ic.Command != nil {
		_, f := ic.Command.Run(ctx)
		return f == nil
	}
	_, f, _ := ic.Request.Do(ctx, ic.Client, ic.clock.Now())
	return f == nil
}

// trackRun records a finished run of action run in its session; errorType is the type of the
// failure that ended it ("" when it succeeded).
func trackRun(c Common, env Env, rec record.Operation, errorType retry.ErrorType) (string, error) {
	op := rec
	op.Host = c.Host
	if rec.Status == record.Failed {
		op.ErrorType = string(errorType)
	}
	st := &session.Store{Dir: c.StateDir, Clock: env.Clock}
	if _, err := st.RecordOperation(rec.SessionID, op, errorEntries(&op, env.Clock.Now())...); err != nil {
		return "", err
	}
	return st.Files().Session(rec.SessionID), logAttempts(st, c, rec.SessionID, &op)
}

// logAttempts writes the per-attempt logs of a finished operation, when asked. (Its error log
// entry, when it failed, is recorded with it: see errorEntries.)
func logAttempts(st *session.Store, c Common, id string, op *record.Operation) error {
	if !c.LogEach {
		return nil
	}
	for _, a := range op.Attempts {
		if err := st.WriteAttempt(id, op, a); err != nil {
			return err
		}
	}
	return nil
}
