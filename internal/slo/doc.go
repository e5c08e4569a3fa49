// Package slo decides whether a service is stable enough to release a QoS
// guard window, by evaluating service-level checks against Prometheus and Loki.
//
// It is the core of the qos_guard_release module. A [Config] names the two
// endpoints (with their auth and TLS settings), the job, the stability window
// and the thresholds of three built-in checks:
//
//   - http_5xx_ratio: avg_over_time(job:http_5xx_ratio_1m{job="<job>"}[<window>]) <= max_5xx_ratio
//   - health_ratio:   avg_over_time(job:health_ok_ratio_1m{job="<job>"}[<window>]) >= min_health_ratio
//   - error_log_rate: matching Loki lines in the window / window minutes <= max_error_logs_per_min
//
// Users may disable built-in checks and add their own ([CheckSpec]).
// [Evaluator.Evaluate] runs every enabled check concurrently and returns a
// [Report]. Each check ends in one [Outcome]; the service is stable only when
// every enabled check passes. No data never passes unless a check's no-data
// policy says so.
//
// Both endpoints are queried with the Prometheus v1 HTTP API client; Loki
// answers metric queries at <loki_url>/loki/api/v1/query in the same shape.
// Secrets from the configuration never appear in a result or an error.
package slo
