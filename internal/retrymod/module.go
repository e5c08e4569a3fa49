package retrymod

import (
	"io"
	"time"

	"resilience.ops/internal/clock"
	"resilience.ops/internal/manager"
	"resilience.ops/internal/module"
	"resilience.ops/internal/retrybackoff"
	"resilience.ops/internal/session"
)

// Main runs the retry_manager program with argv (os.Args): the module when ansible-core runs it
// (module.ArgsFile), else the retry_backoff command line.
func Main(argv []string, stdout, stderr io.Writer, getenv func(string) string) int {
	if path, ok := module.ArgsFile(argv); ok {
		return module.Run(path, stdout, Spec, Handle)
	}
	return retrybackoff.Main(argv, stdout, stderr, getenv)
}

// deps are what a run takes from outside: the clock and the random source of jitter (nil: the
// real ones). Tests replace them.
type deps struct {
	clock clock.Clock
	rnd   func() float64
}

// Handle implements the module.
func Handle(ctx *module.Ctx) (module.Result, error) { return handle(ctx, deps{}) }

// actionHandlers decode the parameters of each action into its request and call the core.
var actionHandlers = map[string]func(*module.Ctx, module.Params, bool, manager.Env) (manager.Reply, error){
	actionRun:         runAction,
	actionStart:       startAction,
	actionRecord:      recordAction,
	actionFinalize:    finalizeAction,
	actionCleanup:     retentionAction,
	actionCompress:    retentionAction,
	actionWait:        waitAction,
	actionAdmit:       admitAction,
	actionSendMetrics: sendAction,
	actionSendAlerts:  sendAction,
}

func handle(ctx *module.Ctx, d deps) (module.Result, error) {
	p, fromSettings, err := applySettings(ctx.Params)
	if err != nil {
		return module.Result{}, err
	}
	env := manager.Env{Clock: clock.Or(d.clock), Rand: d.rnd, Secrets: ctx.Secrets(),
		Warn: func(msg string) { ctx.Warn("%s", msg) }, Log: func(msg string) { ctx.Log("%s", msg) }}
	reply, err := actionHandlers[p.Str("action")](ctx, p, fromSettings, env)
	if err != nil {
		return module.Result{}, err
	}
	if reply.Failed {
		return module.Result{}, &module.Failure{Msg: reply.Msg, Changed: reply.Changed, Data: reply.Data, Stats: reply.Stats}
	}
	return module.Result{Changed: reply.Changed, Msg: reply.Msg, Data: reply.Data, Stats: reply.Stats}, nil
}

// runAction is action run.
func runAction(ctx *module.Ctx, p module.Params, fromSettings bool, env manager.Env) (manager.Reply, error) {
	if err := requireOperation(p); err != nil {
		return manager.Reply{}, err
	}
	req := manager.RunRequest{Common: common(ctx, p), Name: p.Str("operation"), SessionID: p.Str("session_id"),
		Track: p.Bool("track_session"), Publish: p.Bool("publish_artifacts"), TextfileDir: p.Str("textfile_dir")}
	if req.Track && req.SessionID != "" {
		if err := session.ValidateID(req.SessionID); err != nil {
			return manager.Reply{}, err
		}
	}
	var err error
	if req.Settings, err = resolvePolicy(p, fromSettings); err != nil {
		return manager.Reply{}, err
	}
	if req.Classifier, err = classifier(p); err != nil {
		return manager.Reply{}, err
	}
	if req.Operation, err = buildOperation(p); err != nil {
		return manager.Reply{}, err
	}
	if req.Check, err = buildCheck(p); err != nil {
		return manager.Reply{}, err
	}
	if req.Guard, err = resolveGuardrails(p); err != nil {
		return manager.Reply{}, err
	}
	return manager.Run(req, env)
}

// startAction is action start. With an operation it also resolves the operation's settings.
func startAction(ctx *module.Ctx, p module.Params, fromSettings bool, env manager.Env) (manager.Reply, error) {
	id, err := sessionID(p, false)
	if err != nil {
		return manager.Reply{}, err
	}
	req := manager.StartRequest{Common: common(ctx, p), SessionID: id, Name: p.Str("operation")}
	if req.Name != "" {
		if req.Settings, err = resolvePolicy(p, fromSettings); err != nil {
			return manager.Reply{}, err
		}
		if req.Guard, err = resolveGuardrails(p); err != nil {
			return manager.Reply{}, err
		}
	}
	// external_systems are used by the handlers at the end of the play: a mistake fails now.
	if _, err := parseSystems(p); err != nil {
		return manager.Reply{}, err
	}
	return manager.Start(req, env)
}

// recordAction is action record: one attempt that ran elsewhere, or (operation_result) a
// finished run of action run, or (operation_results) the finished runs of several hosts.
func recordAction(ctx *module.Ctx, p module.Params, fromSettings bool, env manager.Env) (manager.Reply, error) {
	id, err := sessionID(p, true)
	if err != nil {
		return manager.Reply{}, err
	}
	if p.Has("operation_result") {
		op, err := operationResult(p)
		if err != nil {
			return manager.Reply{}, err
		}
		return manager.Ingest(manager.IngestRequest{Common: common(ctx, p), SessionID: id, Name: p.Str("operation"), Operation: op}, env)
	}
	if p.Has("operation_results") {
		ops, rejected := operationResults(p)
		return manager.IngestAll(manager.IngestAllRequest{Common: common(ctx, p), SessionID: id, Name: p.Str("operation"),
			Operations: ops, Rejected: rejected}, env)
	}
	if err := requireOperation(p); err != nil {
		return manager.Reply{}, err
	}
	req := manager.RecordRequest{Common: common(ctx, p), SessionID: id, Name: p.Str("operation"),
		OperationID: p.Str("operation_id"), Attempt: int(p.Int("attempt")), Now: env.Clock.Now()}
	if req.Outcome, err = outcomeOf(p.Dict("outcome"), req.Now); err != nil {
		return manager.Reply{}, err
	}
	if req.Settings, err = resolvePolicy(p, fromSettings); err != nil {
		return manager.Reply{}, err
	}
	if req.Classifier, err = classifier(p); err != nil {
		return manager.Reply{}, err
	}
	if req.Guard, err = resolveGuardrails(p); err != nil {
		return manager.Reply{}, err
	}
	if p.Has("attempt_start") {
		s := p.Float("attempt_start")
		req.AttemptStart = &s
	}
	return manager.Record(req, env)
}

// finalizeAction is action finalize.
func finalizeAction(ctx *module.Ctx, p module.Params, _ bool, env manager.Env) (manager.Reply, error) {
	id, err := sessionID(p, true)
	if err != nil {
		return manager.Reply{}, err
	}
	th, err := thresholds(p)
	if err != nil {
		return manager.Reply{}, err
	}
	return manager.Finalize(manager.FinalizeRequest{Common: common(ctx, p), SessionID: id,
		Status: session.Status(p.Str("session_status")), Thresholds: th}, env)
}

// retentionAction is actions cleanup and compress; the session given in session_id, the current
// one, is left alone.
func retentionAction(ctx *module.Ctx, p module.Params, _ bool, env manager.Env) (manager.Reply, error) {
	keep, err := sessionID(p, false)
	if err != nil {
		return manager.Reply{}, err
	}
	r, err := retentionOf(p)
	if err != nil {
		return manager.Reply{}, err
	}
	return manager.Retention(manager.RetentionRequest{Common: common(ctx, p), Keep: keep, Rules: r,
		Compress: p.Str("action") == actionCompress}, env)
}

// waitAction is action wait.
func waitAction(ctx *module.Ctx, p module.Params, _ bool, env manager.Env) (manager.Reply, error) {
	if !p.Has("seconds") {
		return manager.Reply{}, module.ParamErr("seconds", "is required with action wait")
	}
	return manager.Wait(p.Float("seconds"), ctx.CheckMode, env), nil
}

// admitAction is action admit: the circuit breaker in front of each attempt of the role's tasks
// files.
func admitAction(ctx *module.Ctx, p module.Params, _ bool, env manager.Env) (manager.Reply, error) {
	id, err := sessionID(p, true)
	if err != nil {
		return manager.Reply{}, err
	}
	if err := requireOperation(p); err != nil {
		return manager.Reply{}, err
	}
	gc, err := resolveGuardrails(p)
	if err != nil {
		return manager.Reply{}, err
	}
	return manager.Admit(manager.AdmitRequest{Common: common(ctx, p), SessionID: id, Name: p.Str("operation"),
		OperationID: p.Str("operation_id"), Attempt: int(p.Int("attempt")), Guard: gc,
		Settings: func() (manager.Settings, error) { return resolvePolicy(p, false) }}, env)
}

// sendAction is actions send_metrics and send_alerts.
func sendAction(ctx *module.Ctx, p module.Params, _ bool, env manager.Env) (manager.Reply, error) {
	id, err := sessionID(p, true)
	if err != nil {
		return manager.Reply{}, err
	}
	systems, err := parseSystems(p)
	if err != nil {
		return manager.Reply{}, err
	}
	th, err := thresholds(p)
	if err != nil {
		return manager.Reply{}, err
	}
	return manager.Send(manager.SendRequest{Common: common(ctx, p), SessionID: id, Systems: systems, Thresholds: th,
		Alerts: p.Str("action") == actionSendAlerts}, env)
}

// NewSessionID returns "retry_<unix>_<6 random digits>".
func NewSessionID(now time.Time) string { return manager.NewSessionID(now) }
