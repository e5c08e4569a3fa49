package export

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"

	"resilience.ops/internal/clock"
	"resilience.ops/internal/field"
	"resilience.ops/internal/retry"
)

// Options are the settings of one [Deliver] call. A plain value; Claim must be safe for
// concurrent use if the same Options are passed to concurrent Deliver calls.
type Options struct {
	// CheckMode sends and writes nothing: each result's WouldSend describes the payload.
	CheckMode bool
	// Alerts selects the event: false sends the session's metrics ("send retry metrics to
	// external systems") to the systems that receive metrics; true sends an alert ("send retry
	// alerts") to the systems that receive alerts, and only when a threshold is breached.
	Alerts bool
	// Claim, when set, is asked once per Deliver call with alerts, before anything is sent, with
	// the breach group's key ([AlertKey]). Returning false means another host already sent this
	// alert: nothing is sent and the results say already_sent. Every host of a session notifies
	// the "send retry alerts" handler; Claim backed by the session's locked state makes that one
	// message per breach group, not one per host. An error sends anyway (a duplicate is better
	// than a lost alert) and notes it. Not called in check mode.
	Claim func(ctx context.Context, key string) (first bool, err error)

	clock clock.Clock // nil: the real clock. Tests set it so that no retry sleeps.
}

// Reasons why nothing was sent to a system (Result.Skipped).
const (
	SkipDisabled      = "disabled"       // enabled: false
	SkipNotSubscribed = "not_subscribed" // the system's events do not include this event
	SkipNoBreach      = "no_breach"      // alerts: no threshold is breached
	SkipAlreadySent   = "already_sent"   // alerts: Claim said another host sent this breach group
	SkipCheckMode     = "check_mode"     // check mode: see WouldSend
)

// Result is the outcome of one system's delivery, safe to show: it names the system and its host,
// never its URL or credentials. A plain value: safe for concurrent use as long as nobody modifies
// it.
type Result struct {
	Name     string `json:"name"`
	Type     Type   `json:"type"`
	Host     string `json:"host"`           // host[:port] of the URL; "localhost" for textfile
	Path     string `json:"path,omitempty"` // the textfile's file
	Event    Event  `json:"event"`
	Sent     bool   `json:"sent"`
	Skipped  string `json:"skipped,omitempty"` // a Skip* reason when nothing was attempted
	Required bool   `json:"required"`
	// Attempts counts the attempts made (0 when skipped); StopReason says why the retries stopped.
	Attempts   int              `json:"attempts"`
	StopReason retry.StopReason `json:"stop_reason,omitempty"`
	// Error (scrubbed of secrets, URLs cut to their host) and ErrorType describe the last failure.
	Error      string          `json:"error,omitempty"`
	ErrorType  retry.ErrorType `json:"error_type,omitempty"`
	StatusCode int             `json:"status_code,omitempty"` // the last HTTP status, if any
	// Protocol is the remote write version used ("1.0" or "2.0").
	Protocol string `json:"protocol,omitempty"`
	// Series counts the series or samples in the payload (metric systems).
	Series int `json:"series,omitempty"`
	// Note says something worth knowing that is not a failure (a protocol fallback).
	Note string `json:"note,omitempty"`
	// WouldSend describes the payload in check mode.
	WouldSend *Preview `json:"would_send,omitempty"`
}

// Failed reports whether a delivery was attempted and did not succeed.
func (r Result) Failed() bool { return r.Error != "" }

// Preview describes a payload without secrets: header names but not their values, the host but
// not the URL. A plain value: safe for concurrent use as long as nobody modifies it.
type Preview struct {
	Method      string   `json:"method,omitempty"`
	Host        string   `json:"host,omitempty"`
	Path        string   `json:"path,omitempty"` // the textfile's file
	Protocol    string   `json:"protocol,omitempty"`
	ContentType string   `json:"content_type,omitempty"`
	Headers     []string `json:"headers,omitempty"` // names of the credential and user headers
	// Groups lists the Pushgateway groups, as job="retry_manager",operation="x",session="y".
	Groups []string `json:"groups,omitempty"`
	// Series has one text-format line per sample, with the labels the receiver will store.
	Series []string `json:"series,omitempty"`
	// Text is the Slack message; Body the JSON of Datadog and webhook systems.
	Text string          `json:"text,omitempty"`
	Body json.RawMessage `json:"body,omitempty"`
}

// Deliver sends snap to every enabled system that receives the event of opts, concurrently, and
// returns one result per system in the order of systems. Each system has its own retries
// (retry_count, fixed retry_delay, Retry-After up to MaxRetryAfter) on the retry engine, each
// attempt bounded by its timeout; ctx bounds the whole call. A failed delivery is a result, not
// an error: use [Warnings] and [Err] on the results. An invalid snapshot fails every system that
// would have been sent to. Deliver is safe for concurrent use.
func Deliver(ctx context.Context, systems []System, snap Snapshot, opts Options) []Result {
	clk := clock.Or(opts.clock)
	if snap.Time.IsZero() {
		snap.Time = clk.Now()
	}
	event := EventMetrics
	if opts.Alerts {
		event = EventAlerts
	}
	snapErr := snap.Validate()

	results := make([]Result, len(systems))
	plans := make([]*plan, len(systems))
	senders := make([]*httpSender, len(systems))
	defer func() {
		for _, h := range senders {
			if h != nil {
				h.close()
			}
		}
	}()
	var todo []int
	for i, sys := range systems {
		r := Result{Name: sys.Name, Type: sys.Type, Host: sys.Host(), Path: sys.Path, Event: event, Required: sys.Required}
		switch {
		case !sys.Enabled:
			r.Skipped = SkipDisabled
		case !sys.receives(event):
			r.Skipped = SkipNotSubscribed
		case event == EventAlerts && len(snap.Alerts) == 0 && snapErr == nil:
			r.Skipped = SkipNoBreach
		case snapErr != nil:
			r.Error, r.ErrorType = "invalid snapshot: "+field.Line(snapErr), retry.InvalidParameter
		default:
			p, h, err := prepare(sys, snap, event, clk)
			if err != nil {
				r.Error, r.ErrorType = err.Error(), retry.ConfigurationError
				break
			}
			plans[i], senders[i] = p, h
			r.Series, r.Protocol = p.series, p.protocol
			if opts.CheckMode {
				prev := p.preview
				r.Skipped, r.WouldSend = SkipCheckMode, &prev
				break
			}
			todo = append(todo, i)
		}
		results[i] = r
	}

	if event == EventAlerts && opts.Claim != nil && len(todo) > 0 {
		first, err := opts.Claim(ctx, AlertKey(snap))
		switch {
		case err != nil:
			for _, i := range todo {
				results[i].Note = "could not check whether another host already sent this alert (" + err.Error() + "): sent anyway"
			}
		case !first:
			for _, i := range todo {
				results[i].Skipped = SkipAlreadySent
			}
			todo = nil
		}
	}

	var wg sync.WaitGroup
	for _, i := range todo {
		wg.Add(1)
		go func() {
			defer wg.Done()
			run(ctx, systems[i], plans[i], clk, &results[i])
		}()
	}
	wg.Wait()
	for i, sys := range systems {
		results[i] = newRedactor(sys).result(results[i])
	}
	return results
}

// prepare builds the plan of one system.
func prepare(sys System, snap Snapshot, e Event, clk clock.Clock) (*plan, *httpSender, error) {
	k := kindOf(sys.Type)
	switch {
	case k == nil:
		return nil, nil, fmt.Errorf("unknown type %q", sys.Type)
	case k.writesFile():
		return k.plan(sys, snap, e, clk, nil), nil, nil
	case sys.url == nil:
		return nil, nil, errors.New("no valid URL: build systems with ParseSystems")
	}
	h, err := newHTTPSender(sys, clk)
	if err != nil {
		return nil, nil, err
	}
	return k.plan(sys, snap, e, clk, h), h, nil
}

// run sends one plan with the system's retries and fills r.
func run(ctx context.Context, sys System, p *plan, clk clock.Clock, r *Result) {
	eng, err := retry.NewEngine(policyFor(sys), retry.WithClassifier(classifier), retry.WithClock(clk))
	if err != nil { // ParseSystems keeps the settings valid; a hand-built System may not
		r.Error, r.ErrorType = "invalid retry settings: "+err.Error(), retry.ConfigurationError
		return
	}
	out := eng.Do(ctx, func(actx context.Context, _ int) retry.Result { return p.attempt(actx) })
	r.Attempts, r.StopReason = len(out.Attempts), out.Reason
	r.StatusCode, r.Protocol = p.status, p.protocol
	if p.note != "" {
		r.Note = strings.TrimPrefix(r.Note+"; "+p.note, "; ")
	}
	if out.Succeeded() {
		r.Sent = true
		return
	}
	r.ErrorType = out.LastType
	switch {
	case out.LastFailure != nil:
		r.Error = out.LastFailure.Summary()
	default:
		r.Error = string(out.Reason)
	}
}

// policyFor is the retry policy of a system: retry_count+1 attempts, a fixed retry_delay without
// jitter, timeout per attempt, the default retry conditions (connection problems, timeouts,
// 429, 5xx). A textfile gets one attempt: a file that cannot be written now will not be a
// second later.
func policyFor(sys System) retry.Policy {
	p := retry.DefaultPolicy()
	p.MaxAttempts = sys.RetryCount + 1
	if k := kindOf(sys.Type); k != nil && k.writesFile() {
		p.MaxAttempts = 1
	}
	p.RetryPolicy = retry.FixedDelay
	p.BaseDelay = sys.RetryDelay
	p.MaxDelay = max(sys.RetryDelay, MaxRetryAfter)
	p.JitterEnabled, p.JitterMode = false, retry.JitterNone
	p.AttemptTimeout = sys.Timeout
	return p
}

// Warnings returns one line per failed delivery that is not required, for the module's warnings.
func Warnings(results []Result) []string {
	var out []string
	for _, r := range results {
		if r.Failed() && !r.Required {
			out = append(out, r.summary())
		}
	}
	return out
}

// summary is "external system NAME (TYPE, HOST): EVENT not delivered after N attempts
// (error_type): error".
func (r Result) summary() string {
	s := fmt.Sprintf("external system %s (%s, %s): %s not delivered", r.Name, r.Type, r.Host, r.Event)
	if r.Attempts > 0 {
		s += fmt.Sprintf(" after %d attempt%s", r.Attempts, plural(r.Attempts))
	}
	if r.ErrorType != "" {
		s += " (" + string(r.ErrorType) + ")"
	}
	return s + ": " + r.Error
}

// DeliveryError reports the required systems whose delivery failed. It is not modified after
// creation: safe for concurrent use.
type DeliveryError struct {
	Failed []Result
}

func (e *DeliveryError) Error() string {
	parts := make([]string, len(e.Failed))
	for i, r := range e.Failed {
		parts[i] = "required " + r.summary()
	}
	return strings.Join(parts, "; ")
}

// Err returns a *DeliveryError when a required system's delivery failed, else nil. The module
// fails the task on it; other failures are only warnings.
func Err(results []Result) error {
	var failed []Result
	for _, r := range results {
		if r.Failed() && r.Required {
			failed = append(failed, r)
		}
	}
	if failed == nil {
		return nil
	}
	return &DeliveryError{Failed: failed}
}
