// Package retrymod is the retry_manager program: the resilience.ops.retry_manager Ansible module
// when it is given an argument file, and the retry_backoff command-line tool otherwise.
package retrymod

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"resilience.ops/internal/module"
	"resilience.ops/internal/operation"
	"resilience.ops/internal/retry"
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
		{Name: "base_delay", Type: module.TypeFloat, Default: d(retry.DefaultBaseDelay.Seconds()), Min: ptr(0)},
		{Name: "max_delay", Type: module.TypeFloat, Default: d(retry.DefaultMaxDelay.Seconds()), Min: ptr(0)},
		{Name: "backoff_multiplier", Type: module.TypeFloat, Default: d(retry.DefaultBackoffMultiplier), Min: ptr(retry.MinBackoffMultiplier)},
		{Name: "jitter_enabled", Type: module.TypeBool, Default: d(retry.DefaultJitterEnabled)},
		{Name: "jitter_mode", Type: module.TypeStr, Default: d(string(retry.DefaultJitterMode)),
			Choices: []string{string(retry.JitterNone), string(retry.JitterAdditive), string(retry.JitterFull),
				string(retry.JitterEqual), string(retry.JitterDecorrelated)}},
		{Name: "max_total_time", Type: module.TypeFloat, Default: d(0.0), Min: ptr(0)},
		{Name: "attempt_timeout", Type: module.TypeFloat, Default: d(0.0), Min: ptr(0)},
		{Name: "retry_conditions", Type: module.TypeList, Elements: module.TypeStr, Choices: errorTypeChoices(),
			Default: d(defaultConditions())},
		{Name: "retry_unknown", Type: module.TypeBool, Default: d(retry.DefaultRetryUnknown)},
	}
}

// Spec declares the module's parameters; plugins/modules/retry_manager.py documents the same.
var Spec = append(module.Spec{
	{Name: "operation", Type: module.TypeStr, Required: true, Aliases: []string{"retry_current_operation"}},
	{Name: "context", Type: module.TypeDict, Aliases: []string{"retry_component_context"}},
	{Name: "session_id", Type: module.TypeStr},
	{Name: "operation_configs", Type: module.TypeDict},
	{Name: "error_rules", Type: module.TypeList, Elements: module.TypeDict},
	{Name: "debug_mode", Type: module.TypeBool, Default: false},
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
}, policyParams(true)...)

// checkSpec declares the keys of idempotency_check: a command or an HTTP request of its own.
var checkSpec = module.Spec{
	{Name: "argv", Type: module.TypeList, Elements: module.TypeStr},
	{Name: "cmd", Type: module.TypeStr},
	{Name: "use_shell", Type: module.TypeBool, Default: false},
	{Name: "chdir", Type: module.TypePath},
	{Name: "url", Type: module.TypeStr},
	{Name: "method", Type: module.TypeStr, Default: "GET", Choices: []string{"GET", "HEAD"}},
	{Name: "status_code", Type: module.TypeList, Elements: module.TypeInt, Min: ptr(100), Max: ptr(599)},
	{Name: "timeout", Type: module.TypeFloat, Default: 30.0, Min: ptr(0.001)},
}

// ruleSpec declares the keys of one error_rules entry.
var ruleSpec = module.Spec{
	{Name: "error_type", Type: module.TypeStr, Required: true, Choices: errorTypeChoices()},
	{Name: "pattern", Type: module.TypeStr},
	{Name: "field", Type: module.TypeStr, Choices: []string{"any", "message", "error", "stderr", "stdout"}},
	{Name: "exit_code", Type: module.TypeInt},
	{Name: "http_status", Type: module.TypeInt, Min: ptr(100), Max: ptr(599)},
}

func seconds(f float64) time.Duration { return time.Duration(f * float64(time.Second)) }

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
			v := seconds(p.Float(d.name))
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

// resolvePolicy applies operation_configs[operation] over the task's settings over the defaults,
// and validates the result. It says which layers applied.
func resolvePolicy(p module.Params) (retry.Policy, []string, error) {
	global := overrides(p)
	var perOp retry.Overrides
	sources := []string{"defaults", "task"}
	configs := p.Dict("operation_configs")
	names := make([]string, 0, len(configs))
	for name := range configs {
		names = append(names, name)
	}
	sort.Strings(names)
	sub := policyParams(false)
	for _, name := range names {
		raw, ok := configs[name].(map[string]any)
		if !ok {
			return retry.Policy{}, nil, fmt.Errorf("parameter operation_configs.%s: must be a dictionary of retry settings", name)
		}
		dec, err := sub.Decode(raw)
		if err != nil {
			return retry.Policy{}, nil, fmt.Errorf("operation_configs.%s: %w", name, err)
		}
		if name == p.Str("operation") {
			perOp = overrides(dec)
			sources = append(sources, "operation_configs."+name)
		}
	}
	pol := retry.Resolve(retry.DefaultPolicy(), global, perOp)
	if err := pol.Validate(); err != nil {
		return pol, sources, fmt.Errorf("invalid retry settings: %s", strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	return pol, sources, nil
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
		return nil, fmt.Errorf("error_rules: %s", strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	return c, nil
}
