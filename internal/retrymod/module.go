package retrymod

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"resilience.ops/internal/module"
	"resilience.ops/internal/operation"
	"resilience.ops/internal/retry"
	"resilience.ops/internal/session"
)

// Return is what the module returns besides the common keys: the operation record in the shape
// users' reports consume, plus the last attempt's output.
type Return struct {
	retry.OperationRecord
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
	// SessionFile is set when track_session recorded the operation.
	SessionFile string `json:"session_file,omitempty"`
	// Host is the host the operation ran for (the host parameter), so that recording this result
	// (action record, operation_result) names the same host's records.
	Host string `json:"host,omitempty"`
	guardReport
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

// deps are what a run needs from outside: replaced in tests.
type deps struct {
	clock retry.Clock
	rnd   func() float64
	now   func() time.Time
}

// Handle implements the module.
func Handle(ctx *module.Ctx) (module.Result, error) { return handle(ctx, deps{}) }

func handle(ctx *module.Ctx, d deps) (module.Result, error) {
	if d.now == nil {
		d.now = time.Now
	}
	p, fromSettings, err := applySettings(ctx.Params)
	if err != nil {
		return module.Result{}, err
	}
	switch p.Str("action") {
	case actionStart:
		return handleStart(ctx, p, fromSettings, d)
	case actionRecord:
		return handleRecord(ctx, p, fromSettings, d)
	case actionFinalize:
		return handleFinalize(ctx, p, d)
	case actionCleanup, actionCompress:
		return handleRetention(ctx, p, d)
	case actionWait:
		return handleWait(ctx, p, d)
	case actionAdmit:
		return handleAdmit(ctx, p, d)
	case actionSendMetrics, actionSendAlerts:
		return handleSend(ctx, p, d)
	}
	return handleRun(ctx, p, fromSettings, d)
}

// requireOperation fails when the operation parameter is missing (run and record need it).
func requireOperation(p module.Params) error {
	if p.Str("operation") == "" {
		return fmt.Errorf("parameter operation: is required with action %s", p.Str("action"))
	}
	return nil
}

// handleRun runs the command or the HTTP request with retries (action run).
func handleRun(ctx *module.Ctx, p module.Params, fromSettings bool, d deps) (module.Result, error) {
	if err := requireOperation(p); err != nil {
		return module.Result{}, err
	}
	track := p.Bool("track_session")
	if track && p.Str("session_id") != "" {
		if err := session.ValidateID(p.Str("session_id")); err != nil {
			return module.Result{}, err
		}
	}
	pol, sources, err := resolvePolicy(p, fromSettings)
	if err != nil {
		return module.Result{}, err
	}
	cls, err := classifier(p)
	if err != nil {
		return module.Result{}, err
	}
	op, err := buildOperation(p)
	if err != nil {
		return module.Result{}, err
	}
	check, err := buildCheck(p)
	if err != nil {
		return module.Result{}, err
	}
	if op.req != nil {
		// The server's answer is scrubbed of every secret of the task (its secret headers too)
		// before it is cut to a message or kept in a session file.
		op.req.Secrets = ctx.Secrets()
		if pol.AttemptTimeout == 0 {
			pol.AttemptTimeout = operation.DefaultTimeout // a network call always has a timeout
		}
	}
	if check != nil && check.req != nil {
		check.req.Secrets = ctx.Secrets()
	}
	name := p.Str("operation")
	sessionID := p.Str("session_id")
	if sessionID == "" {
		sessionID = NewSessionID(d.now())
	}
	gr, pol, err := startGuardRun(p, pol, ctx.CheckMode, d)
	if err != nil {
		return module.Result{}, err
	}
	if gr != nil {
		defer gr.release()
	}
	if ctx.CheckMode {
		return checkRun(ctx, p, gr, op, pol, sources, name, sessionID, d)
	}

	opts := []retry.Option{retry.WithClassifier(cls), retry.WithOnAttempt(func(a retry.Attempt) {
		if gr != nil {
			gr.after(a)
		}
		logAttempt(ctx, name, pol.MaxAttempts, a)
	})}
	if gr != nil {
		opts = append(opts, retry.WithGate(gr.gate))
	}
	if d.clock != nil {
		opts = append(opts, retry.WithClock(d.clock))
	}
	if d.rnd != nil {
		opts = append(opts, retry.WithRandom(d.rnd))
	}
	if check != nil {
		opts = append(opts, retry.WithBeforeRetry(func(c context.Context, _ int, _ retry.ErrorType) bool {
			return check.done(c)
		}))
	}
	eng, err := retry.NewEngine(pol, opts...)
	if err != nil {
		return module.Result{}, err
	}
	out := eng.Do(context.Background(), op.attempt)
	rec := retry.NewOperationRecord(session.NewOperationID(name, out.Start, d.rnd), name, sessionID, out)
	rec.Context = p.Dict("context")
	if !p.Bool("debug_mode") {
		for i := range rec.Attempts {
			rec.Attempts[i].Evidence = nil
		}
	}
	ret := Return{OperationRecord: rec, ErrorType: string(out.LastType), PolicySources: sources, Host: p.Str("host")}
	op.fill(&ret, out.Reason == retry.StopAlreadyDone)
	if gr != nil {
		ret.guardReport = gr.report()
		for _, w := range gr.warnings {
			ctx.Warn("%s", w)
		}
		if dir := p.Str("textfile_dir"); dir != "" && gr.g.Settings().CircuitBreaker.Enabled {
			if err := writeBreakerMetrics(dir, gr.g, gr.key); err != nil {
				ctx.Warn("could not write the circuit breaker metrics of %s: %v", gr.key, err)
			}
		}
	}
	if track {
		// The operation ran: a bookkeeping problem must not turn its result into a failure that
		// invites running it again, so it is a warning.
		if path, err := trackRun(p, d, rec, out.LastType); err != nil {
			ctx.Warn("%s was not recorded in retry session %s: %v", name, sessionID, err)
		} else {
			ret.SessionFile = path
		}
	}
	stats := runArtifacts(p, rec, track, d)
	if !out.Succeeded() {
		// ansible-core drops the stats of a task that ends failed; they count when failed_when
		// keeps the task from failing (the role does so, then fails the host itself).
		return module.Result{}, &module.Failure{Msg: failureMessage(name, out), Data: ret, Changed: op.changes, Stats: stats}
	}
	msg := fmt.Sprintf("%s succeeded after %d of %d attempts", name, len(out.Attempts), out.MaxAttempts)
	if out.Reason == retry.StopAlreadyDone {
		msg = fmt.Sprintf("%s: the idempotency check found the effect already present after %d attempts", name, len(out.Attempts))
	}
	return module.Result{Changed: op.changes, Msg: msg, Data: ret, Stats: stats}, nil
}

// runArtifacts are the AAP artifacts of action run, or nil when publish_artifacts is off (the
// role turns it off: it publishes the same names itself, with the session's statistics).
func runArtifacts(p module.Params, rec retry.OperationRecord, track bool, d deps) map[string]any {
	if !p.Bool("publish_artifacts") {
		return nil
	}
	return operationArtifacts(rec, track || p.Str("session_id") != "", d.now())
}

// logAttempt writes one attempt to the host's syslog: its outcome, error type and the delay before
// the next attempt, as the role's record action does.
func logAttempt(ctx *module.Ctx, name string, max int, a retry.Attempt) {
	switch {
	case a.Succeeded:
		ctx.Log("retry %s: attempt %d of %d succeeded", name, a.Number, max)
	case a.ShouldRetry:
		ctx.Log("retry %s: attempt %d of %d failed with %s; attempt %d follows in %s: %s", name, a.Number, max,
			a.ErrorType, a.Number+1, a.DelayBeforeRetry.Round(time.Millisecond), a.ErrorMessage)
	default:
		ctx.Log("retry %s: attempt %d of %d failed with %s; no retry: %s", name, a.Number, max, a.ErrorType, a.ErrorMessage)
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
func checkRun(ctx *module.Ctx, p module.Params, gr *guardRun, op *op, pol retry.Policy, sources []string, name, sessionID string, d deps) (module.Result, error) {
	plan := planOf(pol)
	rec := retry.OperationRecord{OperationName: name, SessionID: sessionID, Status: "planned",
		MaxAttempts: pol.MaxAttempts, Attempts: []retry.Attempt{}, Context: p.Dict("context")}
	ret := Return{OperationRecord: rec, PolicySources: sources, Schedule: &plan}
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
		ret.guardReport = gr.report()
		for _, w := range gr.warnings {
			ctx.Warn("%s", w)
		}
	}
	return module.Result{Msg: msg, Data: ret, Stats: runArtifacts(p, rec, p.Bool("track_session"), d)}, nil
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

func trimFloat(f float64) string { return strings.TrimSuffix(fmt.Sprintf("%.3f", f), ".000") }

// NewSessionID returns "retry_<unix>_<6 random digits>" (see session.NewID).
func NewSessionID(now time.Time) string { return session.NewID(now) }

// op is the operation of one task: a command or an HTTP request.
type op struct {
	cmd     *operation.Command
	req     *operation.HTTPRequest
	client  *http.Client
	changes bool // whether success means a change (a command, or a non-GET request)

	lastCmd  *operation.CommandResult
	lastHTTP *operation.HTTPResult
}

func (o *op) describe() string {
	if o.cmd != nil {
		if o.cmd.Shell != "" {
			return "the shell command"
		}
		return "command " + o.cmd.Argv[0]
	}
	return o.req.Method + " " + operation.Redact(o.req.URL)
}

func (o *op) attempt(ctx context.Context, _ int) retry.Result {
	if o.cmd != nil {
		res, f := o.cmd.Run(ctx)
		o.lastCmd = &res
		return retry.Result{Failure: f}
	}
	res, f, after := o.req.Do(ctx, o.client, time.Now())
	o.lastHTTP = &res
	return retry.Result{Failure: f, RetryAfter: after}
}

func (o *op) fill(r *Return, alreadyDone bool) {
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

func buildOperation(p module.Params) (*op, error) {
	hasCmd := p.Has("argv") || p.Has("cmd")
	hasURL := p.Has("url")
	switch {
	case hasCmd && hasURL:
		return nil, fmt.Errorf("parameters argv/cmd and url are mutually exclusive: an operation is a command or an HTTP request")
	case !hasCmd && !hasURL:
		return nil, fmt.Errorf("one of argv, cmd or url is required: the operation to run")
	case hasCmd:
		c, err := commandFrom(p, "")
		if err != nil {
			return nil, err
		}
		c.Chdir, c.Stdin, c.MaxOutput = p.Str("chdir"), p.Str("stdin"), int(p.Int("max_output"))
		c.Env = map[string]string{}
		for k, v := range p.Dict("environment") {
			c.Env[k] = fmt.Sprint(v)
		}
		return &op{cmd: c, changes: true}, nil
	}
	if _, err := operation.ParseURL("url", p.Str("url")); err != nil {
		return nil, err
	}
	req := &operation.HTTPRequest{Method: p.Str("method"), URL: p.Str("url"), Headers: map[string]string{},
		User: p.Str("url_username"), Password: p.Str("url_password"), BearerToken: p.Str("bearer_token"),
		ValidateCerts: p.Bool("validate_certs"), CAPath: p.Str("ca_path")}
	for k, v := range p.Dict("headers") {
		req.Headers[k] = fmt.Sprint(v)
	}
	for _, c := range p.List("status_code") {
		req.ExpectStatus = append(req.ExpectStatus, int(c.(int64)))
	}
	if body, ok := p["body"]; ok && body != nil {
		if p.Str("body_format") == "json" {
			b, err := json.Marshal(body)
			if err != nil {
				return nil, fmt.Errorf("parameter body: cannot be encoded as JSON: %v", err)
			}
			req.Body = b
			if _, set := req.Headers["Content-Type"]; !set {
				req.Headers["Content-Type"] = "application/json"
			}
		} else {
			s, ok := body.(string)
			if !ok {
				return nil, fmt.Errorf("parameter body: must be a string with body_format raw (use body_format: json for a dictionary or list)")
			}
			req.Body = []byte(s)
		}
	}
	client, err := req.NewClient()
	if err != nil {
		return nil, err
	}
	m := req.Method
	return &op{req: req, client: client, changes: m != "GET" && m != "HEAD" && m != "OPTIONS"}, nil
}

// commandFrom builds a command from argv, or cmd (split into words unless use_shell).
func commandFrom(p module.Params, prefix string) (*operation.Command, error) {
	c := &operation.Command{}
	switch {
	case p.Has("argv") && p.Has("cmd"):
		return nil, fmt.Errorf("parameters %sargv and %scmd are mutually exclusive", prefix, prefix)
	case p.Has("argv"):
		c.Argv = p.Strings("argv")
	case p.Bool("use_shell"):
		c.Shell = p.Str("cmd")
	default:
		words, err := splitWords(p.Str("cmd"))
		if err != nil {
			return nil, fmt.Errorf("parameter %scmd: %v", prefix, err)
		}
		c.Argv = words
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("parameter %s%v", prefix, err)
	}
	return c, nil
}

// idemCheck runs before each retry: when it succeeds, the operation's effect is already there.
type idemCheck struct {
	cmd     *operation.Command
	req     *operation.HTTPRequest
	client  *http.Client
	timeout time.Duration
}

func buildCheck(p module.Params) (*idemCheck, error) {
	raw := p.Dict("idempotency_check")
	if raw == nil {
		return nil, nil
	}
	dec, err := checkSpec.Decode(raw)
	if err != nil {
		return nil, fmt.Errorf("idempotency_check: %w", err)
	}
	ic := &idemCheck{timeout: durationOf(dec.Float("timeout"))}
	if dec.Has("url") {
		if _, err := operation.ParseURL("idempotency_check.url", dec.Str("url")); err != nil {
			return nil, err
		}
		ic.req = &operation.HTTPRequest{Method: dec.Str("method"), URL: dec.Str("url"), ValidateCerts: p.Bool("validate_certs"),
			CAPath: p.Str("ca_path"), User: p.Str("url_username"), Password: p.Str("url_password"), BearerToken: p.Str("bearer_token")}
		for _, c := range dec.List("status_code") {
			ic.req.ExpectStatus = append(ic.req.ExpectStatus, int(c.(int64)))
		}
		if ic.client, err = ic.req.NewClient(); err != nil {
			return nil, err
		}
		return ic, nil
	}
	if !dec.Has("argv") && !dec.Has("cmd") {
		return nil, fmt.Errorf("idempotency_check: give argv, cmd or url")
	}
	if ic.cmd, err = commandFrom(dec, "idempotency_check."); err != nil {
		return nil, err
	}
	ic.cmd.Chdir = dec.Str("chdir")
	return ic, nil
}

func (ic *idemCheck) done(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, ic.timeout)
	defer cancel()
	if ic.cmd != nil {
		_, f := ic.cmd.Run(ctx)
		return f == nil
	}
	_, f, _ := ic.req.Do(ctx, ic.client, time.Now())
	return f == nil
}
