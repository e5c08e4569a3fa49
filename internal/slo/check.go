package slo

import (
	"fmt"
	"math"
	"slices"
)

// Source is the server a check queries.
type Source string

// The sources are registered by their backends: prometheus.go, loki.go.

// Comparison is how a check compares its value with its threshold: the check
// passes when "value <comparison> threshold" holds.
type Comparison string

// Comparisons.
const (
	LT Comparison = "<"
	LE Comparison = "<="
	GT Comparison = ">"
	GE Comparison = ">="
	EQ Comparison = "=="
	NE Comparison = "!="
)

// NoDataPolicy says what an empty query result means.
type NoDataPolicy string

// No-data policies. A no-data result is never a pass unless the policy is
// NoDataZero and 0 satisfies the comparison.
const (
	NoDataFail    NoDataPolicy = "fail"    // the check fails
	NoDataUnknown NoDataPolicy = "unknown" // the check is unknown (default for user checks)
	NoDataZero    NoDataPolicy = "zero"    // the value is taken as 0 and compared
)

var (
	comparisons  = []Comparison{LT, LE, GT, GE, EQ, NE}
	noDataValues = []NoDataPolicy{NoDataFail, NoDataUnknown, NoDataZero}
)

// CheckSpec is a user-defined check. The query must return a single number:
// one series (aggregate it, for example with sum or max) or a scalar. The
// value is used as returned (Loki values are not scaled per minute).
type CheckSpec struct {
	Name       string
	Source     Source
	Query      string
	Comparison Comparison
	Threshold  *float64     // required; a pointer so that a missing threshold is not 0
	NoData     NoDataPolicy // empty means NoDataUnknown
}

// validate checks the i-th user check; taken holds the names in use and is
// updated.
func (s CheckSpec) validate(i int, taken map[string]bool) []error {
	var errs []error
	add := func(field, format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		if s.Name != "" {
			msg = fmt.Sprintf("check %q: %s", s.Name, msg)
		}
		errs = append(errs, fieldErr(fmt.Sprintf("checks[%d].%s", i, field), "%s", msg))
	}
	switch {
	case s.Name == "":
		add("name", "must not be empty")
	case taken[s.Name] && slices.Contains(builtinNames, s.Name):
		add("name", "is a built-in check; disable the built-in one or choose another name")
	case taken[s.Name]:
		add("name", "is used by another check")
	}
	taken[s.Name] = true
	if backendOf(s.Source) == nil {
		add("source", "%q is not allowed; use one of %s", s.Source, listOf(Sources()))
	}
	if s.Query == "" {
		add("query", "must not be empty")
	}
	if !slices.Contains(comparisons, s.Comparison) {
		add("comparison", "%q is not allowed; use one of %s", s.Comparison, listOf(comparisons))
	}
	if s.Threshold == nil {
		add("threshold", "is required")
	} else if !isFinite(*s.Threshold) {
		add("threshold", "must be a finite number")
	}
	if s.NoData != "" && !slices.Contains(noDataValues, s.NoData) {
		add("no_data", "%q is not allowed; use one of %s", s.NoData, listOf(noDataValues))
	}
	return errs
}

// holds reports whether "v c threshold" is true.
func (c Comparison) holds(v, threshold float64) bool {
	switch c {
	case LT:
		return v < threshold
	case LE:
		return v <= threshold
	case GT:
		return v > threshold
	case GE:
		return v >= threshold
	case EQ:
		return v == threshold
	case NE:
		return v != threshold
	}
	return false
}

// check is a validated check, ready to run.
type check struct {
	name       string
	label      string // what the value is, for messages: "5xx ratio"
	unit       string // appended to values in messages: "" or " lines/min"
	source     Source
	query      string
	comparison Comparison
	threshold  float64
	noData     NoDataPolicy

	// For error_log_rate: the raw count is divided by perMinute (window
	// minutes), and no data counts as zero only when volumeQuery finds lines.
	perMinute   float64
	volumeQuery string

	// min and max are the values the check's value can take (a ratio lies in
	// [0, 1], a count is not negative); a value outside them is unknown, never
	// compared. User checks take any finite value.
	min, max float64
}

// domainSlack absorbs the rounding of an average of values at a bound (an
// avg_over_time of ratios of 1 may come out a few ulps above 1).
const domainSlack = 1e-9

func (c check) domainText() string {
	if math.IsInf(c.max, 1) {
		return fmt.Sprintf("at least %s", formatValue(c.min))
	}
	return fmt.Sprintf("between %s and %s", formatValue(c.min), formatValue(c.max))
}

// buildChecks turns a validated config into the checks to run, built-ins
// first, in a stable order.
func buildChecks(cfg Config, window string, windowMinutes float64) []check {
	var out []check
	enabled := func(name string) bool { return !slices.Contains(cfg.Disable, name) }
	if enabled(CheckHTTP5xxRatio) {
		out = append(out, check{
			name: CheckHTTP5xxRatio, label: "5xx ratio", source: SourcePrometheus,
			query:      http5xxQuery(cfg.Job, window),
			comparison: LE, threshold: cfg.Max5xxRatio, noData: NoDataUnknown,
			min: 0, max: 1,
		})
	}
	if enabled(CheckHealthRatio) {
		out = append(out, check{
			name: CheckHealthRatio, label: "health ratio", source: SourcePrometheus,
			query:      healthQuery(cfg.Job, window),
			comparison: GE, threshold: cfg.MinHealthRatio, noData: NoDataUnknown,
			min: 0, max: 1,
		})
	}
	if enabled(CheckErrorLogRate) {
		out = append(out, check{
			name: CheckErrorLogRate, label: "error log rate", unit: " lines/min", source: SourceLoki,
			query:      errorLogCountQuery(cfg.Job, window),
			comparison: LE, threshold: cfg.MaxErrorLogsPerMin, noData: NoDataZero,
			perMinute: windowMinutes, volumeQuery: logVolumeQuery(cfg.Job, window),
			min: 0, max: math.Inf(1),
		})
	}
	for _, s := range cfg.Checks {
		policy := s.NoData
		if policy == "" {
			policy = NoDataUnknown
		}
		out = append(out, check{
			name: s.Name, label: s.Name, source: s.Source, query: s.Query,
			comparison: s.Comparison, threshold: *s.Threshold, noData: policy,
			min: math.Inf(-1), max: math.Inf(1),
		})
	}
	return out
}
