package export

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"resilience.ops/internal/clock"
	"resilience.ops/internal/retry"
)

const (
	// maxResponseBytes caps what is read of an answer: receivers answer with a few bytes.
	maxResponseBytes = 64 << 10
	// maxSnippetBytes caps the part of an error answer quoted in a result.
	maxSnippetBytes = 200
	// userAgent names the sender to receivers.
	userAgent = "resilience.ops-export/1"
)

// errPermanent marks failures that retrying cannot fix (a redirect, a receiver that does not
// speak the protocol); the classifier makes them configuration_error.
var errPermanent = errors.New("export: not retryable")

// classifier is the retry package's classifier with one rule for errPermanent.
var classifier = func() *retry.Classifier {
	c, err := retry.NewClassifier([]retry.Rule{{Type: retry.ConfigurationError, Field: retry.FieldError, Pattern: "^" + errPermanent.Error() + "$"}})
	if err != nil {
		panic(err)
	}
	return c
}()

// plan is one system's prepared delivery: the payload is built once, attempt sends it. Its
// fields after the preview are written by attempts, which the engine runs one at a time.
type plan struct {
	preview  Preview
	series   int
	attempt  func(ctx context.Context) retry.Result
	protocol string // remote write version actually used
	status   int    // HTTP status of the last answer
	note     string
}

// httpSender sends requests for one system: its TLS settings, no redirects, its credentials.
type httpSender struct {
	sys       System
	red       *redactor // scrubs an answer before it is cut to a snippet
	client    *http.Client
	transport *http.Transport
	clock     clock.Clock
}

// newHTTPSender builds the client of sys. It reads the CA file, so it can fail.
func newHTTPSender(sys System, clk clock.Clock) (*httpSender, error) {
	tlsCfg := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: !sys.ValidateCerts, //nolint:gosec // explicit user choice, off by default
	}
	if sys.CAFile != "" {
		pem, err := os.ReadFile(sys.CAFile)
		if err != nil {
			return nil, fmt.Errorf("cannot read ca_file %s: %w", sys.CAFile, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ca_file %s holds no PEM certificate", sys.CAFile)
		}
		tlsCfg.RootCAs = pool
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tlsCfg
	client := &http.Client{
		Transport: tr,
		// Redirects are not followed: headers such as DD-API-KEY would go along to another host.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return &httpSender{sys: sys, red: newRedactor(sys), client: client, transport: tr, clock: clk}, nil
}

func (h *httpSender) close() { h.transport.CloseIdleConnections() }

// httpResponse is what an attempt keeps of an answer.
type httpResponse struct {
	status int
	header http.Header
}

// send makes one request with the system's credentials. A 2xx answer is a success; anything
// else, or no answer, is a failure for the retry engine, with a message that holds no URL.
func (h *httpSender) send(ctx context.Context, method, target, contentType string, extra http.Header, body []byte) (httpResponse, retry.Result) {
	req, err := http.NewRequestWithContext(ctx, method, target, bytes.NewReader(body))
	if err != nil { // its text quotes the URL: not shown
		return httpResponse{}, permanent("cannot build the request from the configured URL")
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("User-Agent", userAgent)
	for k, vs := range extra {
		for _, v := range vs {
			req.Header.Set(k, v)
		}
	}
	h.sys.setHeaders(req.Header)
	resp, err := h.client.Do(req)
	if err != nil {
		inner := err
		if ue, ok := errors.AsType[*url.Error](err); ok {
			inner = ue.Err // url.Error quotes the URL
		}
		return httpResponse{}, retry.Result{Failure: &retry.Failure{Err: inner, Message: h.transportMessage(ctx, inner)}}
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	out := httpResponse{status: resp.StatusCode, header: resp.Header}
	code := resp.StatusCode
	switch {
	case code >= 200 && code <= 299:
		return out, retry.Result{}
	case code >= 300 && code <= 399:
		return out, retry.Result{Failure: &retry.Failure{HTTPStatus: code, Err: errPermanent,
			Message: fmt.Sprintf("HTTP %d %s: redirects are not followed (credentials would go along); configure the final URL", code, http.StatusText(code))}}
	}
	msg := fmt.Sprintf("HTTP %d %s", code, http.StatusText(code))
	// Scrubbed before it is cut, so that no prefix of a secret is left in the snippet; an answer
	// cut at maxResponseBytes may end inside one.
	text := h.red.set.String(string(data))
	if len(data) == maxResponseBytes {
		text = h.red.set.Tail(string(data))
	}
	if s := snippet([]byte(text)); s != "" {
		msg += ": " + s
	}
	var after time.Duration
	if code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable {
		after, _ = retry.ParseRetryAfter(resp.Header.Get("Retry-After"), h.clock.Now())
	}
	return out, retry.Result{Failure: &retry.Failure{HTTPStatus: code, Message: msg}, RetryAfter: after}
}

// transportMessage describes a failure without an answer.
func (h *httpSender) transportMessage(ctx context.Context, err error) string {
	switch {
	case errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil:
		if _, ok := ctx.Deadline(); ok {
			return "no answer within the timeout of " + strconv.FormatFloat(h.sys.Timeout.Seconds(), 'f', -1, 64) + "s"
		}
		return "deadline exceeded"
	case errors.Is(err, context.Canceled):
		return "cancelled"
	}
	return err.Error()
}

// setHeaders adds the auth header and the user's headers.
func (s System) setHeaders(h http.Header) {
	for k, v := range s.headers {
		h.Set(k, v)
	}
	if s.authHeader.name != "" {
		h.Set(s.authHeader.name, s.authHeader.value)
	}
}

// headerNames lists the names (never the values) of the credential and user headers, for
// previews.
func (s System) headerNames() []string {
	var out []string
	if s.authHeader.name != "" {
		out = append(out, http.CanonicalHeaderKey(s.authHeader.name))
	}
	for k := range s.headers {
		out = append(out, http.CanonicalHeaderKey(k))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// snippet is the start of an answer's body on one line, for messages.
func snippet(b []byte) string {
	s := strings.ToValidUTF8(string(b), "?")
	s = strings.Join(strings.FieldsFunc(s, func(r rune) bool { return unicode.IsSpace(r) || !unicode.IsPrint(r) }), " ")
	if len(s) > maxSnippetBytes {
		cut := maxSnippetBytes
		for cut > 0 && !isRuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

// permanent is a failure that is not retried: retrying cannot fix it.
func permanent(msg string) retry.Result {
	return retry.Result{Failure: &retry.Failure{Message: msg, Err: errPermanent}}
}
