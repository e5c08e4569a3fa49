package slo

// SourcePrometheus is Prometheus (or any server of its v1 query API: Thanos, Mimir, Cortex).
const SourcePrometheus Source = "prometheus"

// DefaultPrometheusURL is the default Prometheus base URL.
const DefaultPrometheusURL = "http://prometheus.local:9090"

func init() {
	register(backend{Source: SourcePrometheus, Order: 1, DefaultURL: DefaultPrometheusURL, ServerTimeout: true})
}
