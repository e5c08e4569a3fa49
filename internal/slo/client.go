package slo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"resilience.ops/internal/secret"
)

// querier is the part of v1.API used here (the v1.25 signature).
type querier interface {
	Query(ctx context.Context, query string, ts time.Time, opts ...v1.Option) (model.Value, v1.Warnings, v1.Infos, error)
}

// newQuerier returns a v1 API client for address, the base URL with the
// backend's APIPath (for Loki <loki_url>/loki, so that queries go to
// /loki/api/v1/query). v1 sends each query as a form POST and retries with GET
// on 403, 405 or 501; Loki accepts both methods on that path. Redirects are followed only within the
// address's origin: the credentials never go to another host or port, nor
// in clear after https, and no other server supplies the data.
func newQuerier(address string, rt http.RoundTripper, b *backend, red *redactor) (querier, error) {
	c, err := api.NewClient(api.Config{Address: address, Client: &http.Client{Transport: rt, CheckRedirect: secret.Redirects}})
	if err != nil {
		return nil, err
	}
	return v1.NewAPI(statusClient{Client: c, check: b.checkAnswer, redact: red}), nil
}

// statusClient keeps the HTTP status of failed requests, which v1.Error
// loses: v1 turns a non-2xx answer other than 400/422 into ErrServer or
// ErrClient with the body only in Detail (a Prometheus timeout is a 503 whose
// errorType "timeout" sits in Detail), and a non-JSON 400 (Loki's text/plain
// query errors) into ErrClient "client error: 400". Returning *httpError with
// the response keeps v1's GET fallback (it looks at the status) working.
//
// It also refuses, with the backend's checkAnswer, an answer that holds no
// number (a Loki log query: errLogQuery).
type statusClient struct {
	api.Client
	check  func(body []byte) error // nil accepts every answer
	redact *redactor               // applied to error bodies before they are cut short, so no part of a secret survives
}

func (c statusClient) Do(ctx context.Context, req *http.Request) (*http.Response, []byte, error) {
	resp, body, err := c.Client.Do(ctx, req)
	if err != nil || resp == nil {
		return resp, body, err
	}
	if resp.StatusCode/100 != 2 {
		return resp, body, newHTTPError(resp, body, c.redact)
	}
	if c.check != nil {
		if err := c.check(body); err != nil {
			return resp, body, err
		}
	}
	return resp, body, nil
}

// httpError is a non-2xx answer.
type httpError struct {
	Code int
	Type v1.ErrorType // errorType of a Prometheus-style JSON error body, else ""
	Msg  string       // error field of that body, else the start of the body text
}

func (e *httpError) Error() string {
	s := fmt.Sprintf("HTTP %d %s", e.Code, http.StatusText(e.Code))
	if e.Type != "" {
		s += " (" + string(e.Type) + ")"
	}
	if e.Msg != "" {
		s += ": " + e.Msg
	}
	return s
}

// maxDetail bounds how much of an error body goes into a message.
const maxDetail = 300

func newHTTPError(resp *http.Response, body []byte, red *redactor) *httpError {
	e := &httpError{Code: resp.StatusCode}
	var env struct {
		Status    string       `json:"status"`
		ErrorType v1.ErrorType `json:"errorType"`
		Error     string       `json:"error"`
	}
	if json.Unmarshal(body, &env) == nil && env.Status == "error" {
		e.Type, e.Msg = env.ErrorType, snippet(red.string(env.Error))
		return e
	}
	// Scrubbed before it is cut to a snippet, so no part of a secret survives.
	if len(body) > 64<<10 {
		e.Msg = snippet(red.tail(string(body[:64<<10])))
	} else {
		e.Msg = snippet(red.string(string(body)))
	}
	return e
}

// snippet makes s fit on one line of at most maxDetail bytes.
func snippet(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > maxDetail {
		s = strings.ToValidUTF8(s[:maxDetail], "") + "..."
	}
	return s
}

func resultType(body []byte) string {
	var r struct {
		Data struct {
			ResultType string `json:"resultType"`
		} `json:"data"`
	}
	_ = json.Unmarshal(body, &r) // undecodable bodies are left to v1, which reports them
	return r.Data.ResultType
}

// errNoData: the query returned no series.
var errNoData = errors.New("no data")

// ambiguousError: the query returned several series where one was needed.
type ambiguousError struct {
	n       int
	example model.Metric
}

func (e *ambiguousError) Error() string {
	return fmt.Sprintf("the query returned %d series (e.g. %s), a check needs exactly one: "+
		"aggregate it, for example with sum(...) or max(...)", e.n, e.example)
}

// wrongTypeError: the query returned a range vector or a string.
type wrongTypeError struct{ typ model.ValueType }

func (e *wrongTypeError) Error() string {
	return fmt.Sprintf("the query returned a %s, a check needs an instant vector with one series or a scalar", e.typ)
}

// single extracts the one number a check needs from a query result, and the
// time of its sample.
func single(v model.Value) (float64, model.Time, error) {
	switch v := v.(type) {
	case *model.Scalar:
		return float64(v.Value), v.Timestamp, nil
	case model.Vector:
		switch len(v) {
		case 0:
			return 0, 0, errNoData
		case 1:
			return float64(v[0].Value), v[0].Timestamp, nil
		}
		return 0, 0, &ambiguousError{n: len(v), example: v[0].Metric}
	case nil:
		return 0, 0, &v1.Error{Type: v1.ErrBadResponse, Msg: "empty result"}
	}
	return 0, 0, &wrongTypeError{typ: v.Type()}
}

// MaxSampleSkew is how far after the evaluation time a sample may be stamped.
// Prometheus and Loki stamp the samples of an instant query with the
// query's own time (to the millisecond), so anything later is not an answer to
// this query: a cache, a replay or a server that ignores the time.
const MaxSampleSkew = time.Minute

// sampleTimeError: the sample is older than the window, or from the future.
type sampleTimeError struct {
	src       Source
	at, stamp time.Time
	window    time.Duration
}

func (e *sampleTimeError) Error() string {
	const layout = "2006-01-02T15:04:05.000Z07:00"
	if e.stamp.After(e.at) {
		return fmt.Sprintf("%s answered with a sample stamped %s, after the evaluation time %s: it does not answer this query",
			e.src, e.stamp.UTC().Format(layout), e.at.UTC().Format(layout))
	}
	return fmt.Sprintf("%s answered with a sample stamped %s, before the %s window that ends at %s: it says nothing about the window",
		e.src, e.stamp.UTC().Format(layout), formatWindow(e.window), e.at.UTC().Format(layout))
}

// checkSampleTime returns a *sampleTimeError unless stamp lies within the
// window that ends at at (plus MaxSampleSkew after it).
func checkSampleTime(src Source, stamp model.Time, at time.Time, window time.Duration) error {
	t := stamp.Time()
	if t.Before(at.Add(-window)) || t.After(at.Add(MaxSampleSkew)) {
		return &sampleTimeError{src: src, at: at, stamp: t, window: window}
	}
	return nil
}
