package slo

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"resilience.ops/internal/clock"
	"resilience.ops/internal/field"
)

// Evaluator runs the checks of a Config. Build it once with New; it is
// immutable afterwards and safe for concurrent use.
type Evaluator struct {
	checks   []check
	clients  map[Source]querier
	window   string        // normalised, as written in the queries
	duration time.Duration // the window; a sample stamped before it is stale
	timeout  time.Duration
	clock    clock.Clock
	redact   *redactor
}

// Option changes how New builds an Evaluator.
type Option func(*options)

type options struct {
	clock   clock.Clock
	maxBody int64
}

// WithClock sets the clock that gives the evaluation time (default the
// real clock; nil keeps it). Every query of an evaluation runs as an instant
// query at that one time.
func WithClock(c clock.Clock) Option {
	return func(o *options) {
		if c != nil {
			o.clock = c
		}
	}
}

// WithMaxResponseBytes caps each response body (default
// DefaultMaxResponseBytes; n <= 0 keeps it). A larger answer makes the check
// unknown.
func WithMaxResponseBytes(n int64) Option {
	return func(o *options) {
		if n > 0 {
			o.maxBody = n
		}
	}
}

// New validates cfg, loads its TLS files and builds the HTTP clients of the
// sources that enabled checks use. Errors are *field.Error values (joined
// when there are several) and never contain a secret.
func New(cfg Config, opts ...Option) (*Evaluator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	o := options{clock: clock.Real{}, maxBody: DefaultMaxResponseBytes}
	for _, opt := range opts {
		opt(&o)
	}
	d, _ := ParseWindow(cfg.Window) // validated above
	e := &Evaluator{
		window:   formatWindow(d),
		duration: d,
		timeout:  cfg.Timeout,
		clock:    o.clock,
		redact:   newRedactor(cfg),
		clients:  map[Source]querier{},
	}
	e.checks = buildChecks(cfg, e.window, d.Minutes())
	for _, c := range e.checks {
		if e.clients[c.source] != nil {
			continue
		}
		q, err := newEndpointQuerier(cfg.endpoint(c.source), backendOf(c.source), o.maxBody, e.redact)
		if err != nil {
			return nil, err
		}
		e.clients[c.source] = q
	}
	return e, nil
}

func newEndpointQuerier(ep Endpoint, b *backend, maxBody int64, red *redactor) (querier, error) {
	u, user, pass := ep.baseURL()
	rt, err := newTransport(ep, u, string(b.Source), user, pass, maxBody)
	if err != nil {
		return nil, err
	}
	if b.APIPath != "" {
		u.Path = strings.TrimRight(u.Path, "/") + b.APIPath
	}
	q, err := newQuerier(u.String(), rt, b, red)
	if err != nil {
		return nil, &field.Error{Path: string(b.Source) + ".url", Problem: "cannot build a client"}
	}
	return q, nil
}

// Evaluate runs every check concurrently, each in its own goroutine with its
// own timeout under ctx, all at the same evaluation time, and returns when
// all have ended. It never returns an error: failures are outcomes.
func (e *Evaluator) Evaluate(ctx context.Context) Report {
	at := e.clock.Now()
	results := make([]CheckResult, len(e.checks))
	var wg sync.WaitGroup
	for i, c := range e.checks {
		wg.Go(func() { results[i] = e.run(ctx, c, at) })
	}
	wg.Wait()
	return newReport(at, e.window, results)
}

func (e *Evaluator) run(ctx context.Context, c check, at time.Time) CheckResult {
	ctx, cancel := context.WithTimeout(ctx, e.timeout)
	defer cancel()
	res := CheckResult{
		Name: c.name, Source: c.source, Query: c.query, VolumeQuery: c.volumeQuery,
		Threshold: c.threshold, Comparison: c.comparison,
	}
	v, warnings, err := e.query(ctx, c.source, c.query, at)
	res.Warnings = warnings
	switch {
	case errors.Is(err, errNoData):
		e.noData(ctx, c, at, &res)
	case err != nil:
		res.set(classify(err, c.source, e.timeout, ctx.Err()), nil)
	case c.perMinute > 0:
		res.compare(c, v/c.perMinute, fmt.Sprintf(" (%s matching lines in %s)", formatValue(v), e.window))
	default:
		res.compare(c, v, "")
	}
	return e.redact.result(res)
}

// query runs one instant query and extracts its single number, which must
// come from a sample stamped within the window (see checkSampleTime).
func (e *Evaluator) query(ctx context.Context, src Source, q string, at time.Time) (float64, []string, error) {
	var opts []v1.Option
	if backendOf(src).ServerTimeout {
		opts = append(opts, v1.WithTimeout(e.timeout)) // lets the server give up too
	}
	val, warnings, _, err := e.clients[src].Query(ctx, q, at, opts...)
	if err != nil {
		return 0, warnings, err
	}
	f, stamp, err := single(val)
	if err == nil {
		err = checkSampleTime(src, stamp, at, e.duration)
	}
	return f, warnings, err
}

// noData applies the check's no-data policy.
func (e *Evaluator) noData(ctx context.Context, c check, at time.Time, res *CheckResult) {
	switch {
	case c.noData == NoDataFail:
		res.set(verdict{OutcomeFail, ReasonNoData, c.label + ": no data for the window (no_data: fail)"}, nil)
	case c.noData == NoDataUnknown:
		res.set(verdict{OutcomeUnknown, ReasonNoData, c.label + ": no data for the window (no_data: unknown); " +
			"check the job label and that the series exists"}, nil)
	case c.volumeQuery == "":
		res.compare(c, 0, " (no data, counted as 0)")
	default:
		// Zero only when the stream is known to have lines: an empty error
		// count from a selector or tenant that matches nothing is not zero.
		vol, _, err := e.query(ctx, c.source, c.volumeQuery, at)
		switch {
		case err == nil && (!isFinite(vol) || vol < 0):
			res.set(verdict{OutcomeUnknown, ReasonOutOfDomain, fmt.Sprintf(
				"%s: no matching line, but the volume query %s returned %s, which is not a number of lines: the server's answer cannot be trusted",
				c.label, c.volumeQuery, formatValue(vol))}, nil)
		case err == nil && vol > 0:
			res.compare(c, 0, fmt.Sprintf(" (no matching line in %s; the stream has %s lines)", e.window, formatValue(vol)))
		case err == nil || errors.Is(err, errNoData):
			res.set(verdict{OutcomeUnknown, ReasonNoLogStream, fmt.Sprintf(
				"%s: no log line at all for %s in the last %s; a wrong job label or a missing or wrong tenant (%s) would look like this",
				c.label, c.volumeQuery, e.window, TenantHeader)}, nil)
		default:
			v := classify(err, c.source, e.timeout, ctx.Err())
			v.msg = "volume query: " + v.msg
			res.set(v, nil)
		}
	}
}

// compare sets the outcome of a value; note is appended to the message.
func (r *CheckResult) compare(c check, v float64, note string) {
	if !isFinite(v) {
		r.set(verdict{OutcomeUnknown, ReasonNotFinite, fmt.Sprintf("%s is %s, which cannot be compared (a ratio is NaN when there was no traffic: 0/0)",
			c.label, formatValue(v))}, nil)
		return
	}
	if v < c.min-domainSlack || v > c.max+domainSlack {
		r.set(verdict{OutcomeUnknown, ReasonOutOfDomain, fmt.Sprintf("%s is %s, outside the values it can take (%s): the query or the server is wrong",
			c.label, formatValue(v), c.domainText())}, nil)
		return
	}
	val, th := formatValue(v)+c.unit, formatValue(c.threshold)+c.unit
	if c.comparison.holds(v, c.threshold) {
		r.set(verdict{OutcomePass, "", fmt.Sprintf("%s %s %s %s%s", c.label, val, c.comparison, th, note)}, &v)
		return
	}
	r.set(verdict{OutcomeFail, "", fmt.Sprintf("%s %s is not %s %s%s", c.label, val, c.comparison, th, note)}, &v)
}

func (r *CheckResult) set(v verdict, value *float64) {
	r.Outcome, r.Reason, r.Message, r.Value = v.outcome, v.reason, v.msg, value
}
