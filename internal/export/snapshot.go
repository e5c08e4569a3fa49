package export

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// Snapshot is what [Deliver] sends: the counts of a session's finished operations, its final
// statistics and the alert thresholds they breach. The session package builds it; it holds no
// secrets. A plain value: safe for concurrent use as long as nobody modifies it.
type Snapshot struct {
	// SessionID identifies the session ("retry_1640995200_123456"). It is a Pushgateway grouping
	// label and part of messages, never a label on remote write, Datadog or the textfile.
	SessionID string `json:"session_id"`
	// Time is when the statistics were taken: the timestamp of every sample. Zero means the
	// delivery's clock.
	Time time.Time `json:"time"`
	// Duration is the session's duration in seconds (session_duration), 0 when unknown. Datadog
	// counts use it as their interval.
	Duration float64 `json:"session_duration"`
	// Operations has one entry per operation name and final status.
	Operations []OperationStats `json:"operations"`
	// Statistics are the session's final_statistics.
	Statistics Statistics `json:"final_statistics"`
	// Alerts are the breached thresholds; empty when none is.
	Alerts []Alert `json:"alerts"`
}

// OperationStats are the counts of the finished operations of one name and final status. A plain
// value, like Statistics and Alert: safe for concurrent use as long as nobody modifies it.
type OperationStats struct {
	Operation string `json:"operation"` // the operation name, as "vmware_vm_create"
	Status    string `json:"status"`    // the final status: "completed" or "failed"
	// Operations is how many operations of this name ended with this status.
	Operations int `json:"operations"`
	// Attempts counts every attempt, the first included; Retries the attempts after the first.
	Attempts int `json:"attempts"`
	Retries  int `json:"retries"`
	// ExecutionSeconds sums the operations' execution times, waits included.
	ExecutionSeconds float64 `json:"execution_seconds"`
	// Failures counts the failed attempts by error_type (also in operations that completed in
	// the end).
	Failures map[string]int `json:"failures,omitempty"`
}

// Statistics are the session's final_statistics that are exported. Rates are percentages
// (80 means 80 %), as the session files have them; metrics turn them into ratios.
type Statistics struct {
	TotalOperations      int     `json:"total_operations"`
	SuccessfulOperations int     `json:"successful_operations"`
	FailedOperations     int     `json:"failed_operations"`
	SuccessRate          float64 `json:"success_rate"`
	FailureRate          float64 `json:"failure_rate"`
	RetryRate            float64 `json:"retry_rate"`
	AverageRetryCount    float64 `json:"average_retry_count"`
	TotalExecutionTime   float64 `json:"total_execution_time"` // seconds
	OperationsPerMinute  float64 `json:"operations_per_minute"`
}

// Alert is one breached threshold.
type Alert struct {
	// Name is the threshold: min_success_rate, max_average_retries, max_execution_time,
	// max_error_rate. A "min_" prefix means the value fell below the threshold, otherwise it rose
	// above it.
	Name string `json:"name"`
	// Metric is the statistic compared, as "success_rate"; optional.
	Metric    string  `json:"metric,omitempty"`
	Value     float64 `json:"value"`
	Threshold float64 `json:"threshold"`
}

// Text describes the breach: "success_rate 80 is below min_success_rate 85".
func (a Alert) Text() string {
	what := a.Metric
	if what == "" {
		what = "value"
	}
	word := "above"
	if strings.HasPrefix(a.Name, "min_") {
		word = "below"
	}
	return fmt.Sprintf("%s %s is %s %s %s", what, fmtNum(a.Value), word, a.Name, fmtNum(a.Threshold))
}

// Validate reports every problem of s, joined: a missing session id or operation name or status,
// negative counts, numbers that are not finite.
func (s Snapshot) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if strings.TrimSpace(s.SessionID) == "" {
		bad("session_id must not be empty")
	}
	finite := func(field string, v float64) {
		if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
			bad("%s must be a finite number of at least 0, got %v", field, v)
		}
	}
	finite("session_duration", s.Duration)
	seen := map[[2]string]int{}
	for i, op := range s.Operations {
		p := fmt.Sprintf("operations[%d]", i)
		if j, dup := seen[[2]string{op.Operation, op.Status}]; dup {
			bad("%s repeats the operation and status of operations[%d]: merge them", p, j)
		}
		seen[[2]string{op.Operation, op.Status}] = i
		if strings.TrimSpace(op.Operation) == "" {
			bad("%s.operation must not be empty", p)
		}
		if strings.TrimSpace(op.Status) == "" {
			bad("%s.status must not be empty", p)
		}
		if op.Operations < 0 || op.Attempts < 0 || op.Retries < 0 {
			bad("%s: counts must not be negative", p)
		}
		finite(p+".execution_seconds", op.ExecutionSeconds)
		for typ, n := range op.Failures {
			if typ == "" || n < 0 {
				bad("%s.failures: error types must not be empty and counts not negative", p)
			}
		}
	}
	st := s.Statistics
	for name, v := range map[string]float64{
		"success_rate": st.SuccessRate, "failure_rate": st.FailureRate, "retry_rate": st.RetryRate,
		"average_retry_count": st.AverageRetryCount, "total_execution_time": st.TotalExecutionTime,
		"operations_per_minute": st.OperationsPerMinute,
	} {
		finite("final_statistics."+name, v)
	}
	for i, a := range s.Alerts {
		if a.Name == "" {
			bad("alerts[%d].name must not be empty", i)
		}
		if math.IsNaN(a.Value) || math.IsInf(a.Value, 0) || math.IsNaN(a.Threshold) || math.IsInf(a.Threshold, 0) {
			bad("alerts[%d]: value and threshold must be finite", i)
		}
	}
	return errors.Join(errs...)
}

// alertKeyLen is how many hex digits of the SHA-256 an alert key keeps.
const alertKeyLen = 16

// AlertKey identifies the breach group of s: the session and the set of breached thresholds
// (not their values, which move while hosts finish). Every host of a session computes the same
// key, so [Options.Claim] can let only the first one send; a new breach later in the session
// makes a new key and a new message. It returns "" when nothing is breached.
func AlertKey(s Snapshot) string {
	if len(s.Alerts) == 0 {
		return ""
	}
	names := make([]string, 0, len(s.Alerts))
	for _, a := range s.Alerts {
		names = append(names, a.Name)
	}
	slices.Sort(names)
	names = slices.Compact(names)
	sum := sha256.Sum256([]byte(s.SessionID + "\x00" + strings.Join(names, "\x00")))
	return "alert_" + hex.EncodeToString(sum[:])[:alertKeyLen]
}

// fmtNum formats a number the short way: 80, 0.6, 1800.
func fmtNum(f float64) string { return fmt.Sprintf("%g", f) }
