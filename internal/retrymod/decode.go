package retrymod

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"resilience.ops/internal/duration"
	"resilience.ops/internal/export"
	"resilience.ops/internal/field"
	"resilience.ops/internal/manager"
	"resilience.ops/internal/module"
	"resilience.ops/internal/operation"
	"resilience.ops/internal/record"
	"resilience.ops/internal/retry"
	"resilience.ops/internal/session"
)

// The decoding of the parameters into manager's types. Spec.Decode has checked each parameter's
// type and range; what is decoded here are the dictionaries and the parameters that depend on
// each other, each into the typed value the core takes.

// requireOperation fails when the operation parameter is missing.
func requireOperation(p module.Params) error {
	if p.Str("operation") == "" {
		return fmt.Errorf("parameter operation: is required with action %s", p.Str("action"))
	}
	return nil
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

// common are the options of p that every session action shares.
func common(ctx *module.Ctx, p module.Params) manager.Common {
	return manager.Common{StateDir: p.Str("state_dir"), Host: p.Str("host"), Context: p.Dict("context"),
		Debug: p.Bool("debug_mode"), LogEach: p.Bool("log_individual_attempts"), CheckMode: ctx.CheckMode}
}

// overrides turns decoded policy parameters into retry.Overrides (set fields only).
func overrides(p module.Params) retry.Overrides {
	var o retry.Overrides
	if p.Has("max_attempts") {
		v := int(p.Int("max_attempts"))
		o.MaxAttempts = &v
	}
	if p.Has("retry_policy") {
		v := retry.PolicyKind(p.Str("retry_policy"))
		o.RetryPolicy = &v
	}
	durs := []struct {
		name string
		dst  **time.Duration
	}{{"base_delay", &o.BaseDelay}, {"max_delay", &o.MaxDelay}, {"max_total_time", &o.MaxTotalTime}, {"attempt_timeout", &o.AttemptTimeout}}
	for _, d := range durs {
		if p.Has(d.name) {
			v := duration.FromSeconds(p.Float(d.name))
			*d.dst = &v
		}
	}
	if p.Has("backoff_multiplier") {
		v := p.Float("backoff_multiplier")
		o.BackoffMultiplier = &v
	}
	if p.Has("jitter_enabled") {
		v := p.Bool("jitter_enabled")
		o.JitterEnabled = &v
	}
	if p.Has("jitter_mode") {
		v := retry.JitterMode(p.Str("jitter_mode"))
		o.JitterMode = &v
	}
	if p.Has("retry_unknown") {
		v := p.Bool("retry_unknown")
		o.RetryUnknown = &v
	}
	if p.Has("retry_conditions") {
		o.RetryConditions = []retry.ErrorType{}
		for _, s := range p.Strings("retry_conditions") {
			o.RetryConditions = append(o.RetryConditions, retry.ErrorType(s))
		}
	}
	return o
}

// policyLayers decodes the retry settings of the operation of p: the task's (with the keys of the
// settings parameter over them; fromSettings says whether it set any) and operation_configs'.
// Every entry of operation_configs is checked, not only the operation's.
func policyLayers(p module.Params, fromSettings bool) (manager.PolicyLayers, error) {
	l := manager.PolicyLayers{Global: overrides(p), FromSettings: fromSettings, Name: p.Str("operation")}
	configs := p.Dict("operation_configs")
	names := make([]string, 0, len(configs))
	for name := range configs {
		names = append(names, name)
	}
	sort.Strings(names)
	sub := operationConfigSpec()
	for _, name := range names {
		raw, ok := configs[name].(map[string]any)
		if !ok {
			return l, module.ParamErr("operation_configs."+name, "must be a dictionary of retry settings")
		}
		dec, err := sub.Decode(raw)
		if err != nil {
			return l, fmt.Errorf("operation_configs.%s: %w", name, err)
		}
		if name == l.Name {
			o := overrides(dec)
			l.Operation = &o
		}
	}
	return l, nil
}

// resolvePolicy decodes and resolves the retry settings of the operation of p.
func resolvePolicy(p module.Params, fromSettings bool) (manager.Settings, error) {
	l, err := policyLayers(p, fromSettings)
	if err != nil {
		return manager.Settings{}, err
	}
	return manager.ResolvePolicy(l)
}

// classifier compiles error_rules.
func classifier(p module.Params) (*retry.Classifier, error) {
	var rules []retry.Rule
	for i, raw := range p.List("error_rules") {
		m, _ := raw.(map[string]any)
		dec, err := ruleSpec.Decode(m)
		if err != nil {
			return nil, fmt.Errorf("error_rules[%d]: %w", i, err)
		}
		r := retry.Rule{Type: retry.ErrorType(dec.Str("error_type")), Pattern: dec.Str("pattern"),
			HTTPStatus: int(dec.Int("http_status"))}
		if f := dec.Str("field"); f != "" && f != "any" {
			r.Field = retry.Field(f)
		}
		if dec.Has("exit_code") {
			c := int(dec.Int("exit_code"))
			r.ExitCode = &c
		}
		if r.Pattern == "" && r.ExitCode == nil && r.HTTPStatus == 0 {
			return nil, fmt.Errorf("error_rules[%d]: give at least one of pattern, exit_code, http_status", i)
		}
		rules = append(rules, r)
	}
	c, err := retry.NewClassifier(rules)
	if err != nil {
		return nil, fmt.Errorf("error_rules: %s", field.Line(err))
	}
	return c, nil
}

// buildOperation decodes the command (argv or cmd) or the HTTP request (url) of action run.
func buildOperation(p module.Params) (manager.Operation, error) {
	hasCmd := p.Has("argv") || p.Has("cmd")
	hasURL := p.Has("url")
	switch {
	case hasCmd && hasURL:
		return manager.Operation{}, fmt.Errorf("parameters argv/cmd and url are mutually exclusive: an operation is a command or an HTTP request")
	case !hasCmd && !hasURL:
		return manager.Operation{}, fmt.Errorf("one of argv, cmd or url is required: the operation to run")
	case hasCmd:
		c, err := commandFrom(p, "")
		if err != nil {
			return manager.Operation{}, err
		}
		c.Chdir, c.Stdin, c.MaxOutput = p.Str("chdir"), p.Str("stdin"), int(p.Int("max_output"))
		c.Env = map[string]string{}
		for k, v := range p.Dict("environment") {
			c.Env[k] = fmt.Sprint(v)
		}
		return manager.Operation{Command: c}, nil
	}
	req, err := httpRequest(p)
	if err != nil {
		return manager.Operation{}, err
	}
	client, err := req.NewClient()
	if err != nil {
		return manager.Operation{}, err
	}
	return manager.Operation{Request: req, Client: client}, nil
}

// httpRequest decodes the HTTP request of action run: url, method, headers, body, the statuses
// that count as success, credentials and TLS.
func httpRequest(p module.Params) (*operation.HTTPRequest, error) {
	if _, err := operation.ParseURL("url", p.Str("url")); err != nil {
		return nil, err
	}
	req := &operation.HTTPRequest{Method: p.Str("method"), URL: p.Str("url"), Headers: map[string]string{},
		User: p.Str("url_username"), Password: p.Str("url_password"), BearerToken: p.Str("bearer_token"),
		ValidateCerts: p.Bool("validate_certs"), CAPath: p.Str("ca_path")}
	for k, v := range p.Dict("headers") {
		req.Headers[k] = fmt.Sprint(v)
	}
	req.ExpectStatus = statuses(p.List("status_code"))
	body, ok := p["body"]
	if !ok || body == nil {
		return req, nil
	}
	if p.Str("body_format") != "json" {
		s, ok := body.(string)
		if !ok {
			return nil, fmt.Errorf("parameter body: must be a string with body_format raw (use body_format: json for a dictionary or list)")
		}
		req.Body = []byte(s)
		return req, nil
	}
	b, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("parameter body: cannot be encoded as JSON: %v", err)
	}
	req.Body = b
	if _, set := req.Headers["Content-Type"]; !set {
		req.Headers["Content-Type"] = "application/json"
	}
	return req, nil
}

// statuses are the decoded integers of a status_code list.
func statuses(l []any) []int {
	var out []int
	for _, c := range l {
		if n, ok := c.(int64); ok {
			out = append(out, int(n))
		}
	}
	return out
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

// buildCheck decodes idempotency_check: a command or an HTTP request of its own, which uses the
// task's credentials and TLS settings. nil when not given.
func buildCheck(p module.Params) (*manager.IdempotencyCheck, error) {
	raw := p.Dict("idempotency_check")
	if raw == nil {
		return nil, nil
	}
	dec, err := checkSpec.Decode(raw)
	if err != nil {
		return nil, fmt.Errorf("idempotency_check: %w", err)
	}
	ic := &manager.IdempotencyCheck{Timeout: duration.FromSeconds(dec.Float("timeout"))}
	if dec.Has("url") {
		if _, err := operation.ParseURL("idempotency_check.url", dec.Str("url")); err != nil {
			return nil, err
		}
		ic.Request = &operation.HTTPRequest{Method: dec.Str("method"), URL: dec.Str("url"), ValidateCerts: p.Bool("validate_certs"),
			CAPath: p.Str("ca_path"), User: p.Str("url_username"), Password: p.Str("url_password"), BearerToken: p.Str("bearer_token"),
			ExpectStatus: statuses(dec.List("status_code"))}
		if ic.Client, err = ic.Request.NewClient(); err != nil {
			return nil, err
		}
		return ic, nil
	}
	if !dec.Has("argv") && !dec.Has("cmd") {
		return nil, fmt.Errorf("idempotency_check: give argv, cmd or url")
	}
	if ic.Command, err = commandFrom(dec, "idempotency_check."); err != nil {
		return nil, err
	}
	ic.Command.Chdir = dec.Str("chdir")
	return ic, nil
}

// outcomeOf decodes the outcome parameter. Explicit keys (msg, stdout, stderr, rc, status,
// retry_after) win over what is found in result, the failed task's registered result
// (ansible_failed_result in a rescue section). A Retry-After date is counted from now.
func outcomeOf(raw map[string]any, now time.Time) (manager.Outcome, error) {
	if raw == nil {
		return manager.Outcome{}, fmt.Errorf("parameter outcome: is required with action record (or give operation_result)")
	}
	dec, err := outcomeSpec.Decode(raw)
	if err != nil {
		return manager.Outcome{}, fmt.Errorf("outcome: %w", err)
	}
	o := manager.Outcome{Failed: dec.Bool("failed"), Task: dec.Str("task")}
	if !o.Failed {
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
		o.RetryAfter, _ = retry.ParseRetryAfter(retryAfter, now)
	}
	o.Failure = f
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
			if failed, _ := m["failed"].(bool); failed {
				retryAfter = mergeItem(&f, m, retryAfter)
				break
			}
		}
	}
	return f, retryAfter
}

// mergeItem fills f, the failure of a loop, with what its first failed item m says; a loop's own
// msg is "One or more items failed": the item says what went wrong.
func mergeItem(f *retry.Failure, m map[string]any, retryAfter string) string {
	inner, ra := failureFromResult(m, 1)
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
	return retryAfter
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

// number reads an integer of a task result (rc, status): a whole JSON number, or a string of
// digits as a module may report it. Unlike a parameter, "5.0" is not an exit status.
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

// operationResult decodes operation_result, the registered result of a finished action run.
func operationResult(p module.Params) (record.Operation, error) {
	op, err := finishedRun(p.Dict("operation_result"), "operation_result")
	if err != nil {
		return op, err
	}
	return op, nil
}

// operationResults decodes operation_results, the registered results of the runs of several
// hosts: the finished runs, and the entries that are not one (a check-mode plan, a skipped
// task), by index and why.
func operationResults(p module.Params) ([]record.Operation, []manager.NotRecorded) {
	var ops []record.Operation
	var rejected []manager.NotRecorded
	for i, raw := range p.List("operation_results") {
		m, _ := raw.(map[string]any)
		op, err := finishedRun(m, fmt.Sprintf("operation_results[%d]", i))
		if err != nil {
			rejected = append(rejected, manager.NotRecorded{Index: i, Reason: err.Detail()})
			continue
		}
		ops = append(ops, op)
	}
	return ops, rejected
}

// finishedRun decodes raw, the registered result of a finished action run, given as parameter
// path.
func finishedRun(raw map[string]any, path string) (record.Operation, *field.Error) {
	bad := func(err error, format string, a ...any) *field.Error {
		return &field.Error{Path: path, Problem: fmt.Sprintf(format, a...), Err: err, Form: field.Parameter}
	}
	b, err := json.Marshal(raw)
	if err != nil {
		return record.Operation{}, bad(err, "")
	}
	var op record.Operation
	if err := json.Unmarshal(b, &op); err != nil {
		return op, bad(err, "not the result of action run")
	}
	switch {
	case op.Status == record.Planned:
		return op, bad(nil, "a check-mode result (status planned) has nothing to record")
	case !op.Finished():
		return op, bad(nil, "status must be completed or failed (the registered result of action run), got %q", op.Status)
	case len(op.Attempts) != op.AttemptCount:
		return op, bad(nil, "attempt_count %d but %d attempts", op.AttemptCount, len(op.Attempts))
	}
	if err := session.ValidateOperationID(op.OperationID); err != nil {
		return op, bad(err, "")
	}
	return op, nil
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

// parseSystems validates external_systems (given directly or in settings).
func parseSystems(p module.Params) ([]export.System, error) {
	systems, err := export.ParseSystems(p.List("external_systems"))
	if err != nil {
		return nil, fmt.Errorf("invalid external_systems: %s", field.Line(err))
	}
	return systems, nil
}
