// Package retrymod is the Ansible adapter of retry_manager: it declares the module's parameters
// (Spec), decodes an argument file into the typed requests and settings of package manager, the
// core, and writes manager's replies as the module's results. It is the only place that knows the
// parameters' names. Main is the retry_manager program: the module when ansible-core runs it, and
// the retry_backoff command line (package retrybackoff) otherwise.
package retrymod

import (
	"fmt"
	"slices"

	"resilience.ops/internal/module"
	"resilience.ops/internal/operation"
	"resilience.ops/internal/retry"
	"resilience.ops/internal/session"
	"resilience.ops/internal/storeconf"
)

func ptr(f float64) *float64 { return &f }

// errorTypeChoices are the error types users may list in retry_conditions and rules.
func errorTypeChoices() []string {
	var out []string
	for _, t := range retry.ErrorTypes() {
		if !t.Reserved() {
			out = append(out, string(t))
		}
	}
	return out
}

func defaultConditions() []any {
	var out []any
	for _, t := range retry.DefaultRetryConditions() {
		out = append(out, string(t))
	}
	return out
}

// policyParams are the retry settings: top-level parameters with defaults, and (without
// defaults) the keys of each operation_configs entry.
func policyParams(withDefaults bool) module.Spec {
	d := func(v any) any {
		if withDefaults {
			return v
		}
		return nil
	}
	return module.Spec{
		{Name: "max_attempts", Type: module.TypeInt, Default: d(int64(retry.DefaultMaxAttempts)),
			Min: ptr(retry.MinMaxAttempts), Max: ptr(retry.MaxMaxAttempts)},
		{Name: "retry_policy", Type: module.TypeStr, Default: d(string(retry.DefaultRetryPolicy)),
			Choices: []string{string(retry.ExponentialBackoff), string(retry.LinearBackoff), string(retry.FixedDelay)}},
		{Name: "base_delay", Type: module.TypeFloat, Default: d(retry.DefaultBaseDelay.Seconds()), Min: ptr(0), Limit: ptr(maxSeconds)},
		{Name: "max_delay", Type: module.TypeFloat, Default: d(retry.DefaultMaxDelay.Seconds()), Min: ptr(0), Limit: ptr(maxSeconds)},
		{Name: "backoff_multiplier", Type: module.TypeFloat, Default: d(retry.DefaultBackoffMultiplier),
			Min: ptr(retry.MinBackoffMultiplier), Limit: ptr(retry.MaxBackoffMultiplier)},
		{Name: "jitter_enabled", Type: module.TypeBool, Default: d(retry.DefaultJitterEnabled)},
		{Name: "jitter_mode", Type: module.TypeStr, Default: d(string(retry.DefaultJitterMode)),
			Choices: []string{string(retry.JitterNone), string(retry.JitterAdditive), string(retry.JitterFull),
				string(retry.JitterEqual), string(retry.JitterDecorrelated)}},
		{Name: "max_total_time", Type: module.TypeFloat, Default: d(0.0), Min: ptr(minTimeout), Max: ptr(maxSeconds), ZeroOff: true},
		{Name: "attempt_timeout", Type: module.TypeFloat, Default: d(0.0), Min: ptr(minTimeout), Max: ptr(maxSeconds), ZeroOff: true},
		{Name: "retry_conditions", Type: module.TypeList, Elements: module.TypeStr, Choices: errorTypeChoices(),
			Default: d(defaultConditions())},
		{Name: "retry_unknown", Type: module.TypeBool, Default: d(retry.DefaultRetryUnknown)},
	}
}

// The module's actions (the action parameter).
const (
	actionRun      = "run"      // run the command or HTTP request with retries (the default)
	actionStart    = "start"    // create or join a session
	actionRecord   = "record"   // record one attempt that ran elsewhere, or a finished run
	actionFinalize = "finalize" // compute the session's statistics and alerts
	actionCleanup  = "cleanup"  // retention: remove old sessions
	actionCompress = "compress" // retention: gzip large or old sessions
	actionWait     = "wait"     // wait a computed delay, to the millisecond
	// admit asks the circuit breaker whether the next attempt of an operation that runs elsewhere
	// (the role's tasks files) may run; a refusal ends the operation with circuit_open.
	actionAdmit       = "admit"
	actionSendMetrics = "send_metrics" // deliver the session's metrics to the external systems
	actionSendAlerts  = "send_alerts"  // deliver an alert when the session breaches a threshold
)

var actions = []string{actionRun, actionStart, actionRecord, actionFinalize, actionCleanup, actionCompress, actionWait,
	actionAdmit, actionSendMetrics, actionSendAlerts}

// externalSecretKeys are the keys of external_systems entries whose values are secrets: the URL
// (the path of a Slack or webhook URL is its credential), auth_header and headers. The runtime
// masks them in invocation.module_args and scrubs them from the result, also inside settings.
var externalSecretKeys = []string{"url", "auth_header", "headers"}

// Spec declares the module's parameters; plugins/modules/retry_manager.py documents the same.
var Spec = append(module.Spec{
	{Name: "action", Type: module.TypeStr, Default: actionRun, Choices: actions},
	// Required by run and record: see requireOperation.
	{Name: "operation", Type: module.TypeStr, Aliases: []string{"retry_current_operation"}},
	{Name: "context", Type: module.TypeDict, Aliases: []string{"retry_component_context"}},
	{Name: "session_id", Type: module.TypeStr},
	{Name: "settings", Type: module.TypeDict, SecretKeys: externalSecretKeys},
	// Sessions.
	{Name: "state_dir", Type: module.TypePath, Default: session.DefaultDir},
	{Name: "track_session", Type: module.TypeBool, Default: false},
	{Name: "log_individual_attempts", Type: module.TypeBool, Default: false},
	{Name: "host", Type: module.TypeStr},
	{Name: "operation_id", Type: module.TypeStr},
	{Name: "attempt", Type: module.TypeInt, Min: ptr(1), Max: ptr(retry.MaxMaxAttempts)},
	{Name: "attempt_start", Type: module.TypeFloat, Min: ptr(0), Limit: ptr(maxUnixTime)},
	{Name: "outcome", Type: module.TypeDict},
	{Name: "operation_result", Type: module.TypeDict},
	{Name: "operation_results", Type: module.TypeList, Elements: module.TypeDict},
	{Name: "session_status", Type: module.TypeStr, Default: string(session.StatusCompleted),
		Choices: []string{string(session.StatusCompleted), string(session.StatusFailed)}},
	{Name: "monitoring", Type: module.TypeDict},
	{Name: "retention", Type: module.TypeDict},
	{Name: "seconds", Type: module.TypeFloat, Min: ptr(0), Max: ptr(maxWait)},
	{Name: "operation_configs", Type: module.TypeDict},
	{Name: "error_rules", Type: module.TypeList, Elements: module.TypeDict},
	{Name: "debug_mode", Type: module.TypeBool, Default: false},
	// AAP artifacts of action run (see artifacts.go).
	{Name: "publish_artifacts", Type: module.TypeBool, Default: true},
	// A command.
	{Name: "argv", Type: module.TypeList, Elements: module.TypeStr},
	{Name: "cmd", Type: module.TypeStr},
	{Name: "use_shell", Type: module.TypeBool, Default: false},
	{Name: "chdir", Type: module.TypePath},
	{Name: "environment", Type: module.TypeDict},
	{Name: "stdin", Type: module.TypeStr},
	{Name: "max_output", Type: module.TypeInt, Default: int64(operation.DefaultMaxOutput), Min: ptr(1024), Max: ptr(16 << 20)},
	// An HTTP request.
	{Name: "url", Type: module.TypeStr},
	{Name: "method", Type: module.TypeStr, Default: "GET",
		Choices: []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}},
	{Name: "headers", Type: module.TypeDict},
	{Name: "body", Type: module.TypeRaw},
	{Name: "body_format", Type: module.TypeStr, Default: "raw", Choices: []string{"raw", "json"}},
	{Name: "status_code", Type: module.TypeList, Elements: module.TypeInt, Min: ptr(100), Max: ptr(599)},
	{Name: "url_username", Type: module.TypeStr},
	{Name: "url_password", Type: module.TypeStr, Secret: true},
	{Name: "bearer_token", Type: module.TypeStr, Secret: true},
	{Name: "validate_certs", Type: module.TypeBool, Default: true},
	{Name: "ca_path", Type: module.TypePath},
	// Checked before each retry.
	{Name: "idempotency_check", Type: module.TypeDict},
	// Delivery to external systems (send_metrics, send_alerts).
	{Name: "external_systems", Type: module.TypeList, Elements: module.TypeDict, SecretKeys: externalSecretKeys},
	// node_exporter's textfile collector (action run with a circuit breaker).
	{Name: "textfile_dir", Type: module.TypePath},
}, append(append(policyParams(true), guardParams()...), storeconf.Spec...)...)

// Limits of the numeric parameters, documented in plugins/modules/retry_manager.py (the docs test
// checks that each maximum is written there).
const (
	// maxWait bounds the seconds of action wait: one day.
	maxWait = 86400
	// maxSeconds bounds base_delay, max_delay, max_total_time, attempt_timeout and
	// idempotency_check.timeout: one day (retry.MaxDuration).
	maxSeconds = 86400
	// minTimeout is the smallest max_total_time and attempt_timeout besides 0 (none): 1 ms
	// (retry.MinTimeout). A smaller positive value would round to no limit at all.
	minTimeout = 0.001
	// maxUnixTime bounds attempt_start: 9999-12-31T23:59:59Z.
	maxUnixTime = 253402300799
	// maxExitCode and minExitCode bound an exit status in outcome.rc and error_rules: Windows
	// statuses are 32-bit unsigned, and Python reports a process killed by signal N as -N.
	minExitCode, maxExitCode = -255, 4294967295
	// maxDays bounds the retention days: 100 years.
	maxDays = 36500
	// maxSessions bounds retention.max_sessions; maxCompressSize retention.compress_min_size (1 TiB).
	maxSessions, maxCompressSize = 1000000, 1 << 40
	// maxExecutionTime bounds monitoring.alerts.max_execution_time: a year of seconds.
	maxExecutionTime = 365 * 86400
)

// outcomeSpec declares the keys of outcome: what one attempt that ran elsewhere observed.
var outcomeSpec = module.Spec{
	{Name: "failed", Type: module.TypeBool, Required: true},
	{Name: "msg", Type: module.TypeStr},
	{Name: "stdout", Type: module.TypeStr},
	{Name: "stderr", Type: module.TypeStr},
	{Name: "rc", Type: module.TypeInt, Min: ptr(minExitCode), Max: ptr(maxExitCode)},
	{Name: "status", Type: module.TypeInt, Min: ptr(-1), Max: ptr(999)}, // ansible.builtin.uri gives -1 without an answer
	{Name: "retry_after", Type: module.TypeStr},
	{Name: "task", Type: module.TypeStr},
	{Name: "result", Type: module.TypeDict},
}

// monitoringSpec declares the keys of monitoring; alertsSpec those of monitoring.alerts.
var monitoringSpec = module.Spec{
	{Name: "enabled", Type: module.TypeBool, Default: true},
	{Name: "metrics", Type: module.TypeList, Elements: module.TypeStr, Choices: metricNames, Default: anyList(metricNames)},
	{Name: "alerts", Type: module.TypeDict},
}

// metricNames are the metrics of monitoring.metrics. All are always computed; the list is
// accepted as the role's users write it.
var metricNames = []string{"success_rate", "average_retry_count", "total_execution_time", "error_distribution", "operation_throughput"}

var alertsSpec = module.Spec{
	{Name: "min_success_rate", Type: module.TypeFloat, Default: session.DefaultMinSuccessRate, Min: ptr(0), Max: ptr(100)},
	{Name: "max_average_retries", Type: module.TypeFloat, Default: session.DefaultMaxAverageRetries, Min: ptr(0), Limit: ptr(retry.MaxMaxAttempts)},
	{Name: "max_execution_time", Type: module.TypeFloat, Default: session.DefaultMaxExecutionTime, Min: ptr(0), Limit: ptr(maxExecutionTime)},
	{Name: "max_error_rate", Type: module.TypeFloat, Default: session.DefaultMaxErrorRate, Min: ptr(0), Max: ptr(100)},
}

// retentionSpec declares the keys of retention; 0 turns a rule off.
var retentionSpec = module.Spec{
	{Name: "max_age_days", Type: module.TypeFloat, Default: session.DefaultMaxAgeDays, Min: ptr(0), Limit: ptr(maxDays)},
	{Name: "max_sessions", Type: module.TypeInt, Default: int64(session.DefaultMaxSessions), Min: ptr(0), Limit: ptr(maxSessions)},
	{Name: "compress_min_size", Type: module.TypeInt, Default: int64(session.DefaultCompressMinSize), Min: ptr(0), Limit: ptr(maxCompressSize)},
	{Name: "compress_after_days", Type: module.TypeFloat, Default: session.DefaultCompressAfterDays, Min: ptr(0), Limit: ptr(maxDays)},
}

// roleOnlySettings are keys of the role's retry_manager dictionary that settings accepts and the
// module does not use: the role's handlers do.
var roleOnlySettings = []string{"external_integration", "integration"}

// settingsSpec declares the keys of settings: the role's retry_manager dictionary. No defaults:
// only the keys given override the task's parameters.
func settingsSpec() module.Spec {
	return append(append(append(policyParams(false), guardParams()...),
		module.Param{Name: "operation_configs", Type: module.TypeDict},
		module.Param{Name: "error_rules", Type: module.TypeList, Elements: module.TypeDict},
		module.Param{Name: "debug_mode", Type: module.TypeBool},
		module.Param{Name: "log_individual_attempts", Type: module.TypeBool},
		module.Param{Name: "state_dir", Type: module.TypePath},
		module.Param{Name: "monitoring", Type: module.TypeDict},
		module.Param{Name: "retention", Type: module.TypeDict},
		module.Param{Name: "external_integration", Type: module.TypeBool},
		module.Param{Name: "external_systems", Type: module.TypeList, Elements: module.TypeDict},
		module.Param{Name: "integration", Type: module.TypeDict},
	), storeSettings()...)
}

// storeSettings are the store parameters (package storeconf) as keys of settings: without
// defaults, and an empty value means "not set here", so that the role's defaults (all empty) leave
// the task's, set by module_defaults for instance.
func storeSettings() module.Spec {
	out := make(module.Spec, len(storeconf.Spec))
	for i, p := range storeconf.Spec {
		p.Default = nil
		if len(p.Choices) > 0 {
			p.Choices = append([]string{""}, p.Choices...)
		}
		out[i] = p
	}
	return out
}

// isStoreParam reports whether name is one of the store parameters.
func isStoreParam(name string) bool {
	return slices.ContainsFunc(storeconf.Spec, func(p module.Param) bool { return p.Name == name })
}

// isEmpty reports whether a decoded value is an empty string or list.
func isEmpty(v any) bool {
	switch t := v.(type) {
	case string:
		return t == ""
	case []any:
		return len(t) == 0
	case []string:
		return len(t) == 0
	}
	return false
}

func anyList(l []string) []any {
	out := make([]any, len(l))
	for i, s := range l {
		out[i] = s
	}
	return out
}

// applySettings returns the parameters with the keys of settings (the role's retry_manager
// dictionary) replacing the task's, and whether settings set retry settings.
func applySettings(p module.Params) (module.Params, bool, error) {
	raw := p.Dict("settings")
	if raw == nil {
		return p, false, nil
	}
	dec, err := settingsSpec().Decode(raw)
	if err != nil {
		return nil, false, fmt.Errorf("settings: %w", err)
	}
	out := make(module.Params, len(p)+len(dec))
	for k, v := range p {
		out[k] = v
	}
	policy := false
	policyNames := map[string]bool{"operation_configs": true}
	for _, pp := range policyParams(false) {
		policyNames[pp.Name] = true
	}
	for k, v := range dec {
		if v == nil || slices.Contains(roleOnlySettings, k) || isStoreParam(k) && isEmpty(v) {
			continue
		}
		out[k] = v
		policy = policy || policyNames[k]
	}
	return out, policy, nil
}

// operationConfigSpec declares the keys of one operation_configs entry: the retry settings and
// the guardrails.
func operationConfigSpec() module.Spec { return append(policyParams(false), guardParams()...) }

// checkSpec declares the keys of idempotency_check: a command or an HTTP request of its own.
var checkSpec = module.Spec{
	{Name: "argv", Type: module.TypeList, Elements: module.TypeStr},
	{Name: "cmd", Type: module.TypeStr},
	{Name: "use_shell", Type: module.TypeBool, Default: false},
	{Name: "chdir", Type: module.TypePath},
	{Name: "url", Type: module.TypeStr},
	{Name: "method", Type: module.TypeStr, Default: "GET", Choices: []string{"GET", "HEAD"}},
	{Name: "status_code", Type: module.TypeList, Elements: module.TypeInt, Min: ptr(100), Max: ptr(599)},
	{Name: "timeout", Type: module.TypeFloat, Default: 30.0, Min: ptr(minTimeout), Limit: ptr(maxSeconds)},
}

// ruleSpec declares the keys of one error_rules entry.
var ruleSpec = module.Spec{
	{Name: "error_type", Type: module.TypeStr, Required: true, Choices: errorTypeChoices()},
	{Name: "pattern", Type: module.TypeStr},
	{Name: "field", Type: module.TypeStr, Choices: []string{"any", "message", "error", "stderr", "stdout"}},
	{Name: "exit_code", Type: module.TypeInt, Min: ptr(minExitCode), Max: ptr(maxExitCode)},
	{Name: "http_status", Type: module.TypeInt, Min: ptr(100), Max: ptr(599)},
}
