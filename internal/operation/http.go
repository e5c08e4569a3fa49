package operation

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"resilience.ops/internal/retry"
	"resilience.ops/internal/secret"
)

// DefaultMaxBody bounds the response body kept from one attempt.
const DefaultMaxBody = 1 << 20

// DefaultTimeout bounds one request (connecting, sending, reading the answer) when the caller's
// context has no deadline: a network call never waits forever for a silent server. retry_manager
// makes it the attempt_timeout of an HTTP operation that sets none.
const DefaultTimeout = 30 * time.Second

// HTTPRequest is an HTTP call to make. Safe for concurrent use: Do does not modify it.
type HTTPRequest struct {
	Method        string
	URL           string
	Headers       map[string]string
	Body          []byte
	ExpectStatus  []int // statuses that count as success; 2xx when empty
	User          string
	Password      string // basic authentication; never echoed
	BearerToken   string // never echoed
	ValidateCerts bool
	CAPath        string
	MaxBody       int64 // DefaultMaxBody when 0
	// Secrets are more values to scrub from what the server answers (the task's secret headers);
	// Password, BearerToken and the credentials in URL are always scrubbed.
	Secrets *secret.Set
}

// HTTPResult is what the last attempt of a request gave. Secret request headers are never in it.
type HTTPResult struct {
	Status        int               `json:"status"`
	URL           string            `json:"url"`
	Headers       map[string]string `json:"headers"`
	Body          string            `json:"body"`
	JSON          any               `json:"json"`
	BodyTruncated bool              `json:"body_truncated"`
}

// ParseURL checks an HTTP(S) URL, naming the parameter in the error. The error never repeats the
// URL's user information.
func ParseURL(param, raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%s must be an absolute http:// or https:// URL, got %q", param, Redact(raw))
	}
	return u, nil
}

// Redact removes user information and the query from a URL for messages.
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "<unparsable URL>"
	}
	u.User = nil
	if u.RawQuery != "" {
		u.RawQuery = "..."
	}
	return u.String()
}

// NewClient returns the HTTP client for r: certificates are verified unless ValidateCerts is off,
// with the CA file added when given. Redirects are followed only within the origin of the URL
// (scheme, host and port), so that credentials never travel to another host or port, nor in clear
// after an https URL redirected to http.
func (r HTTPRequest) NewClient() (*http.Client, error) {
	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: !r.ValidateCerts} //nolint:gosec // the user's choice, documented
	if r.CAPath != "" {
		pem, err := os.ReadFile(r.CAPath)
		if err != nil {
			return nil, fmt.Errorf("ca_path: %w", err)
		}
		pool, _ := x509.SystemCertPool()
		if pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ca_path: %s holds no PEM certificate", r.CAPath)
		}
		tlsCfg.RootCAs = pool
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tlsCfg
	return &http.Client{Transport: tr, CheckRedirect: secret.Redirects}, nil
}

// secrets are the values scrubbed from the answer: the request's credentials in every form the
// server can echo them, and Secrets.
func (r HTTPRequest) secrets() *secret.Set {
	s := &secret.Set{}
	s.Merge(r.Secrets)
	s.AddBasic(r.User, r.Password)
	s.Add(r.BearerToken)
	s.AddURL(r.URL)
	for k, v := range r.Headers {
		if strings.EqualFold(k, "Authorization") {
			s.Add(v)
			if _, token, ok := strings.Cut(v, " "); ok {
				s.Add(strings.TrimSpace(token))
			}
		}
	}
	return s
}

// Do makes the request once, within ctx's deadline or else DefaultTimeout. A status outside
// ExpectStatus, or a transport error, gives a Failure with the status and a message; the
// Retry-After header is returned for the engine. Every secret is scrubbed from the result before
// anything of it is cut short.
func (r HTTPRequest) Do(ctx context.Context, client *http.Client, now time.Time) (HTTPResult, *retry.Failure, time.Duration) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultTimeout)
		defer cancel()
	}
	sec := r.secrets()
	res := HTTPResult{URL: Redact(r.URL)}
	method := r.Method
	if method == "" {
		method = http.MethodGet
	}
	var body io.Reader
	if r.Body != nil {
		body = bytes.NewReader(r.Body)
	}
	req, err := http.NewRequestWithContext(ctx, method, r.URL, body)
	if err != nil {
		return res, &retry.Failure{Err: errors.New(redactErr(err, r, sec)), Message: "url: " + redactErr(err, r, sec)}, 0
	}
	for k, v := range r.Headers {
		req.Header.Set(k, v)
	}
	switch {
	case r.BearerToken != "":
		req.Header.Set("Authorization", "Bearer "+r.BearerToken)
	case r.User != "" || r.Password != "":
		req.SetBasicAuth(r.User, r.Password)
	}
	resp, err := client.Do(req)
	if err != nil {
		f := &retry.Failure{Err: err, Message: redactErr(err, r, sec)}
		if ctx.Err() != nil {
			f.TimedOut = errors.Is(ctx.Err(), context.DeadlineExceeded)
		}
		return res, f, 0
	}
	defer resp.Body.Close()
	max := r.MaxBody
	if max <= 0 {
		max = DefaultMaxBody
	}
	data, readErr := io.ReadAll(io.LimitReader(resp.Body, max+1))
	if int64(len(data)) > max {
		res.BodyTruncated = true
		res.Body = sec.Tail(string(data[:max])) // a secret cut at the limit leaves no prefix
	} else {
		res.Body = sec.String(string(data))
	}
	res.Status = resp.StatusCode
	res.Headers = map[string]string{}
	for k := range resp.Header {
		res.Headers[strings.ToLower(sec.String(k))] = sec.String(resp.Header.Get(k))
	}
	delete(res.Headers, "set-cookie")
	if strings.Contains(resp.Header.Get("Content-Type"), "json") && !res.BodyTruncated {
		var v any
		if json.Unmarshal(data, &v) == nil {
			res.JSON = sec.Value(v) // decoded: JSON-escaped secrets are plain again
		}
	}
	retryAfter, _ := retry.ParseRetryAfter(resp.Header.Get("Retry-After"), now)
	if readErr != nil && ctx.Err() != nil {
		return res, &retry.Failure{Err: readErr, HTTPStatus: res.Status, TimedOut: true,
			Message: "reading the response: " + redactErr(readErr, r, sec)}, retryAfter
	}
	if r.expected(resp.StatusCode) {
		return res, nil, 0
	}
	msg := fmt.Sprintf("HTTP %d %s from %s", resp.StatusCode, http.StatusText(resp.StatusCode), Redact(r.URL))
	if snippet := strings.TrimSpace(firstLine(res.Body)); snippet != "" {
		msg += ": " + clip(snippet, 200)
	}
	return res, &retry.Failure{HTTPStatus: resp.StatusCode, Message: msg}, retryAfter
}

func (r HTTPRequest) expected(code int) bool {
	if len(r.ExpectStatus) == 0 {
		return code >= 200 && code < 300
	}
	return slices.Contains(r.ExpectStatus, code)
}

// redactErr is err's text without the request's secrets or URL user information.
func redactErr(err error, r HTTPRequest, sec *secret.Set) string {
	s := err.Error()
	if u, perr := url.Parse(r.URL); perr == nil && u.User != nil {
		s = strings.ReplaceAll(s, r.URL, Redact(r.URL))
		s = strings.ReplaceAll(s, u.User.String()+"@", "")
	}
	return sec.String(s)
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
