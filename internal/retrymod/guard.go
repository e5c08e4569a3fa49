package retrymod

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"resilience.ops/internal/duration"
	"resilience.ops/internal/etcdstore"
	"resilience.ops/internal/field"
	"resilience.ops/internal/manager"
	"resilience.ops/internal/module"
	"resilience.ops/internal/resilience"
	"resilience.ops/internal/storeconf"
)

// The guardrails of package resilience, as module parameters: circuit_breaker, bulkhead,
// retry_budget and adaptive, each a dictionary whose enabled key turns it on (all are off by
// default), and circuit_key, the key their state is kept under (default: the operation's name).
// They are accepted as task parameters, in settings (the role's retry_manager dictionary) and in
// each operation_configs entry; the keys of each layer override the layer below, key by key.
//
// Their state is kept where store says (the parameters of package storeconf, also accepted in
// settings): local files under state_dir by default, or an etcd cluster that a fleet shares, where
// a key's document is <etcd_prefix>state/circuit/<name>.json whatever the host's state_dir, and the
// bulkhead's and half-open trials' slots are leased keys.

// guardParamNames are the guardrail parameters, in the order of the documentation.
var guardParamNames = []string{"circuit_breaker", "bulkhead", "retry_budget", "adaptive", "circuit_key"}

// adaptiveAlias is the name package resilience gives the adaptive parameter in its messages.
const adaptiveAlias = "adaptive_retry"

// guardSpecs declares the keys of each guardrail dictionary; with defaults for the documentation
// and the role's defaults, without them for layering (only the keys given override).
func guardSpecs(withDefaults bool) map[string]module.Spec {
	d := func(v any) any {
		if withDefaults {
			return v
		}
		return nil
	}
	secs := func(t time.Duration) any { return d(t.Seconds()) }
	// resilience.Settings.Validate checks every key's range, naming it. The seconds have a Limit
	// besides (resilience.MaxWindow), so that a value that would overflow a duration is refused as
	// it is given, never converted.
	seconds := func(name string, def time.Duration) module.Param {
		return module.Param{Name: name, Type: module.TypeFloat, Default: secs(def), Limit: ptr(resilience.MaxWindow.Seconds())}
	}
	return map[string]module.Spec{
		"circuit_breaker": {
			{Name: "enabled", Type: module.TypeBool, Default: d(false)},
			{Name: "failure_threshold", Type: module.TypeInt, Default: d(int64(resilience.DefaultFailureThreshold))},
			{Name: "failure_rate_threshold", Type: module.TypeFloat, Default: d(resilience.DefaultFailureRateThreshold)},
			{Name: "minimum_calls", Type: module.TypeInt, Default: d(int64(resilience.DefaultMinimumCalls))},
			seconds("window", resilience.DefaultBreakerWindow),
			seconds("open_duration", resilience.DefaultOpenDuration),
			{Name: "half_open_max_calls", Type: module.TypeInt, Default: d(int64(resilience.DefaultHalfOpenMaxCalls))},
		},
		"bulkhead": {
			{Name: "enabled", Type: module.TypeBool, Default: d(false)},
			{Name: "max_concurrent", Type: module.TypeInt, Default: d(int64(resilience.DefaultMaxConcurrent))},
			seconds("max_wait", resilience.DefaultMaxWait),
		},
		"retry_budget": {
			{Name: "enabled", Type: module.TypeBool, Default: d(false)},
			{Name: "ratio", Type: module.TypeFloat, Default: d(resilience.DefaultBudgetRatio)},
			{Name: "min_retries", Type: module.TypeInt, Default: d(int64(resilience.DefaultMinRetries))},
			seconds("window", resilience.DefaultBudgetWindow),
		},
		"adaptive": {
			{Name: "enabled", Type: module.TypeBool, Default: d(false)},
			seconds("window", resilience.DefaultAdaptiveWindow),
			{Name: "minimum_calls", Type: module.TypeInt, Default: d(int64(resilience.DefaultAdaptiveMinimumCalls))},
			{Name: "target_success_rate", Type: module.TypeFloat, Default: d(resilience.DefaultTargetSuccessRate)},
			{Name: "max_delay_factor", Type: module.TypeFloat, Default: d(resilience.DefaultMaxDelayFactor)},
			{Name: "min_attempts", Type: module.TypeInt, Default: d(int64(resilience.DefaultAdaptiveMinAttempts))},
		},
	}
}

// guardParams are the guardrail parameters of the module, of settings and of operation_configs
// entries: no defaults (absent means "not set here").
func guardParams() module.Spec {
	return module.Spec{
		{Name: "circuit_breaker", Type: module.TypeDict},
		{Name: "bulkhead", Type: module.TypeDict},
		{Name: "retry_budget", Type: module.TypeDict},
		{Name: "adaptive", Type: module.TypeDict, Aliases: []string{adaptiveAlias}},
		{Name: "circuit_key", Type: module.TypeStr},
	}
}

// resolveGuardrails decodes and resolves the guardrails of the operation: the defaults, the
// task's parameters (with the keys of settings over them), then operation_configs[operation], key
// by key inside each dictionary. The state lives in state_dir, or in etcd with store etcd (the
// store parameters are checked even when no guardrail is enabled). It returns nil when no
// guardrail is enabled. Problems name the parameter, as circuit_breaker.failure_threshold.
func resolveGuardrails(p module.Params) (*manager.GuardConfig, error) {
	st, err := storeconf.Open(p)
	if err != nil {
		return nil, err
	}
	layers := []map[string]any{map[string]any(p)}
	prefixes := []string{""}
	if raw, ok := p.Dict("operation_configs")[p.Str("operation")].(map[string]any); ok {
		layers = append(layers, raw)
		prefixes = append(prefixes, "operation_configs."+p.Str("operation")+".")
	}
	var decoded []manager.GuardLayer
	for i, layer := range layers {
		l, err := guardLayer(layer, prefixes[i])
		if err != nil {
			return nil, err
		}
		decoded = append(decoded, l)
	}
	etcd, _ := st.(*etcdstore.Store)
	gc, err := manager.ResolveGuardrails(p.Str("state_dir"), p.Str("operation"), decoded, etcd)
	if err != nil {
		// Package resilience names adaptive retry by its alias: the module's name is adaptive.
		for _, fe := range field.All(err) {
			if rest, ok := strings.CutPrefix(fe.Path, adaptiveAlias+"."); ok {
				fe.Path = "adaptive." + rest
			}
		}
		return nil, err
	}
	return gc, nil
}

// guardLayer decodes the guardrail dictionaries and circuit_key of one layer (the task's
// parameters, or an operation_configs entry, whose paths start with prefix).
func guardLayer(layer map[string]any, prefix string) (manager.GuardLayer, error) {
	var l manager.GuardLayer
	specs := guardSpecs(false)
	for _, name := range guardParamNames[:4] {
		raw, given := layer[name]
		if !given && name == "adaptive" {
			raw, given = layer[adaptiveAlias]
		}
		if !given || raw == nil {
			continue
		}
		m, ok := raw.(map[string]any)
		if !ok {
			return l, fmt.Errorf("parameter %s%s: must be a dictionary", prefix, name)
		}
		dec, err := specs[name].Decode(m)
		if err != nil {
			var pe *field.Error
			if errors.As(err, &pe) {
				return l, module.ParamErr(prefix+name+"."+pe.Path, "%s", pe.Problem)
			}
			return l, err
		}
		applyGuard(&l.Overrides, name, dec)
	}
	if k, ok := layer["circuit_key"].(string); ok {
		l.CircuitKey = k
	}
	return l, nil
}

// applyGuard sets the keys given in dec (one guardrail dictionary) on o.
func applyGuard(o *resilience.Overrides, name string, dec module.Params) {
	dur := func(k string) *time.Duration {
		if !dec.Has(k) {
			return nil
		}
		v := duration.FromSeconds(dec.Float(k))
		return &v
	}
	num := func(k string) *int {
		if !dec.Has(k) {
			return nil
		}
		v := int(dec.Int(k))
		return &v
	}
	flt := func(k string) *float64 {
		if !dec.Has(k) {
			return nil
		}
		v := dec.Float(k)
		return &v
	}
	var on *bool
	if dec.Has("enabled") {
		v := dec.Bool("enabled")
		on = &v
	}
	switch name {
	case "circuit_breaker":
		o.CircuitBreaker = resilience.CircuitBreakerOverrides{Enabled: on, FailureThreshold: num("failure_threshold"),
			FailureRateThreshold: flt("failure_rate_threshold"), MinimumCalls: num("minimum_calls"), Window: dur("window"),
			OpenDuration: dur("open_duration"), HalfOpenMaxCalls: num("half_open_max_calls")}
	case "bulkhead":
		o.Bulkhead = resilience.BulkheadOverrides{Enabled: on, MaxConcurrent: num("max_concurrent"), MaxWait: dur("max_wait")}
	case "retry_budget":
		o.RetryBudget = resilience.RetryBudgetOverrides{Enabled: on, Ratio: flt("ratio"), MinRetries: num("min_retries"), Window: dur("window")}
	case "adaptive":
		o.Adaptive = resilience.AdaptiveOverrides{Enabled: on, Window: dur("window"), MinimumCalls: num("minimum_calls"),
			TargetSuccessRate: flt("target_success_rate"), MaxDelayFactor: flt("max_delay_factor"), MinAttempts: num("min_attempts")}
	}
}
