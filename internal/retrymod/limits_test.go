package retrymod

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"resilience.ops/internal/duration"
	"resilience.ops/internal/module"
	"resilience.ops/internal/resilience"
)

// TestNumbersHaveMaxima: every duration and number the module takes, also inside settings,
// operation_configs and the guardrail dictionaries, has a maximum, and a value past it fails the
// task naming the parameter before anything runs. base_delay 1e10 used to overflow into "must not
// be negative, got -9223372036.8s", a window of 1e308 likewise, and attempt_timeout 1e-10 rounded
// to no timeout at all.
func TestNumbersHaveMaxima(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	marker := filepath.Join(dir, "ran")
	run := func(extra map[string]any) map[string]any {
		args := map[string]any{"operation": "x", "argv": []any{"touch", marker}, "state_dir": filepath.Join(dir, "state")}
		for k, v := range extra {
			args[k] = v
		}
		return args
	}
	op := func(key string, v any) map[string]any {
		return run(map[string]any{"operation_configs": map[string]any{"x": map[string]any{key: v}}})
	}
	on := func(kv ...any) map[string]any {
		m := map[string]any{"enabled": true}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	for _, tc := range []struct {
		args map[string]any
		want string
	}{
		{run(map[string]any{"base_delay": 1e10}), "parameter base_delay: must be at most 86400, got 10000000000"},
		{run(map[string]any{"max_delay": 1e308}), "parameter max_delay: must be at most 86400, got 1e+308"},
		{run(map[string]any{"backoff_multiplier": 1000}), "parameter backoff_multiplier: must be at most 100, got 1000"},
		{run(map[string]any{"attempt_timeout": 1e-10}), "parameter attempt_timeout: must be 0 (off) or between 0.001 and 86400, got 0.0000000001"},
		{run(map[string]any{"attempt_timeout": "1e308"}), "parameter attempt_timeout: must be 0 (off) or between 0.001 and 86400"},
		{run(map[string]any{"max_total_time": 86401}), "parameter max_total_time: must be 0 (off) or between 0.001 and 86400, got 86401"},
		{run(map[string]any{"settings": map[string]any{"base_delay": 1e10}}), "settings: parameter base_delay: must be at most 86400"},
		{run(map[string]any{"settings": map[string]any{"attempt_timeout": 1e-10}}), "settings: parameter attempt_timeout: must be 0 (off)"},
		{op("base_delay", 1e10), "operation_configs.x: parameter base_delay: must be at most 86400"},
		{op("attempt_timeout", 0.0004), "operation_configs.x: parameter attempt_timeout: must be 0 (off) or between 0.001 and 86400"},
		{run(map[string]any{"circuit_breaker": on("window", 1e308)}), "parameter circuit_breaker.window: must be at most 86400, got 1e+308"},
		{run(map[string]any{"circuit_breaker": on("open_duration", 1e10)}), "parameter circuit_breaker.open_duration: must be at most 86400, got 10000000000"},
		{run(map[string]any{"circuit_breaker": on("failure_threshold", 1e15)}), "circuit_breaker.failure_threshold must be between 1 and 1000, got 1000000000000000"},
		{run(map[string]any{"bulkhead": on("max_wait", 1e10)}), "parameter bulkhead.max_wait: must be at most 86400"},
		{run(map[string]any{"retry_budget": on("window", 1e300)}), "parameter retry_budget.window: must be at most 86400"},
		{run(map[string]any{"retry_budget": on("window", 1e-10)}), "retry_budget.window must be above 0 seconds and at most 86400s, got 0s"},
		{run(map[string]any{"adaptive": on("max_delay_factor", 1e6)}), "adaptive.max_delay_factor must be a number from 1 to 100, got 1e+06"},
		{run(map[string]any{"settings": map[string]any{"circuit_breaker": on("window", 1e10)}}), "circuit_breaker.window: must be at most 86400"},
		{op("bulkhead", on("max_wait", 1e10)), "parameter operation_configs.x.bulkhead.max_wait: must be at most 86400"},
		{run(map[string]any{"idempotency_check": map[string]any{"argv": []any{"true"}, "timeout": 1e10}}), "idempotency_check: parameter timeout: must be at most 86400"},
		{run(map[string]any{"error_rules": []any{map[string]any{"error_type": "timeout", "exit_code": 1e15}}}), "error_rules[0]: parameter exit_code: must be between -255 and 4294967295"},
		{run(map[string]any{"action": "cleanup", "retention": map[string]any{"max_age_days": 1e10}}), "retention: parameter max_age_days: must be at most 36500"},
		{run(map[string]any{"action": "cleanup", "retention": map[string]any{"compress_after_days": 1e300}}), "retention: parameter compress_after_days: must be at most 36500"},
		{run(map[string]any{"action": "record", "session_id": "retry_1767322000_1", "attempt_start": 1e300,
			"outcome": map[string]any{"failed": true}}), "parameter attempt_start: must be at most 253402300799"},
		{run(map[string]any{"action": "record", "session_id": "retry_1767322000_1",
			"outcome": map[string]any{"failed": true, "rc": 1e12}}), "parameter rc: must be between -255 and 4294967295"},
	} {
		res, code := runModule(t, newFakeClock(), tc.args)
		msg, _ := res["msg"].(string)
		if code != 1 || res["failed"] != true || !strings.Contains(msg, tc.want) || strings.Contains(msg, "negative") {
			t.Errorf("%v: exit %d, msg %q; want a failure with %q", tc.args, code, msg, tc.want)
		}
	}
	if files := treeOf(t, dir); len(files) != 0 {
		t.Errorf("a refused task ran or wrote: %v", files)
	}
	// The maxima themselves are accepted.
	res, code := runModule(t, newFakeClock(), map[string]any{"operation": "x", "argv": []any{"true"}, "base_delay": 86400,
		"max_delay": 86400, "attempt_timeout": 86400, "max_total_time": 86400, "backoff_multiplier": 100,
		"state_dir": filepath.Join(dir, "ok")})
	if code != 0 {
		t.Errorf("the maxima: exit %d: %v", code, res["msg"])
	}
}

// TestSecondsRoundTheSameEverywhere: the retry settings truncated seconds to a Duration (0.3 s
// became 299.999999 ms) while the guardrails rounded them; both now use duration.FromSeconds.
func TestSecondsRoundTheSameEverywhere(t *testing.T) {
	t.Parallel()
	for _, secs := range []float64{0.3, 0.7, 1.1, 0.001, 4.35, 86400} {
		want := time.Duration(secs*1000) * time.Millisecond
		o := overrides(module.Params{"attempt_timeout": secs, "base_delay": secs})
		var g resilience.Overrides
		applyGuard(&g, "circuit_breaker", module.Params{"window": secs})
		s := g.Apply(resilience.DefaultSettings())
		if *o.AttemptTimeout != want || *o.BaseDelay != want || s.CircuitBreaker.Window != want || duration.FromSeconds(secs) != want {
			t.Errorf("%g s: attempt_timeout %d ns, base_delay %d ns, circuit_breaker.window %d ns; want %d ns each",
				secs, *o.AttemptTimeout, *o.BaseDelay, s.CircuitBreaker.Window, want)
		}
	}
}
