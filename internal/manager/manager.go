// Package manager is retry_manager's core: the actions of the resilience.ops.retry_manager module
// on typed requests. Action run runs a command or an HTTP request with retries (Run); the session
// actions let the retry_manager role drive retries of tasks that run elsewhere (Start, Record,
// Ingest, Finalize, Cleanup, Compress, Wait, Admit); Send delivers a session's metrics and alerts
// to external systems.
//
// It knows no module parameter and no argument file: package retrymod, the Ansible adapter,
// decodes the parameters into the requests and settings of this package, and writes its replies
// as the module's results. Settings are resolved once, here (ResolvePolicy, ResolveGuardrails),
// from the layers the adapter decoded; below that only typed values travel.
//
// The engine is package retry, the guardrails package resilience, the sessions package session,
// the deliveries package export; time and randomness come from the Env.
package manager

import (
	"fmt"

	"resilience.ops/internal/clock"
	"resilience.ops/internal/secret"
)

// Env is what an action takes from its caller: the clock, the random source of jitter, where
// warnings and log lines go, and the task's secrets. A zero Env uses the real clock and random
// source and drops warnings and log lines.
type Env struct {
	Clock clock.Clock
	// Rand returns uniform values in [0, 1) for jitter; nil means math/rand/v2.
	Rand func() float64
	// Warn adds a warning to the result; Log writes a line to the host's syslog.
	Warn, Log func(msg string)
	// Secrets are the task's secrets: HTTP answers are scrubbed of them before they are cut
	// short or kept.
	Secrets *secret.Set
}

// withDefaults fills what e leaves empty.
func (e Env) withDefaults() Env {
	e.Clock = clock.Or(e.Clock)
	if e.Warn == nil {
		e.Warn = func(string) {}
	}
	if e.Log == nil {
		e.Log = func(string) {}
	}
	if e.Secrets == nil {
		e.Secrets = &secret.Set{}
	}
	return e
}

func (e Env) warnf(format string, a ...any) { e.Warn(fmt.Sprintf(format, a...)) }
func (e Env) logf(format string, a ...any)  { e.Log(fmt.Sprintf(format, a...)) }

// Reply is what an action answers: a result (Data, a struct of this package that marshals to the
// module's return values), its message, whether it changed something, and the AAP artifacts to
// publish. Failed says the task fails; Data and Stats are still returned.
type Reply struct {
	Changed bool
	Msg     string
	Data    any
	Stats   map[string]any
	Failed  bool
}

// checkPrefix is how every message of check mode starts.
const checkPrefix = "check mode: "

// checkMsg marks msg as a prediction when check is set: nothing was written.
func checkMsg(check bool, msg string) string {
	if check {
		return checkPrefix + msg + " (nothing written)"
	}
	return msg
}
