package manager

import (
	"time"

	"resilience.ops/internal/resilience"
	"resilience.ops/internal/textfile"
)

// breakerStates are the states of resilience_circuit_breaker_state, one sample each.
var breakerStates = []resilience.CircuitState{resilience.Closed, resilience.Open, resilience.HalfOpen}

// writeBreakerMetrics writes the state of key's circuit breaker (as the next call would find it)
// for node_exporter's textfile collector into dir (textfile_dir).
func writeBreakerMetrics(dir string, g *resilience.Guardrails, key string) error {
	snap, err := g.Inspect(key)
	if err != nil {
		return err
	}
	return textfile.Write(dir, textfile.FileName("resilience_circuit_breaker", key), breakerMetrics(key, snap.Breaker))
}

// breakerMetrics are the metrics of one breaker report.
func breakerMetrics(key string, b resilience.BreakerReport) []textfile.Metric {
	label := map[string]string{"key": key}
	var states []textfile.Sample
	for _, s := range breakerStates {
		v := 0.0
		if b.State == s {
			v = 1
		}
		states = append(states, textfile.Sample{Labels: map[string]string{"key": key, "state": string(s)}, Value: v})
	}
	until := 0.0
	if b.State == resilience.Open {
		if t, err := time.Parse(time.RFC3339Nano, b.OpenUntil); err == nil {
			until = float64(t.Unix())
		}
	}
	one := func(v float64) []textfile.Sample { return []textfile.Sample{{Labels: label, Value: v}} }
	return []textfile.Metric{
		{Name: "resilience_circuit_breaker_state", Help: "The circuit breaker's state: 1 for the current state, 0 for the others.", Samples: states},
		{Name: "resilience_circuit_breaker_open_until_timestamp_seconds", Help: "When an open circuit breaker lets the next trial call through, as a Unix time; 0 when not open.", Samples: one(until)},
		{Name: "resilience_circuit_breaker_opens_total", Help: "The number of times the circuit breaker opened.", Type: "counter", Samples: one(float64(b.Opens))},
	}
}
