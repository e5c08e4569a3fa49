package manager

import (
	"errors"

	"resilience.ops/internal/etcdstore"
	"resilience.ops/internal/field"
	"resilience.ops/internal/resilience"
	"resilience.ops/internal/retry"
)

// The settings of one operation come in layers, lowest first: the defaults (retry.DefaultPolicy,
// resilience.DefaultSettings), the task's parameters with the role's settings over them (the
// settings parameter: its keys replace the task's), then the operation's entry of
// operation_configs. Each layer sets only what it gives; the guardrails are layered key by key
// inside each guardrail. The two functions below are the one place where layers are resolved and
// the result validated: what they return is used as it is.

// Source names of the layers, as policy_sources lists them.
const (
	SourceDefaults = "defaults"
	SourceTask     = "task"
	SourceSettings = "settings"
	// SourceOperationPrefix precedes the operation's name: operation_configs.<name>.
	SourceOperationPrefix = "operation_configs."
)

// PolicyLayers are the retry settings of one operation as the task gave them.
type PolicyLayers struct {
	// Global holds the task's settings, with the role's over them; FromSettings says the role's
	// settings set any.
	Global       retry.Overrides
	FromSettings bool
	// Operation is operation_configs[Name]; nil when the operation has no entry.
	Operation *retry.Overrides
	Name      string
}

// Settings are the resolved retry settings of one operation: the policy and the layers that
// gave it (policy_sources).
type Settings struct {
	Policy  retry.Policy
	Sources []string
}

// InvalidSettingsError is a combination of settings that is refused: retry settings (What
// "retry") or guardrail settings (What "guardrail"). Err joins the *field.Error values of
// retry.Policy.Validate or resilience.Settings.Validate; their paths name the settings.
type InvalidSettingsError struct {
	What string
	Err  error
}

func (e *InvalidSettingsError) Error() string {
	return "invalid " + e.What + " settings: " + field.Line(e.Err)
}

func (e *InvalidSettingsError) Unwrap() error { return e.Err }

// ResolvePolicy resolves and validates the retry settings of one operation. The error is an
// *InvalidSettingsError; the settings are returned with it, for the sources.
func ResolvePolicy(l PolicyLayers) (Settings, error) {
	s := Settings{Sources: []string{SourceDefaults, SourceTask}}
	if l.FromSettings {
		s.Sources = append(s.Sources, SourceSettings)
	}
	var perOp retry.Overrides
	if l.Operation != nil {
		perOp = *l.Operation
		s.Sources = append(s.Sources, SourceOperationPrefix+l.Name)
	}
	s.Policy = retry.Resolve(retry.DefaultPolicy(), l.Global, perOp)
	if err := s.Policy.Validate(); err != nil {
		return s, &InvalidSettingsError{What: "retry", Err: err}
	}
	return s, nil
}

// GuardLayer is the guardrail settings of one layer: the keys it sets, and the circuit_key it
// gives ("" for none).
type GuardLayer struct {
	Overrides  resilience.Overrides
	CircuitKey string
}

// GuardConfig is the resolved guardrail configuration of one operation.
type GuardConfig struct {
	Settings resilience.Settings
	// Key is what the state is kept under: the last circuit_key given, else the operation's name.
	Key string
	// Etcd keeps the state in etcd (store etcd); nil keeps it in local files under the state
	// directory.
	Etcd *etcdstore.Store
}

// ResolveGuardrails resolves and validates the guardrails of operation name, whose state lives
// in dir (or in etcd), from its layers, lowest first. It returns nil when no guardrail is enabled.
// An invalid combination is an *InvalidSettingsError; a bad key a *field.Error.
func ResolveGuardrails(dir, name string, layers []GuardLayer, etcd *etcdstore.Store) (*GuardConfig, error) {
	s := resilience.DefaultSettings()
	s.Dir = dir
	key := name
	for _, l := range layers {
		s = l.Overrides.Apply(s)
		if l.CircuitKey != "" {
			key = l.CircuitKey
		}
	}
	if err := s.Validate(); err != nil {
		return nil, &InvalidSettingsError{What: "guardrail", Err: err}
	}
	if !s.Enabled() {
		return nil, nil
	}
	if err := resilience.ValidateKey(key); err != nil {
		return nil, err
	}
	return &GuardConfig{Settings: s, Key: key, Etcd: etcd}, nil
}

// IsInvalidSettings reports whether err is an *InvalidSettingsError.
func IsInvalidSettings(err error) bool {
	var ie *InvalidSettingsError
	return errors.As(err, &ie)
}

// PolicyJSON is a resolved policy in the units of the parameters (action start's policy).
type PolicyJSON struct {
	MaxAttempts       int      `json:"max_attempts"`
	RetryPolicy       string   `json:"retry_policy"`
	BaseDelay         float64  `json:"base_delay"`
	MaxDelay          float64  `json:"max_delay"`
	BackoffMultiplier float64  `json:"backoff_multiplier"`
	JitterEnabled     bool     `json:"jitter_enabled"`
	JitterMode        string   `json:"jitter_mode"`
	MaxTotalTime      float64  `json:"max_total_time"`
	AttemptTimeout    float64  `json:"attempt_timeout"`
	RetryConditions   []string `json:"retry_conditions"`
	RetryUnknown      bool     `json:"retry_unknown"`
}

func policyJSON(p retry.Policy) *PolicyJSON {
	out := &PolicyJSON{MaxAttempts: p.MaxAttempts, RetryPolicy: string(p.RetryPolicy), BaseDelay: p.BaseDelay.Seconds(),
		MaxDelay: p.MaxDelay.Seconds(), BackoffMultiplier: p.BackoffMultiplier, JitterEnabled: p.JitterEnabled,
		JitterMode: string(p.JitterMode), MaxTotalTime: p.MaxTotalTime.Seconds(), AttemptTimeout: p.AttemptTimeout.Seconds(),
		RetryConditions: []string{}, RetryUnknown: p.RetryUnknown}
	for _, t := range p.RetryConditions {
		out.RetryConditions = append(out.RetryConditions, string(t))
	}
	return out
}
