package session

import (
	"container/heap"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"time"
	"unicode/utf8"

	"resilience.ops/internal/export"
	"resilience.ops/internal/record"
	"resilience.ops/internal/retry"
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
	t := newTally()
	for i := range ops {
		t.add(liteOf(&ops[i]))
	}
	return t.statistics(duration)
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
// finalized. It is bounded whatever the session holds: per operation name for the first
// MaxOperationNames names (the operations of further names are summed under OtherOperations), and
// per error type likewise.
type Performance struct {
	SessionID         string              `json:"session_id"`
	GeneratedAt       string              `json:"generated_at"`
	SessionDuration   float64             `json:"session_duration"`
	Statistics        Statistics          `json:"statistics"`
	ErrorDistribution map[string]int      `json:"error_distribution"` // failed attempts per error type
	Operations        map[string]OpMetric `json:"operations"`         // per operation name
	Hosts             int                 `json:"hosts"`              // distinct hosts with operations
	// SkippedRecords counts the lines of the session's parts that were not records: the torn end
	// of a write that was killed (or a file damaged by a crash of the host). Normally 0.
	SkippedRecords int `json:"skipped_records,omitempty"`
}

// OpMetric are the metrics of the operations of one name.
type OpMetric struct {
	Count                int     `json:"count"`
	Successful           int     `json:"successful"`
	Failed               int     `json:"failed"`
	AverageAttempts      float64 `json:"average_attempts"`
	AverageExecutionTime float64 `json:"average_execution_time"`
}

// MaxOperationNames bounds the operation names (and, alike, the error types) that the
// performance metrics and the metrics delivered to external systems keep apart: a session whose
// operation names are unique per host would otherwise make them grow with the fleet. The
// operations of further names are summed under OtherOperations.
const MaxOperationNames = 1000

// OtherOperations is the name under which the operations (or error types) beyond
// MaxOperationNames are summed.
const OtherOperations = "_other"

// ComputePerformance returns the performance metrics of a session. It is a pure function.
func ComputePerformance(s *Session, stats Statistics, generated time.Time) Performance {
	t := newTally()
	t.hostSet = map[string]bool{}
	for i := range s.Operations {
		t.add(liteOf(&s.Operations[i]))
	}
	return t.performance(s, stats, generated)
}

// opLite is what the statistics, the performance metrics and the exported metrics read of an
// operation: decoding only this from a record skips its context, times and messages.
type opLite struct {
	OperationName string        `json:"operation_name"`
	Host          string        `json:"host"`
	Status        string        `json:"status"`
	AttemptCount  int           `json:"attempt_count"`
	ExecutionTime float64       `json:"execution_time"`
	ErrorType     string        `json:"error_type"`
	Attempts      []attemptLite `json:"attempts"`
}

type attemptLite struct {
	Status    string  `json:"status"`
	ErrorType *string `json:"error_type"`
}

func liteOf(op *record.Operation) *opLite {
	l := &opLite{OperationName: op.OperationName, Host: op.Host, Status: op.Status, AttemptCount: op.AttemptCount,
		ExecutionTime: op.ExecutionTime, ErrorType: op.ErrorType, Attempts: make([]attemptLite, len(op.Attempts))}
	for i, a := range op.Attempts {
		l.Attempts[i] = attemptLite{Status: a.Status, ErrorType: a.ErrorType}
	}
	return l
}

func (o *opLite) finished() bool { return o.Status == record.Completed || o.Status == record.Failed }

// nameTally sums the finished operations of one name.
type nameTally struct {
	count, successful, failed, attempts int
	time                                float64
}

// groupKey is an operation name and a final status: the groups of the exported metrics.
type groupKey struct{ name, status string }

// tally sums, one operation at a time, what the statistics, the performance metrics and the
// exported metrics need: the memory it takes is bounded by MaxOperationNames, whatever the
// session holds. Not safe for concurrent use.
type tally struct {
	st       Statistics
	exec     float64
	errDist  map[string]int
	names    map[string]*nameTally
	nameList []string
	groups   map[groupKey]*export.OperationStats
	// Hosts: the records of a host come together (host by host), so hosts are counted as they
	// change; hostSet, when set, counts them in any order (an in-memory session).
	hosts    int
	lastHost string
	hostSet  map[string]bool
}

func newTally() *tally {
	return &tally{errDist: map[string]int{}, names: map[string]*nameTally{}, groups: map[groupKey]*export.OperationStats{}}
}

// capped returns name, or OtherOperations when m already holds MaxOperationNames other names.
func capped[V any](m map[string]V, name string) string {
	if _, ok := m[name]; ok || len(m) < MaxOperationNames {
		return name
	}
	return OtherOperations
}

// addLine adds the operation of a record (or of a format-1 file, already decoded).
func (t *tally) addLine(line []byte, op *record.Operation) error {
	if op != nil {
		t.add(liteOf(op))
		return nil
	}
	var l opLite
	if parseLite(line, &l) != nil {
		return errBadRecord
	}
	t.add(&l)
	return nil
}

// add adds one operation.
func (t *tally) add(op *opLite) {
	t.countHost(op.Host)
	failures := t.addAttempts(op)
	if !op.finished() {
		t.st.RunningOperations++
		return
	}
	t.st.TotalOperations++
	if op.Status == record.Completed {
		t.st.SuccessfulOperations++
	} else {
		t.st.FailedOperations++
	}
	retries := max(op.AttemptCount-1, 0)
	if retries > 0 {
		t.st.RetriedOperations++
		t.st.TotalRetryAttempts += retries
		t.st.MaxRetryCount = max(t.st.MaxRetryCount, retries)
	}
	t.exec += op.ExecutionTime
	name := capped(t.names, op.OperationName)
	t.addName(name, op)
	t.addGroup(name, op, retries, failures)
}

// countHost counts host (the operation's; "" for none).
func (t *tally) countHost(host string) {
	if host == "" {
		return
	}
	switch {
	case t.hostSet != nil:
		t.hostSet[host] = true
	case host != t.lastHost:
		t.hosts++
	}
	t.lastHost = host
}

// addAttempts counts the failed attempts of op in the error distribution, and returns them by type.
func (t *tally) addAttempts(op *opLite) map[string]int {
	var failures map[string]int
	for _, a := range op.Attempts {
		if a.Status != record.AttemptSuccess && a.ErrorType != nil {
			t.errDist[capped(t.errDist, *a.ErrorType)]++
			if *a.ErrorType != "" {
				if failures == nil {
					failures = map[string]int{}
				}
				failures[*a.ErrorType]++
			}
		}
	}
	return failures
}

// addName adds the finished operation op to the performance metrics of its name.
func (t *tally) addName(name string, op *opLite) {
	m := t.names[name]
	if m == nil {
		m = &nameTally{}
		t.names[name] = m
		t.nameList = append(t.nameList, name)
	}
	m.count++
	if op.Status == record.Completed {
		m.successful++
	} else {
		m.failed++
	}
	m.attempts += op.AttemptCount
	m.time += op.ExecutionTime
}

// addGroup adds the finished operation op, with its retries and failed attempts by type, to the
// exported metrics' group of its name and status.
func (t *tally) addGroup(name string, op *opLite, retries int, failures map[string]int) {
	k := groupKey{name, op.Status}
	g := t.groups[k]
	if g == nil {
		g = &export.OperationStats{Operation: name, Status: op.Status}
		t.groups[k] = g
	}
	g.Operations++
	g.Attempts += op.AttemptCount
	g.Retries += retries
	g.ExecutionSeconds += op.ExecutionTime
	for typ, n := range failures {
		if g.Failures == nil {
			g.Failures = map[string]int{}
		}
		g.Failures[capped(g.Failures, typ)] += n
	}
	// A refusal by a guardrail is not a failed attempt, but it is why the operation failed:
	// counted under its reserved type (circuit_open, retry_budget_exhausted), so that the
	// metrics show it.
	if op.Status == record.Failed && retry.ErrorType(op.ErrorType).Reserved() {
		if g.Failures == nil {
			g.Failures = map[string]int{}
		}
		g.Failures[op.ErrorType]++
	}
}

// statistics returns the statistics of what was added, over a session that lasted duration.
func (t *tally) statistics(duration time.Duration) Statistics {
	s := t.st
	s.TotalExecutionTime = round(t.exec, 3)
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

// performance returns the performance metrics of what was added.
func (t *tally) performance(s *Session, stats Statistics, generated time.Time) Performance {
	p := Performance{SessionID: s.SessionID, GeneratedAt: record.Timestamp(generated), SessionDuration: s.SessionDuration,
		Statistics: stats, ErrorDistribution: t.errDist, Operations: map[string]OpMetric{}, Hosts: t.hosts}
	if t.hostSet != nil {
		p.Hosts = len(t.hostSet)
	}
	for name, m := range t.names {
		p.Operations[name] = OpMetric{Count: m.count, Successful: m.successful, Failed: m.failed,
			AverageAttempts: round(float64(m.attempts)/float64(m.count), 2), AverageExecutionTime: round(m.time/float64(m.count), 3)}
	}
	return p
}

// operationStats returns the exported metrics' groups, by name then status.
func (t *tally) operationStats() []export.OperationStats {
	out := make([]export.OperationStats, 0, len(t.groups))
	for _, g := range t.groups {
		st := *g
		st.ExecutionSeconds = round(st.ExecutionSeconds, 3)
		out = append(out, st)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		return a.Operation < b.Operation || a.Operation == b.Operation && a.Status < b.Status
	})
	return out
}

// MaxErrorLogEntries bounds the entries of a composed error log: the oldest ones are kept.
const MaxErrorLogEntries = 1000

// maxErrorText bounds the text of an entry's error_message (and, by a quarter, of its names and
// failed task) in a composed error log, so that the log stays far below state.MaxFileSize.
const maxErrorText = 2048

// errorCollector keeps the oldest n error log entries of a stream (a heap of the newest kept
// one on top), and counts them all.
type errorCollector struct {
	n     int
	count int
	kept  entryHeap
}

func newErrorCollector(n int) *errorCollector { return &errorCollector{n: n} }

// addLine adds the entry of an error record.
func (c *errorCollector) addLine(line []byte) error {
	var rec struct {
		ErrorEntry *ErrorEntry `json:"error_entry"`
	}
	if json.Unmarshal(line, &rec) != nil || rec.ErrorEntry == nil {
		return errBadRecord
	}
	c.add(*rec.ErrorEntry)
	return nil
}

func (c *errorCollector) add(e ErrorEntry) {
	c.count++
	e.ErrorMessage = clip(e.ErrorMessage, maxErrorText)
	e.FailedTask = clip(e.FailedTask, maxErrorText/4)
	e.OperationName = clip(e.OperationName, maxErrorText/4)
	e.Host = clip(e.Host, maxErrorText/4)
	e.StopReason, e.ErrorType = clip(e.StopReason, 64), clip(e.ErrorType, 64)
	item := timedEntry{e: e, t: entryTime(e)}
	if len(c.kept) < c.n {
		heap.Push(&c.kept, item)
		return
	}
	if c.n > 0 && item.before(c.kept[0]) {
		c.kept[0] = item
		heap.Fix(&c.kept, 0)
	}
}

// log returns the error log of session id: the kept entries, oldest first.
func (c *errorCollector) log(id string) ErrorLog {
	items := append(entryHeap(nil), c.kept...)
	sort.Slice(items, func(i, j int) bool { return items[i].before(items[j]) })
	out := ErrorLog{SessionID: id, Errors: make([]ErrorEntry, len(items)), ErrorCount: c.count, Omitted: c.count - len(items)}
	for i, it := range items {
		out.Errors[i] = it.e
	}
	return out
}

// first returns the n oldest entries kept.
func (c *errorCollector) first(n int) []ErrorEntry {
	l := c.log("").Errors
	return l[:min(n, len(l))]
}

// entryTime is when e was recorded; an entry whose timestamp does not parse sorts last.
func entryTime(e ErrorEntry) time.Time {
	t, err := record.ParseTimestamp(e.Timestamp)
	if err != nil {
		return time.Unix(1<<62, 0)
	}
	return t
}

type timedEntry struct {
	e ErrorEntry
	t time.Time
}

func (a timedEntry) before(b timedEntry) bool {
	if !a.t.Equal(b.t) {
		return a.t.Before(b.t)
	}
	return a.e.OperationID < b.e.OperationID
}

// entryHeap is a max-heap: the newest kept entry on top.
type entryHeap []timedEntry

func (h entryHeap) Len() int           { return len(h) }
func (h entryHeap) Less(i, j int) bool { return h[j].before(h[i]) }
func (h entryHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *entryHeap) Push(x any)        { *h = append(*h, x.(timedEntry)) }
func (h *entryHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// clip cuts s to at most n bytes on a rune boundary, ending in "…" when cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
