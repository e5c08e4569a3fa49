package resilience

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

// FormatVersion is the format_version of the state documents this package writes.
const FormatVersion = 1

// WindowBuckets is the number of buckets a sliding window is kept in. An event therefore leaves
// a window between 0.9 and 1 times the window's length after it happened.
const WindowBuckets = 10

// MaxTransitions bounds the transitions kept in a document: the latest are kept.
const MaxTransitions = 20

// maxBuckets bounds a bucket list whatever the windows of the writers were.
const maxBuckets = 4 * WindowBuckets

// CircuitState is the state of a circuit breaker. A string value: safe for concurrent use.
type CircuitState string

// The breaker states.
const (
	Closed   CircuitState = "closed"    // calls run; failures are counted
	Open     CircuitState = "open"      // calls fail at once with circuit_open until open_until
	HalfOpen CircuitState = "half_open" // up to half_open_max_calls trial calls run at a time
)

// Document is the state file of one key, <state_dir>/circuit/<FileName(key)>.json. It is
// replaced atomically under the lock <file>.lock by every change. A plain value: safe for
// concurrent use as long as nobody modifies it.
type Document struct {
	FormatVersion int       `json:"format_version"`
	Key           string    `json:"key"`
	UpdatedAt     time.Time `json:"updated_at,omitzero"`
	Breaker       Breaker   `json:"circuit_breaker"`
	Budget        Series    `json:"retry_budget,omitempty"`
	History       Series    `json:"history,omitempty"`
}

// Breaker is the circuit breaker part of a Document.
type Breaker struct {
	State CircuitState `json:"state"`
	// Generation counts the transitions. An admission remembers it, so that the result of a
	// call admitted before a transition does not move the breaker after it (a late failure
	// from before an outage does not re-open a breaker that has just closed).
	Generation uint64 `json:"generation"`
	// Since is when the current state was entered (zero for a fresh breaker).
	Since time.Time `json:"since,omitzero"`
	// OpenUntil is when an open breaker lets trial calls through; zero unless open.
	OpenUntil time.Time `json:"open_until,omitzero"`
	// ConsecutiveFailures counts the counted failures in a row while closed.
	ConsecutiveFailures int `json:"consecutive_failures"`
	// Window holds the counted calls of the failure-rate window while closed (successes and
	// failures); it is cleared by every transition.
	Window Series `json:"window,omitempty"`
	// Opens counts the times the breaker opened since the document was created.
	Opens int `json:"opens"`
	// Transitions are the latest MaxTransitions transitions, oldest first.
	Transitions []Transition `json:"transitions,omitempty"`
}

// Transition is one change of a breaker's state.
type Transition struct {
	From   CircuitState `json:"from"`
	To     CircuitState `json:"to"`
	At     time.Time    `json:"at"`
	Reason string       `json:"reason"`
}

// Series is a sliding window kept as buckets of window/WindowBuckets, oldest first. The budget
// uses Calls, Retries and Denied; the history and the breaker's window use Successes and
// Failures.
type Series []Bucket

// Bucket counts the events of one slice of time, starting at Start.
type Bucket struct {
	Start     time.Time `json:"start"`
	Successes int       `json:"successes,omitempty"`
	Failures  int       `json:"failures,omitempty"`
	Calls     int       `json:"calls,omitempty"`
	Retries   int       `json:"retries,omitempty"`
	Denied    int       `json:"denied,omitempty"`
}

func (b *Bucket) addCounts(o Bucket) {
	b.Successes += o.Successes
	b.Failures += o.Failures
	b.Calls += o.Calls
	b.Retries += o.Retries
	b.Denied += o.Denied
}

func bucketWidth(window time.Duration) time.Duration {
	return max(window/WindowBuckets, time.Millisecond)
}

// prune drops the buckets that left the window (Start <= now-window) and those more than a
// window in the future (a clock that went back), and keeps at most maxBuckets.
func (s Series) prune(now time.Time, window time.Duration) Series {
	from, to := now.Add(-window), now.Add(window)
	s = slices.DeleteFunc(s, func(b Bucket) bool { return !b.Start.After(from) || b.Start.After(to) })
	if len(s) > maxBuckets {
		s = s[len(s)-maxBuckets:]
	}
	return s
}

// add prunes s and adds delta's counts to the bucket of now.
func (s Series) add(now time.Time, window time.Duration, delta Bucket) Series {
	s = s.prune(now, window)
	start := now.Truncate(bucketWidth(window))
	for i := len(s) - 1; i >= 0; i-- {
		if s[i].Start.Equal(start) {
			s[i].addCounts(delta)
			return s
		}
	}
	delta.Start = start
	s = append(s, delta)
	slices.SortStableFunc(s, func(a, b Bucket) int { return a.Start.Compare(b.Start) })
	return s
}

// sum adds up the buckets in the window: Start > now-window.
func (s Series) sum(now time.Time, window time.Duration) Bucket {
	var total Bucket
	from := now.Add(-window)
	for _, b := range s {
		if b.Start.After(from) {
			total.addCounts(b)
		}
	}
	return total
}

func freshDocument(key string) Document {
	return Document{FormatVersion: FormatVersion, Key: key, Breaker: Breaker{State: Closed}}
}

// decode reads the document of key. nil data gives a fresh document. A document that cannot be
// used gives a fresh closed one and the reason in problem.
func decode(key string, data []byte) (doc Document, problem string) {
	if data == nil {
		return freshDocument(key), ""
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return freshDocument(key), fmt.Sprintf("not a JSON state document (%d bytes): %v", len(data), err)
	}
	if problem := doc.check(key); problem != "" {
		return freshDocument(key), problem
	}
	return doc, ""
}

// check reports what makes doc unusable for key.
func (d *Document) check(key string) string {
	switch {
	case d.FormatVersion != FormatVersion:
		return fmt.Sprintf("format_version %d, want %d", d.FormatVersion, FormatVersion)
	case d.Key != key:
		return fmt.Sprintf("it belongs to key %q, not %q", clip(d.Key, 80), clip(key, 80))
	}
	b := &d.Breaker
	switch b.State {
	case Closed, HalfOpen:
	case Open:
		if b.OpenUntil.IsZero() {
			return "open without open_until"
		}
	default:
		return fmt.Sprintf("unknown breaker state %q", clip(string(b.State), 40))
	}
	if b.ConsecutiveFailures < 0 || b.Opens < 0 {
		return "negative counter"
	}
	for _, s := range []Series{b.Window, d.Budget, d.History} {
		for _, bk := range s {
			if bk.Successes < 0 || bk.Failures < 0 || bk.Calls < 0 || bk.Retries < 0 || bk.Denied < 0 {
				return "negative counter"
			}
		}
	}
	return ""
}

func encode(doc Document) ([]byte, error) {
	data, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode state of %q: %w", doc.Key, err)
	}
	return append(data, '\n'), nil
}
