package export

import (
	"slices"
	"sort"
	"strings"
)

// Label names. They are few and bounded: operation names come from playbooks, status is
// completed or failed, error_type is one of the retry package's closed set.
const (
	labelOperation = "operation"
	labelStatus    = "status"
	labelErrorType = "error_type"
)

// Metric names, following the Prometheus conventions: counters end in _total, times are in
// seconds, rates are ratios from 0 to 1. Counters count the operations of one session: each
// session starts from zero, which rate() and increase() read as a counter reset.
const (
	// Per operation and final status (labels operation, status).
	MetricOperations       = "retry_operations_total"           // counter: finished operations
	MetricAttempts         = "retry_attempts_total"             // counter: attempts, the first included
	MetricRetries          = "retry_retries_total"              // counter: attempts after the first
	MetricOperationSeconds = "retry_operation_duration_seconds" // summary (_sum, _count): execution time, waits included
	// Per operation, final status and error type (labels operation, status, error_type).
	MetricAttemptFailures = "retry_attempt_failures_total" // counter: failed attempts
	// Per session (no labels but the constant ones): the final statistics.
	MetricSuccessRatio        = "retry_session_success_ratio"                // gauge: success_rate / 100
	MetricFailureRatio        = "retry_session_failure_ratio"                // gauge: failure_rate / 100
	MetricRetryRatio          = "retry_session_retry_ratio"                  // gauge: retry_rate / 100
	MetricAverageRetries      = "retry_session_average_retries"              // gauge: average_retry_count
	MetricExecutionSeconds    = "retry_session_execution_seconds"            // gauge: total_execution_time
	MetricOperationsPerSecond = "retry_session_operations_per_second"        // gauge: operations_per_minute / 60
	MetricBreachedThresholds  = "retry_session_breached_thresholds"          // gauge: alert thresholds breached
	MetricSnapshotTimestamp   = "retry_session_snapshot_timestamp_seconds"   // gauge: when the statistics were taken
	summarySum, summaryCount  = "_sum", "_count"                             // suffixes of a summary's series
	helpSuffixNote            = " Counts cover one retry session at a time." // appended to counters' help
)

// metricType is a metric family's type, numbered as remote write's MetricType (1.0 and 2.0).
type metricType int

const (
	typeCounter metricType = 1
	typeGauge   metricType = 2
	typeSummary metricType = 5
)

func (t metricType) String() string {
	switch t {
	case typeCounter:
		return "counter"
	case typeSummary:
		return "summary"
	}
	return "gauge"
}

// label is one label pair.
type label struct{ name, value string }

// sample is one series of a family: suffix is "" or a summary's _sum/_count.
type sample struct {
	suffix string
	labels []label // sorted by name
	value  float64
}

// family is a metric and its samples, the neutral form every encoder starts from.
type family struct {
	name, help, unit string
	typ              metricType
	samples          []sample
}

// families builds the metric families of s, in a stable order (families by name order of
// declaration, samples sorted by labels). Constant labels are not included: each encoder adds
// its own (job, constant labels, grouping).
func families(s Snapshot) []family {
	byOp := map[string]*family{}
	order := []string{MetricOperations, MetricAttempts, MetricRetries, MetricOperationSeconds, MetricAttemptFailures}
	for _, name := range order {
		byOp[name] = &family{name: name}
	}
	byOp[MetricOperations].typ, byOp[MetricOperations].help = typeCounter, "Retry operations finished, by operation and final status."+helpSuffixNote
	byOp[MetricAttempts].typ, byOp[MetricAttempts].help = typeCounter, "Attempts made, the first one included, by operation and final status of the operation."+helpSuffixNote
	byOp[MetricRetries].typ, byOp[MetricRetries].help = typeCounter, "Retries made (attempts after the first), by operation and final status of the operation."+helpSuffixNote
	byOp[MetricOperationSeconds].typ, byOp[MetricOperationSeconds].help = typeSummary, "Execution time of finished operations in seconds, waits between attempts included."
	byOp[MetricOperationSeconds].unit = "seconds"
	byOp[MetricAttemptFailures].typ, byOp[MetricAttemptFailures].help = typeCounter, "Failed attempts by error type, also in operations that completed in the end."+helpSuffixNote

	for _, op := range s.Operations {
		base := []label{{labelOperation, op.Operation}, {labelStatus, op.Status}}
		add := func(name, suffix string, v float64, extra ...label) {
			ls := append(slices.Clone(base), extra...)
			sortLabels(ls)
			byOp[name].samples = append(byOp[name].samples, sample{suffix: suffix, labels: ls, value: v})
		}
		add(MetricOperations, "", float64(op.Operations))
		add(MetricAttempts, "", float64(op.Attempts))
		add(MetricRetries, "", float64(op.Retries))
		add(MetricOperationSeconds, summarySum, op.ExecutionSeconds)
		add(MetricOperationSeconds, summaryCount, float64(op.Operations))
		types := make([]string, 0, len(op.Failures))
		for typ := range op.Failures {
			types = append(types, typ)
		}
		sort.Strings(types)
		for _, typ := range types {
			add(MetricAttemptFailures, "", float64(op.Failures[typ]), label{labelErrorType, typ})
		}
	}
	out := make([]family, 0, len(order)+8)
	for _, name := range order {
		f := byOp[name]
		sortSamples(f.samples)
		out = append(out, *f)
	}

	st := s.Statistics
	gauge := func(name, help, unit string, v float64) {
		out = append(out, family{name: name, help: help, unit: unit, typ: typeGauge, samples: []sample{{value: v}}})
	}
	gauge(MetricSuccessRatio, "Share of the session's operations that succeeded (success_rate / 100).", "ratio", st.SuccessRate/100)
	gauge(MetricFailureRatio, "Share of the session's operations that failed (failure_rate / 100).", "ratio", st.FailureRate/100)
	gauge(MetricRetryRatio, "Share of the session's operations that needed a retry (retry_rate / 100).", "ratio", st.RetryRate/100)
	gauge(MetricAverageRetries, "Average retries per operation in the session (average_retry_count).", "", st.AverageRetryCount)
	gauge(MetricExecutionSeconds, "Sum of the execution times of the session's operations in seconds (total_execution_time).", "seconds", st.TotalExecutionTime)
	gauge(MetricOperationsPerSecond, "Operations finished per second over the session (operations_per_minute / 60).", "", st.OperationsPerMinute/60)
	gauge(MetricBreachedThresholds, "Alert thresholds that the session's statistics breach.", "", float64(len(s.Alerts)))
	gauge(MetricSnapshotTimestamp, "Unix time when the session's statistics were taken.", "seconds", float64(s.Time.Unix())+float64(s.Time.Nanosecond())/1e9)
	return out
}

// operationFamilies returns the families of fs restricted to the samples of operation op, with
// the operation label removed (the Pushgateway's grouping carries it), and without the session
// families.
func operationFamilies(fs []family, op string) []family {
	var out []family
	for _, f := range fs {
		if !isOperationFamily(f.name) {
			continue
		}
		g := f
		g.samples = nil
		for _, s := range f.samples {
			if labelValue(s.labels, labelOperation) != op {
				continue
			}
			s.labels = withoutLabel(s.labels, labelOperation)
			g.samples = append(g.samples, s)
		}
		out = append(out, g)
	}
	return out
}

// sessionFamilies returns the families that describe the whole session.
func sessionFamilies(fs []family) []family {
	var out []family
	for _, f := range fs {
		if !isOperationFamily(f.name) {
			out = append(out, f)
		}
	}
	return out
}

func isOperationFamily(name string) bool {
	switch name {
	case MetricOperations, MetricAttempts, MetricRetries, MetricOperationSeconds, MetricAttemptFailures:
		return true
	}
	return false
}

// operationNames lists the distinct operation names of s, sorted.
func operationNames(s Snapshot) []string {
	var names []string
	for _, op := range s.Operations {
		names = append(names, op.Operation)
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// withLabels returns a copy of fs with extra labels added to every sample (extra wins over
// nothing: names never collide, ParseSystems reserves the package's own).
func withLabels(fs []family, extra []label) []family {
	if len(extra) == 0 {
		return fs
	}
	out := make([]family, len(fs))
	for i, f := range fs {
		g := f
		g.samples = make([]sample, len(f.samples))
		for j, s := range f.samples {
			ls := append(slices.Clone(s.labels), extra...)
			sortLabels(ls)
			s.labels = ls
			g.samples[j] = s
		}
		out[i] = g
	}
	return out
}

// constLabels turns a map of constant labels into sorted pairs.
func constLabels(m map[string]string) []label {
	out := make([]label, 0, len(m))
	for k, v := range m {
		out = append(out, label{k, v})
	}
	sortLabels(out)
	return out
}

func sortLabels(ls []label) {
	slices.SortFunc(ls, func(a, b label) int { return strings.Compare(a.name, b.name) })
}

func sortSamples(ss []sample) {
	key := func(s sample) string {
		var b strings.Builder
		for _, l := range s.labels {
			b.WriteString(l.name + "\x00" + l.value + "\x00")
		}
		return b.String() + s.suffix
	}
	slices.SortStableFunc(ss, func(a, b sample) int { return strings.Compare(key(a), key(b)) })
}

func labelValue(ls []label, name string) string {
	for _, l := range ls {
		if l.name == name {
			return l.value
		}
	}
	return ""
}

func withoutLabel(ls []label, name string) []label {
	out := make([]label, 0, len(ls))
	for _, l := range ls {
		if l.name != name {
			out = append(out, l)
		}
	}
	return out
}
