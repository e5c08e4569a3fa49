package export

import (
	"encoding/json"
	"math"
	"regexp"
	"strings"

	"resilience.ops/internal/clock"
)

// TypeDatadog is the Datadog series API (v1, or v2 by URL).
const TypeDatadog Type = "datadog"

func init() {
	register(kind{Type: TypeDatadog, Order: 5, Events: metricsOnly, DefaultEvents: metricsOnly, Methods: []string{"POST"},
		Keys: keys(httpKeys, []string{"labels"}, tlsKeys), BareKeyHeader: "DD-API-KEY",
		// "datadog" in the name, or "datadoghq" in the host.
		InferRank: 2, Infer: func(h inferHint) bool {
			return strings.Contains(h.name, "datadog") || strings.Contains(h.host, "datadoghq")
		},
		parse: func(p *parser, m map[string]any, s *System) { s.Labels = p.labels(m) },
		plan: func(sys System, snap Snapshot, _ Event, _ clock.Clock, h *httpSender) *plan {
			return datadogPlan(sys, snap, h)
		},
	})
}

// Datadog metric types: v1 takes names, v2 numbers.
var (
	ddTypeV1 = map[metricType]string{typeCounter: "count", typeSummary: "count", typeGauge: "gauge"}
	ddTypeV2 = map[metricType]int{typeCounter: 1, typeSummary: 1, typeGauge: 3}
)

// ddSeriesV1 is one series of POST /api/v1/series.
type ddSeriesV1 struct {
	Metric   string       `json:"metric"`
	Type     string       `json:"type"`
	Points   [][2]float64 `json:"points"`
	Tags     []string     `json:"tags,omitempty"`
	Interval int64        `json:"interval,omitempty"`
}

// ddSeriesV2 is one series of POST /api/v2/series.
type ddSeriesV2 struct {
	Metric   string    `json:"metric"`
	Type     int       `json:"type"`
	Points   []ddPoint `json:"points"`
	Tags     []string  `json:"tags,omitempty"`
	Interval int64     `json:"interval,omitempty"`
}

type ddPoint struct {
	Timestamp int64   `json:"timestamp"`
	Value     float64 `json:"value"`
}

// ddName maps a Prometheus name to Datadog's dotted style: retry_operations_total ->
// retry.operations, retry_operation_duration_seconds_sum -> retry.operation_duration_seconds.sum,
// retry_session_success_ratio -> retry.session.success_ratio.
func ddName(name, suffix string) string {
	n := strings.TrimSuffix(strings.TrimPrefix(name, "retry_"), "_total")
	if rest, ok := strings.CutPrefix(n, "session_"); ok {
		n = "session." + rest
	}
	n = "retry." + n
	if suffix != "" {
		n += "." + strings.TrimPrefix(suffix, "_")
	}
	return n
}

// ddTagChars are the characters Datadog keeps in tags; others become "_".
var ddTagChars = regexp.MustCompile(`[^A-Za-z0-9_\-./:]`)

// ddTags turns labels into key:value tags.
func ddTags(ls []label) []string {
	out := make([]string, 0, len(ls))
	for _, l := range ls {
		out = append(out, l.name+":"+ddTagChars.ReplaceAllString(l.value, "_"))
	}
	return out
}

// datadogBody builds the series payload of snap: v2 when the URL path ends in /api/v2/series,
// else v1. Counts carry the session's duration as their interval.
func datadogBody(sys System, snap Snapshot) ([]byte, any, int) {
	fs := withLabels(families(snap), constLabels(sys.Labels))
	ts := snap.Time.Unix()
	interval := int64(math.Round(snap.Duration))
	v2 := sys.url != nil && strings.HasSuffix(strings.TrimRight(sys.url.Path, "/"), "/api/v2/series")
	var v1s []ddSeriesV1
	var v2s []ddSeriesV2
	for _, f := range fs {
		for _, s := range f.samples {
			iv := int64(0)
			if f.typ != typeGauge {
				iv = interval
			}
			if v2 {
				v2s = append(v2s, ddSeriesV2{Metric: ddName(f.name, s.suffix), Type: ddTypeV2[f.typ],
					Points: []ddPoint{{Timestamp: ts, Value: s.value}}, Tags: ddTags(s.labels), Interval: iv})
			} else {
				v1s = append(v1s, ddSeriesV1{Metric: ddName(f.name, s.suffix), Type: ddTypeV1[f.typ],
					Points: [][2]float64{{float64(ts), s.value}}, Tags: ddTags(s.labels), Interval: iv})
			}
		}
	}
	var payload any = map[string]any{"series": v1s}
	n := len(v1s)
	if v2 {
		payload, n = map[string]any{"series": v2s}, len(v2s)
	}
	body := marshalJSON(payload)
	return body, payload, n
}

// datadogPlan prepares the series of snap for sys.
func datadogPlan(sys System, snap Snapshot, h *httpSender) *plan {
	body, _, n := datadogBody(sys, snap)
	p := &plan{series: n}
	p.preview = Preview{Method: sys.Method, Host: sys.Host(), ContentType: "application/json", Headers: sys.headerNames(), Body: json.RawMessage(body)}
	p.attempt = jsonAttempt(p, h, sys, body)
	return p
}
