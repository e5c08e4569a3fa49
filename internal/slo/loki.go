package slo

import "errors"

// SourceLoki is Loki: metric (LogQL) queries only; log queries are a config_error.
const SourceLoki Source = "loki"

// DefaultLokiURL is the default Loki base URL (without /loki).
const DefaultLokiURL = "http://loki.local:3100"

func init() {
	// Loki answers metric queries at <loki_url>/loki/api/v1/query in Prometheus's shape; a log
	// query's answer (resultType streams) holds lines, which v1 cannot decode.
	register(backend{Source: SourceLoki, Order: 2, DefaultURL: DefaultLokiURL, APIPath: "/loki", Tenants: true,
		checkAnswer: func(body []byte) error {
			if resultType(body) == "streams" {
				return errLogQuery
			}
			return nil
		}})
}

// errLogQuery: a Loki check ran a log query, which returns lines, not a number.
var errLogQuery = errors.New("the query returned log lines (resultType streams), not a number: " +
	"use a metric query such as sum(count_over_time({...} [15m]))")
