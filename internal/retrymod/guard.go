package retrymod

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"resilience.ops/internal/etcdstore"
	"resilience.ops/internal/field"
	"resilience.ops/internal/module"
	"resilience.ops/internal/resilience"
	"resilience.ops/internal/retry"
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

// etcdDir is the folder of the guardrails' documents and slots in etcd, under etcd_prefix.
const etcdDir = "/" + resilience.Subdir

// guardConfig is the resolved guardrail configuration of one operation.
type guardConfig struct {
	settings resilience.Settings
	key      string
	// etcd is the store of the state when store is etcd; nil keeps it in local files.
	etcd *etcdstore.Store
}

// enabled reports whether any guardrail is on.
func (c *guardConfig) enabled() bool {
	s := c.settings
	return s.CircuitBreaker.Enabled || s.Bulkhead.Enabled || s.RetryBudget.Enabled || s.Adaptive.Enabled
}

// resolveGuardrails layers the guardrail settings of the operation: the defaults, the task's
// parameters (with the keys of settings over them), then operation_configs[operation], key by key
// inside each dictionary. The state lives in state_dir, or in etcd with store etcd (the store
// parameters are checked even when no guardrail is enabled). It returns nil when no guardrail is
// enabled. Problems name the parameter, as circuit_breaker.failure_threshold.
func resolveGuardrails(p module.Params) (*guardConfig, error) {
	st, err := storeconf.Open(p)
	if err != nil {
		return nil, err
	}
	s := resilience.DefaultSettings()
	s.Dir = p.Str("state_dir")
	key := p.Str("operation")
	layers := []map[string]any{map[string]any(p)}
	prefixes := []string{""}
	if raw, ok := p.Dict("operation_configs")[p.Str("operation")].(map[string]any); ok {
		layers = append(layers, raw)
		prefixes = append(prefixes, "operation_configs."+p.Str("operation")+".")
	}
	specs := guardSpecs(false)
	for i, layer := range layers {
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
				return nil, fmt.Errorf("parameter %s%s: must be a dictionary", prefixes[i], name)
			}
			dec, err := specs[name].Decode(m)
			if err != nil {
				var pe *field.Error
				if errors.As(err, &pe) {
					return nil, module.ParamErr(prefixes[i]+name+"."+pe.Path, "%s", pe.Problem)
				}
				return nil, err
			}
			applyGuard(&s, name, dec)
		}
		if k, ok := layer["circuit_key"].(string); ok && k != "" {
			key = k
		}
	}
	if err := s.Validate(); err != nil {
		// Package resilience names adaptive retry by its alias: the module's name is adaptive.
		for _, fe := range field.All(err) {
			if rest, ok := strings.CutPrefix(fe.Path, adaptiveAlias+"."); ok {
				fe.Path = "adaptive." + rest
			}
		}
		return nil, fmt.Errorf("invalid guardrail settings: %s", field.Line(err))
	}
	c := &guardConfig{settings: s, key: key}
	c.etcd, _ = st.(*etcdstore.Store)
	if !c.enabled() {
		return nil, nil
	}
	if err := resilience.ValidateKey(key); err != nil {
		return nil, err
	}
	return c, nil
}

// applyGuard sets the keys given in dec (one guardrail dictionary) on s.
func applyGuard(s *resilience.Settings, name string, dec module.Params) {
	dur := func(k string, dst *time.Duration) {
		if dec.Has(k) {
			*dst = durationOf(dec.Float(k))
		}
	}
	num := func(k string, dst *int) {
		if dec.Has(k) {
			*dst = int(dec.Int(k))
		}
	}
	flt := func(k string, dst *float64) {
		if dec.Has(k) {
			*dst = dec.Float(k)
		}
	}
	on := func(dst *bool) {
		if dec.Has("enabled") {
			*dst = dec.Bool("enabled")
		}
	}
	switch name {
	case "circuit_breaker":
		cb := &s.CircuitBreaker
		on(&cb.Enabled)
		num("failure_threshold", &cb.FailureThreshold)
		flt("failure_rate_threshold", &cb.FailureRateThreshold)
		num("minimum_calls", &cb.MinimumCalls)
		dur("window", &cb.Window)
		dur("open_duration", &cb.OpenDuration)
		num("half_open_max_calls", &cb.HalfOpenMaxCalls)
	case "bulkhead":
		bh := &s.Bulkhead
		on(&bh.Enabled)
		num("max_concurrent", &bh.MaxConcurrent)
		dur("max_wait", &bh.MaxWait)
	case "retry_budget":
		rb := &s.RetryBudget
		on(&rb.Enabled)
		flt("ratio", &rb.Ratio)
		num("min_retries", &rb.MinRetries)
		dur("window", &rb.Window)
	case "adaptive":
		ad := &s.Adaptive
		on(&ad.Enabled)
		dur("window", &ad.Window)
		num("minimum_calls", &ad.MinimumCalls)
		flt("target_success_rate", &ad.TargetSuccessRate)
		flt("max_delay_factor", &ad.MaxDelayFactor)
		num("min_attempts", &ad.MinAttempts)
	}
}

// newGuardrails builds the guardrails of c; in check mode they read state and never change it.
func newGuardrails(c *guardConfig, check bool, d deps) (*resilience.Guardrails, error) {
	opts := []resilience.Option{resilience.WithCheckMode(check)}
	opts = append(opts, resilience.WithClock(d.clock))
	if d.rnd != nil {
		opts = append(opts, resilience.WithRandom(d.rnd))
	}
	if c.etcd != nil {
		// The fleet shares a key whatever each host's state_dir: <etcd_prefix>state/circuit/<name>.json.
		opts = append(opts, resilience.WithStore(c.etcd), resilience.WithSlots(c.etcd), resilience.WithDir(etcdDir))
	}
	return resilience.New(c.settings, opts...)
}

// guardReport is what the guardrails did to one operation: the result keys circuit_key,
// circuit_breaker, bulkhead, retry_budget, adaptation and retry_in. A disabled guardrail shows as
// {"enabled": false}. The keys are present when any guardrail is enabled.
type guardReport struct {
	CircuitKey     string   `json:"circuit_key,omitempty"`
	CircuitBreaker any      `json:"circuit_breaker,omitempty"`
	Bulkhead       any      `json:"bulkhead,omitempty"`
	RetryBudget    any      `json:"retry_budget,omitempty"`
	Adaptation     any      `json:"adaptation,omitempty"`
	RetryIn        *float64 `json:"retry_in,omitempty"`
}

var disabled = map[string]any{"enabled": false}

// breakerJSON is the breaker's part of a result: its state after the operation (the report of
// package resilience), the state the last attempt was admitted in, and every transition the
// operation made.
type breakerJSON struct {
	resilience.BreakerReport
	AdmittedState resilience.CircuitState `json:"admitted_state,omitempty"`
}

// bulkheadJSON is the bulkhead's part of a result: the last attempt's slot, and the time waited
// for slots over all the attempts.
type bulkheadJSON struct {
	resilience.BulkheadReport
	TotalWaited float64 `json:"total_waited"`
	// NotApplied says why the bulkhead did not apply (tasks files run by the role).
	NotApplied string `json:"not_applied,omitempty"`
}

// guardRun applies the guardrails to the attempts of one operation and collects the report.
// Not safe for concurrent use: the engine calls its gate and hook from one goroutine.
type guardRun struct {
	g   *resilience.Guardrails
	key string
	pol retry.Policy

	cur         *resilience.Admission // the admission of the attempt that is running
	breaker     *resilience.BreakerReport
	admitted    resilience.CircuitState
	transitions []resilience.Transition
	bulkhead    *resilience.BulkheadReport
	waited      float64
	budget      *resilience.BudgetDecision
	adaptation  *resilience.Adaptation
	retryIn     *float64
	warnings    []string
}

func newGuardRun(g *resilience.Guardrails, key string) *guardRun { return &guardRun{g: g, key: key} }

// startGuardRun resolves the guardrails of the operation of p and, when any is enabled, starts
// applying them: it returns the run and pol adapted (adaptive retry). Without guardrails it
// returns nil and pol.
func startGuardRun(p module.Params, pol retry.Policy, check bool, d deps) (*guardRun, retry.Policy, error) {
	gc, err := resolveGuardrails(p)
	if err != nil || gc == nil {
		return nil, pol, err
	}
	g, err := newGuardrails(gc, check, d)
	if err != nil {
		return nil, pol, err
	}
	r := newGuardRun(g, gc.key)
	return r, r.adapt(pol), nil
}

// adapt adapts pol (adaptive retry) and keeps the policy for the retryable test of results.
func (r *guardRun) adapt(pol retry.Policy) retry.Policy {
	q, a, err := r.g.Adapt(r.key, pol)
	if err != nil { // the key was validated: not expected
		r.warn("adaptive retry: %v", err)
		q = pol
	}
	if r.g.Settings().Adaptive.Enabled {
		r.adaptation = &a
		r.warnings = append(r.warnings, a.Warnings...)
	}
	r.pol = q
	return q
}

func (r *guardRun) warn(format string, args ...any) {
	r.warnings = append(r.warnings, fmt.Sprintf(format, args...))
}

// gate is the engine's gate: before a retry it asks the retry budget, before every attempt the
// circuit breaker and the bulkhead. A refusal stops the run with the reserved type.
func (r *guardRun) gate(ctx context.Context, n int) *retry.Failure {
	if n > 1 {
		if f := r.allowRetry(); f != nil {
			return f
		}
	}
	return r.admit(ctx)
}

// allowRetry asks the retry budget for one retry.
func (r *guardRun) allowRetry() *retry.Failure {
	if !r.g.Settings().RetryBudget.Enabled {
		return nil
	}
	d, err := r.g.AllowRetry(r.key)
	if err != nil {
		r.warn("retry budget: %v", err)
		return nil
	}
	r.budget = &d
	r.warnings = append(r.warnings, d.Warnings...)
	if d.Allowed {
		return nil
	}
	why := strings.TrimPrefix(d.Reason, "retry budget exhausted: ")
	return &retry.Failure{Type: retry.RetryBudgetExhausted, Message: fmt.Sprintf("the retry budget of %q is exhausted: %s", r.key, why)}
}

// admit asks the circuit breaker and the bulkhead for one attempt and keeps the admission.
func (r *guardRun) admit(ctx context.Context) *retry.Failure {
	adm, err := r.g.Before(ctx, r.key)
	if adm == nil { // an invalid key: validated before, not expected
		r.warn("guardrails: %v", err)
		return nil
	}
	r.noteAdmission(adm)
	if err != nil { // ctx done while waiting for a slot
		return &retry.Failure{Type: retry.BulkheadFull, Err: err, Message: fmt.Sprintf("bulkhead %q: stopped waiting for a slot: %v", r.key, err)}
	}
	if !adm.Admitted {
		return &retry.Failure{Type: adm.ErrorType, Message: adm.Message}
	}
	r.cur = adm
	return nil
}

// noteAdmission keeps what an admission reports.
func (r *guardRun) noteAdmission(adm *resilience.Admission) {
	s := r.g.Settings()
	r.warnings = append(r.warnings, adm.Warnings...)
	if s.CircuitBreaker.Enabled {
		b := adm.Breaker
		r.breaker, r.admitted = &b, b.State
		r.transitions = append(r.transitions, b.Transitions...)
	}
	if s.Bulkhead.Enabled {
		bh := adm.Bulkhead
		r.bulkhead = &bh
		r.waited += bh.Waited
	}
	if !adm.Admitted && adm.ErrorType == retry.CircuitOpen {
		in := secondsOf(adm.RetryIn)
		r.retryIn = &in
	}
}

// after records the result of the attempt that ran (the engine's OnAttempt hook).
func (r *guardRun) after(a retry.Attempt) {
	if r.cur == nil {
		return
	}
	adm := r.cur
	r.cur = nil
	rep := r.g.AfterAttempt(adm, a.ErrorType, r.pol.ShouldRetry(a.ErrorType))
	r.noteRecord(rep)
}

// record records the result of an attempt that ran elsewhere (the role's tasks).
func (r *guardRun) record(typ retry.ErrorType, retryable bool) {
	rep, err := r.g.Record(r.key, typ, retryable)
	if err != nil {
		r.warn("guardrails: %v", err)
		return
	}
	r.noteRecord(rep)
}

func (r *guardRun) noteRecord(rep resilience.AttemptReport) {
	r.warnings = append(r.warnings, rep.Warnings...)
	if rep.Recorded && rep.Breaker.Enabled {
		b := rep.Breaker
		r.transitions = append(r.transitions, b.Transitions...)
		r.breaker = &b
	}
}

// release gives back what the running attempt holds, if the engine stopped before it ran.
func (r *guardRun) release() {
	if r.cur != nil {
		r.cur.Release()
		r.cur = nil
	}
}

// report is what applied, for the result.
func (r *guardRun) report() guardReport {
	s := r.g.Settings()
	rep := guardReport{CircuitKey: r.key, CircuitBreaker: disabled, Bulkhead: disabled, RetryBudget: disabled,
		Adaptation: disabled, RetryIn: r.retryIn}
	if s.CircuitBreaker.Enabled {
		if r.breaker == nil { // not asked (check mode of a session action): the state as it is
			if snap, err := r.g.Inspect(r.key); err == nil {
				b := snap.Breaker
				r.breaker = &b
				r.warnings = append(r.warnings, snap.Warnings...)
			}
		}
		if r.breaker != nil {
			b := breakerJSON{BreakerReport: *r.breaker, AdmittedState: r.admitted}
			b.Transitions = r.transitions
			rep.CircuitBreaker = b
		}
	}
	if s.Bulkhead.Enabled {
		b := bulkheadJSON{TotalWaited: round3(r.waited)}
		if r.bulkhead != nil {
			b.BulkheadReport = *r.bulkhead
		} else {
			b.BulkheadReport = resilience.BulkheadReport{Enabled: true, MaxConcurrent: s.Bulkhead.MaxConcurrent,
				MaxWait: s.Bulkhead.MaxWait.Seconds()}
		}
		rep.Bulkhead = b
	}
	if s.RetryBudget.Enabled {
		if r.budget != nil {
			rep.RetryBudget = *r.budget
		} else {
			rep.RetryBudget = resilience.BudgetDecision{Enabled: true, Allowed: true, Window: s.RetryBudget.Window.Seconds(),
				Reason: "no retry was asked"}
		}
	}
	if r.adaptation != nil {
		rep.Adaptation = *r.adaptation
	}
	return rep
}

// refusal describes the failure a guardrail stopped an operation with, for messages.
func refusal(name string, typ retry.ErrorType, attempts, maxAttempts int, last, why string) string {
	switch typ {
	case retry.RetryBudgetExhausted:
		return fmt.Sprintf("%s failed with %s on attempt %d of %d and was not retried (%s): %s",
			name, last, attempts, maxAttempts, typ, why)
	case retry.CircuitOpen, retry.BulkheadFull:
		if attempts == 0 {
			return fmt.Sprintf("%s failed at once with %s: %s", name, typ, why)
		}
		return fmt.Sprintf("%s failed with %s before attempt %d of %d (last error %s): %s", name, typ, attempts+1, maxAttempts, last, why)
	}
	return fmt.Sprintf("%s was refused (%s): %s", name, typ, why)
}

func round3(f float64) float64 { return secondsOf(durationOf(f)) }
