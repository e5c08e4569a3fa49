package operation

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
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
)

// DefaultMaxBody bounds the response body kept from one attempt.
const DefaultMaxBody = 1 << 20

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
// with the CA file added when given. Redirects are followed only to the same host, so that
// credentials never travel elsewhere.
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
	return &http.Client{
		Transport: tr,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 10 {
				return errors.New("stopped after 10 redirects")
			}
			if req.URL.Host != via[0].URL.Host {
				return fmt.Errorf("refusing a redirect to another host (%s)", req.URL.Host)
			}
			return nil
		},
	}, nil
}

// Do makes the request once. A status outside ExpectStatus, or a transport error, gives a Failure
// with the status and a message; the Retry-After header is returned for the engine.
func (r HTTPRequest) Do(ctx context.Context, client *http.Client, now time.Time) (HTTPResult, *retry.Failure, time.Duration) {
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
		return res, &retry.Failure{Err: errors.New(redactErr(err, r)), Message: "url: " + redactErr(err, r)}, 0
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
		f := &retry.Failure{Err: err, Message: redactErr(err, r)}
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
		data, res.BodyTruncated = data[:max], true
	}
	res.Status = resp.StatusCode
	res.Headers = map[string]string{}
	for k := range resp.Header {
		res.Headers[strings.ToLower(k)] = resp.Header.Get(k)
	}
	delete(res.Headers, "set-cookie")
	res.Body = r.scrub(string(data))
	if strings.Contains(resp.Header.Get("Content-Type"), "json") && !res.BodyTruncated {
		var v any
		if json.Unmarshal(data, &v) == nil {
			res.JSON = v
		}
	}
	retryAfter, _ := retry.ParseRetryAfter(resp.Header.Get("Retry-After"), now)
	if readErr != nil && ctx.Err() != nil {
		return res, &retry.Failure{Err: readErr, HTTPStatus: res.Status, TimedOut: true,
			Message: "reading the response: " + redactErr(readErr, r)}, retryAfter
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
func redactErr(err error, r HTTPRequest) string {
	s := err.Error()
	if u, perr := url.Parse(r.URL); perr == nil && u.User != nil {
		s = strings.ReplaceAll(s, r.URL, Redact(r.URL))
		s = strings.ReplaceAll(s, u.User.String()+"@", "")
	}
	return r.scrub(s)
}

// scrub replaces the request's secrets, also in the base64 form of basic authentication, in s.
func (r HTTPRequest) scrub(s string) string {
	secrets := []string{r.Password, r.BearerToken}
	if r.Password != "" {
		secrets = append(secrets, base64.StdEncoding.EncodeToString([]byte(r.User+":"+r.Password)))
	}
	for _, secret := range secrets {
		if len(secret) >= 4 {
			s = strings.ReplaceAll(s, secret, "********")
		}
	}
	return s
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
