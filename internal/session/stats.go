package session

import (
	"fmt"
	"math"
	"sort"
	"time"

	"resilience.ops/internal/record"
)

// Statistics are the final_statistics of a session. Only finished operations count; operations
// still running when the statistics were computed are counted in RunningOperations alone.
//
// Rates are percentages of TotalOperations. Every derived value (averages, rates,
// operations_per_minute) is rounded to 2 decimals, times to the millisecond. A plain value: safe
// for concurrent use.
type Statistics struct {
	TotalOperations      int `json:"total_operations"`
	SuccessfulOperations int `json:"successful_operations"`
	FailedOperations     int `json:"failed_operations"`
	// RunningOperations were not finished when the statistics were computed (another host was
	// still retrying, or its play stopped): they are in no other figure.
	RunningOperations int `json:"running_operations"`
	// RetriedOperations needed more than one attempt; TotalRetryAttempts sums the retries (the
	// attempts after the first) of all operations, and MaxRetryCount is the largest.
	RetriedOperations  int     `json:"retried_operations"`
	TotalRetryAttempts int     `json:"total_retry_attempts"`
	AverageRetryCount  float64 `json:"average_retry_count"`
	MaxRetryCount      int     `json:"max_retry_count"`
	// TotalExecutionTime sums the operations' execution times (seconds, waits included); with
	// hosts in parallel it exceeds the session's duration.
	TotalExecutionTime   float64 `json:"total_execution_time"`
	AverageExecutionTime float64 `json:"average_execution_time"`
	SuccessRate          float64 `json:"success_rate"`
	FailureRate          float64 `json:"failure_rate"`
	RetryRate            float64 `json:"retry_rate"`
	// OperationsPerMinute is TotalOperations over the session's duration in minutes; 0 when the
	// duration is 0.
	OperationsPerMinute float64 `json:"operations_per_minute"`
}

// Compute returns the statistics of ops over a session that lasted duration. It is a pure
// function.
func Compute(ops []record.Operation, duration time.Duration) Statistics {
	var s Statistics
	for i := range ops {
		op := &ops[i]
		if !op.Finished() {
			s.RunningOperations++
			continue
		}
		s.TotalOperations++
		if op.Status == record.Completed {
			s.SuccessfulOperations++
		} else {
			s.FailedOperations++
		}
		if r := op.RetryCount(); r > 0 {
			s.RetriedOperations++
			s.TotalRetryAttempts += r
			s.MaxRetryCount = max(s.MaxRetryCount, r)
		}
		s.TotalExecutionTime += op.ExecutionTime
	}
	s.TotalExecutionTime = round(s.TotalExecutionTime, 3)
	if n := float64(s.TotalOperations); n > 0 {
		s.AverageRetryCount = round(float64(s.TotalRetryAttempts)/n, 2)
		s.AverageExecutionTime = round(s.TotalExecutionTime/n, 3)
		s.SuccessRate = round(100*float64(s.SuccessfulOperations)/n, 2)
		s.FailureRate = round(100*float64(s.FailedOperations)/n, 2)
		s.RetryRate = round(100*float64(s.RetriedOperations)/n, 2)
	}
	if duration > 0 {
		s.OperationsPerMinute = round(float64(s.TotalOperations)/duration.Minutes(), 2)
	}
	return s
}

// round rounds f to the given number of decimals, halves away from zero.
func round(f float64, decimals int) float64 {
	p := math.Pow(10, float64(decimals))
	return math.Round(f*p) / p
}

// Thresholds are the alert thresholds (monitoring.alerts). A plain value: safe for concurrent use.
type Thresholds struct {
	MinSuccessRate    float64 // percent; success_rate below it alerts
	MaxAverageRetries float64 // average_retry_count above it alerts
	MaxExecutionTime  float64 // seconds; total_execution_time above it alerts
	MaxErrorRate      float64 // percent; the error rate (failure_rate) above it alerts
}

// Default thresholds, as the role's documentation gives them.
const (
	DefaultMinSuccessRate    = 85.0
	DefaultMaxAverageRetries = 2.5
	DefaultMaxExecutionTime  = 1800.0
	DefaultMaxErrorRate      = 15.0
)

// DefaultThresholds returns the default thresholds.
func DefaultThresholds() Thresholds {
	return Thresholds{MinSuccessRate: DefaultMinSuccessRate, MaxAverageRetries: DefaultMaxAverageRetries,
		MaxExecutionTime: DefaultMaxExecutionTime, MaxErrorRate: DefaultMaxErrorRate}
}

// Alert is one breached threshold. A plain value: safe for concurrent use.
type Alert struct {
	Alert     string  `json:"alert"`  // the threshold: min_success_rate, max_average_retries, max_execution_time or max_error_rate
	Metric    string  `json:"metric"` // the statistic compared: success_rate, average_retry_count, total_execution_time or failure_rate
	Value     float64 `json:"value"`
	Threshold float64 `json:"threshold"`
	Message   string  `json:"message"`
}

// CheckAlerts returns the thresholds that s breaches, in the order min_success_rate,
// max_average_retries, max_execution_time, max_error_rate; an empty, non-nil slice when none is.
// The error rate is failure_rate, the share of operations that failed. A session without finished
// operations breaches nothing: there is nothing to judge. It is a pure function.
func CheckAlerts(s Statistics, t Thresholds) []Alert {
	out := []Alert{}
	if s.TotalOperations == 0 {
		return out
	}
	add := func(name, metric string, value, threshold float64, below bool) {
		breached := value > threshold
		word := "above"
		if below {
			breached, word = value < threshold, "below"
		}
		if breached {
			out = append(out, Alert{Alert: name, Metric: metric, Value: value, Threshold: threshold,
				Message: fmt.Sprintf("%s %s is %s %s %s", metric, fmtNum(value), word, name, fmtNum(threshold))})
		}
	}
	add("min_success_rate", "success_rate", s.SuccessRate, t.MinSuccessRate, true)
	add("max_average_retries", "average_retry_count", s.AverageRetryCount, t.MaxAverageRetries, false)
	add("max_execution_time", "total_execution_time", s.TotalExecutionTime, t.MaxExecutionTime, false)
	add("max_error_rate", "failure_rate", s.FailureRate, t.MaxErrorRate, false)
	return out
}

func fmtNum(f float64) string { return fmt.Sprintf("%g", f) }

// Performance is the content of the performance metrics file, written when a session is
// finalized.
type Performance struct {
	SessionID         string              `json:"session_id"`
	GeneratedAt       string              `json:"generated_at"`
	SessionDuration   float64             `json:"session_duration"`
	Statistics        Statistics          `json:"statistics"`
	ErrorDistribution map[string]int      `json:"error_distribution"` // failed attempts per error type
	Operations        map[string]OpMetric `json:"operations"`         // per operation name
	Hosts             int                 `json:"hosts"`              // distinct hosts with operations
}

// OpMetric are the metrics of the operations of one name.
type OpMetric struct {
	Count                int     `json:"count"`
	Successful           int     `json:"successful"`
	Failed               int     `json:"failed"`
	AverageAttempts      float64 `json:"average_attempts"`
	AverageExecutionTime float64 `json:"average_execution_time"`
}

// ComputePerformance returns the performance metrics of a session. It is a pure function.
func ComputePerformance(s *Session, stats Statistics, generated time.Time) Performance {
	p := Performance{SessionID: s.SessionID, GeneratedAt: record.Timestamp(generated), SessionDuration: s.SessionDuration,
		Statistics: stats, ErrorDistribution: map[string]int{}, Operations: map[string]OpMetric{}}
	hosts := map[string]bool{}
	attempts := map[string]int{}
	times := map[string]float64{}
	for i := range s.Operations {
		op := &s.Operations[i]
		for _, a := range op.Attempts {
			if a.Status != record.AttemptSuccess && a.ErrorType != nil {
				p.ErrorDistribution[*a.ErrorType]++
			}
		}
		if op.Host != "" {
			hosts[op.Host] = true
		}
		if !op.Finished() {
			continue
		}
		m := p.Operations[op.OperationName]
		m.Count++
		if op.Status == record.Completed {
			m.Successful++
		} else {
			m.Failed++
		}
		attempts[op.OperationName] += op.AttemptCount
		times[op.OperationName] += op.ExecutionTime
		p.Operations[op.OperationName] = m
	}
	names := make([]string, 0, len(p.Operations))
	for n := range p.Operations {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		m := p.Operations[n]
		m.AverageAttempts = round(float64(attempts[n])/float64(m.Count), 2)
		m.AverageExecutionTime = round(times[n]/float64(m.Count), 3)
		p.Operations[n] = m
	}
	p.Hosts = len(hosts)
	return p
}
