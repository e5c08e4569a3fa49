package retry

import (
	"slices"
	"time"
)

// Overrides is a partial Policy: the global retry settings, or one entry of
// operation_configs (a map from operation name to Overrides). A nil field is
// not set and inherits; a set field replaces the inherited value. For
// RetryConditions, nil inherits and an empty non-nil slice replaces the list
// with an empty one (retry nothing), which is how JSON null and [] decode.
//
// Overrides is a plain value: safe for concurrent use as long as nobody
// modifies it.
type Overrides struct {
	MaxAttempts       *int
	RetryPolicy       *PolicyKind
	BaseDelay         *time.Duration
	MaxDelay          *time.Duration
	BackoffMultiplier *float64
	JitterEnabled     *bool
	JitterMode        *JitterMode
	MaxTotalTime      *time.Duration
	AttemptTimeout    *time.Duration
	RetryConditions   []ErrorType
	RetryUnknown      *bool
}

// Apply returns p with every set field of o replacing p's. RetryConditions
// is copied, so the result shares no memory with o. It does not validate.
func (o Overrides) Apply(p Policy) Policy {
	set(&p.MaxAttempts, o.MaxAttempts)
	set(&p.RetryPolicy, o.RetryPolicy)
	set(&p.BaseDelay, o.BaseDelay)
	set(&p.MaxDelay, o.MaxDelay)
	set(&p.BackoffMultiplier, o.BackoffMultiplier)
	set(&p.JitterEnabled, o.JitterEnabled)
	set(&p.JitterMode, o.JitterMode)
	set(&p.MaxTotalTime, o.MaxTotalTime)
	set(&p.AttemptTimeout, o.AttemptTimeout)
	if o.RetryConditions != nil {
		p.RetryConditions = slices.Clone(o.RetryConditions)
	}
	set(&p.RetryUnknown, o.RetryUnknown)
	return p
}

func set[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

// Resolve returns the settings for one operation: the operation's settings
// (perOp, from operation_configs; the zero Overrides when the operation has
// none) win over the global settings, which win over defaults (usually
// [DefaultPolicy]). The result shares no memory with its inputs. It is not
// validated: call [Policy.Validate] on it, and prefix its error with the
// operation's name when perOp was set, since the bad value may come from
// either layer or from their combination (max_delay below base_delay).
func Resolve(defaults Policy, global, perOp Overrides) Policy {
	defaults.RetryConditions = slices.Clone(defaults.RetryConditions)
	return perOp.Apply(global.Apply(defaults))
}
