package etcdstore

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"resilience.ops/internal/field"
	"resilience.ops/internal/secret"
	"resilience.ops/internal/state"
)

// gRPC status codes that etcd answers through the gateway (google.golang.org/grpc/codes).
const (
	codeInvalidArgument    = 3
	codeDeadlineExceeded   = 4
	codeNotFound           = 5
	codePermissionDenied   = 7
	codeFailedPrecondition = 9
	codeUnavailable        = 14
	codeUnauthenticated    = 16
)

// maxResponse bounds what is read from one answer: our documents are a few KiB, an audit trail
// a few hundred KiB.
const maxResponse = 64 << 20

// Error is an error answered by etcd: a gRPC status, as the JSON gateway reports it.
type Error struct {
	Code     int
	Message  string
	Endpoint string
}

func (e *Error) Error() string {
	return fmt.Sprintf("etcd %s: %s (code %d)", e.Endpoint, e.Message, e.Code)
}

// retryable reports whether another member (or the same one, later) may answer: the member has
// no leader, lost it, timed out or is shutting down.
func (e *Error) retryable() bool {
	return e.Code == codeUnavailable || e.Code == codeDeadlineExceeded
}

// i64 is an int64 that the gateway writes as a JSON string ("revision": "5"); it is sent the
// same way.
type i64 int64

func (v i64) MarshalJSON() ([]byte, error) {
	return []byte(`"` + strconv.FormatInt(int64(v), 10) + `"`), nil
}

func (v *i64) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	if s == "" || s == "null" {
		*v = 0
		return nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return fmt.Errorf("not an integer: %s", b)
	}
	*v = i64(n)
	return nil
}

// The messages of etcd's v3 API that are used here, with the gateway's (protobuf original) names.
type (
	header struct {
		Revision i64 `json:"revision"`
	}
	keyValue struct {
		Key            []byte `json:"key"`
		CreateRevision i64    `json:"create_revision"`
		ModRevision    i64    `json:"mod_revision"`
		Version        i64    `json:"version"`
		Value          []byte `json:"value"`
		Lease          i64    `json:"lease"`
	}
	rangeRequest struct {
		Key        []byte `json:"key"`
		RangeEnd   []byte `json:"range_end,omitempty"`
		Limit      i64    `json:"limit,omitempty"`
		SortOrder  string `json:"sort_order,omitempty"`  // ASCEND, DESCEND
		SortTarget string `json:"sort_target,omitempty"` // KEY, VERSION, CREATE, MOD, VALUE
		KeysOnly   bool   `json:"keys_only,omitempty"`
		CountOnly  bool   `json:"count_only,omitempty"`
	}
	rangeResponse struct {
		Header header     `json:"header"`
		Kvs    []keyValue `json:"kvs"`
		Count  i64        `json:"count"`
	}
	putRequest struct {
		Key   []byte `json:"key"`
		Value []byte `json:"value"`
		Lease i64    `json:"lease,omitempty"`
	}
	deleteRequest struct {
		Key      []byte `json:"key"`
		RangeEnd []byte `json:"range_end,omitempty"`
	}
	compare struct {
		Key            []byte `json:"key"`
		Target         string `json:"target"` // CREATE, MOD, VERSION, VALUE, LEASE
		Result         string `json:"result"` // EQUAL, GREATER, LESS, NOT_EQUAL
		CreateRevision *i64   `json:"create_revision,omitempty"`
		ModRevision    *i64   `json:"mod_revision,omitempty"`
	}
	requestOp struct {
		Range  *rangeRequest  `json:"request_range,omitempty"`
		Put    *putRequest    `json:"request_put,omitempty"`
		Delete *deleteRequest `json:"request_delete_range,omitempty"`
	}
	responseOp struct {
		Range *rangeResponse `json:"response_range,omitempty"`
	}
	txnRequest struct {
		Compare []compare   `json:"compare,omitempty"`
		Success []requestOp `json:"success,omitempty"`
		Failure []requestOp `json:"failure,omitempty"`
	}
	txnResponse struct {
		Header    header       `json:"header"`
		Succeeded bool         `json:"succeeded"`
		Responses []responseOp `json:"responses"`
	}
	leaseRequest struct {
		TTL i64 `json:"TTL,omitempty"`
		ID  i64 `json:"ID,omitempty"`
	}
	leaseResponse struct {
		ID  i64 `json:"ID"`
		TTL i64 `json:"TTL"`
	}
	keepAliveResponse struct {
		Result *leaseResponse   `json:"result"`
		Error  *json.RawMessage `json:"error"`
	}
	authRequest struct {
		Name     string `json:"name"`
		Password string `json:"password"`
	}
	authResponse struct {
		Token string `json:"token"`
	}
	errorResponse struct {
		Error   string `json:"error"`
		Message string `json:"message"`
		Code    int    `json:"code"`
	}
)

func rev(n int64) *i64 { v := i64(n); return &v }

// client talks to etcd's gRPC-JSON gateway (POST /v3/...) over net/http: one member after the
// other until one answers, within the deadline of the context. It is safe for concurrent use.
type client struct {
	endpoints []string // base URLs, without a trailing slash
	http      *http.Client
	username  string
	password  string
	secrets   secret.Set // the password in every form an answer can echo it
	// attemptTimeout bounds one request to one member, so that a member that hangs leaves time
	// for the others.
	attemptTimeout time.Duration

	mu        sync.Mutex
	preferred int    // the member that answered last, tried first
	token     string // the auth token, once authenticated
}

// newClient checks the endpoints and TLS files of cfg and builds the HTTP client. It does not
// connect.
func newClient(cfg Config) (*client, error) {
	useTLS := cfg.CAFile != "" || cfg.CertFile != "" || cfg.KeyFile != ""
	c := &client{username: cfg.Username, password: cfg.Password}
	c.secrets.Add(cfg.Password)
	for _, e := range cfg.Endpoints {
		u, err := normalizeEndpoint(e, useTLS)
		if err != nil {
			return nil, err
		}
		c.endpoints = append(c.endpoints, u)
	}
	if len(c.endpoints) == 0 {
		return nil, &field.Error{Path: "etcd_endpoints", Problem: "at least one endpoint is needed (for example http://127.0.0.1:2379)"}
	}
	if (cfg.CertFile == "") != (cfg.KeyFile == "") {
		return nil, &field.Error{Path: "etcd_cert_file", Problem: "etcd_cert_file and etcd_key_file go together: give both or neither", Form: field.Plain}
	}
	if cfg.Password != "" && cfg.Username == "" {
		return nil, &field.Error{Path: "etcd_password", Problem: "needs etcd_username", Form: field.Sentence}
	}
	tlsConf := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, &field.Error{Path: "etcd_ca_file", Err: err}
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, &field.Error{Path: "etcd_ca_file", Problem: fmt.Sprintf("etcd_ca_file %s: no PEM certificate found", cfg.CAFile), Form: field.Plain}
		}
		tlsConf.RootCAs = pool
	}
	if cfg.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile)
		if err != nil {
			return nil, &field.Error{Path: "etcd_cert_file", Problem: "etcd_cert_file/etcd_key_file", Err: err, Form: field.Plain}
		}
		tlsConf.Certificates = []tls.Certificate{cert}
	}
	c.attemptTimeout = max(cfg.Timeout/3, 500*time.Millisecond)
	dialer := &net.Dialer{Timeout: c.attemptTimeout, KeepAlive: 30 * time.Second}
	c.http = &http.Client{Transport: &http.Transport{
		Proxy:               nil, // members are reached directly, never through HTTP(S)_PROXY
		DialContext:         dialer.DialContext,
		TLSClientConfig:     tlsConf,
		TLSHandshakeTimeout: c.attemptTimeout,
		MaxIdleConnsPerHost: 8,
		IdleConnTimeout:     90 * time.Second,
		ForceAttemptHTTP2:   false,
	},
		// etcd's gateway never redirects: a redirect is not followed, so that the password and
		// the token never go anywhere but the configured members (see post).
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return c, nil
}

// normalizeEndpoint turns "host:port" or a URL into a base URL. Credentials in the URL are
// refused: they belong in etcd_username and etcd_password, which are kept secret.
func normalizeEndpoint(e string, useTLS bool) (string, error) {
	e = strings.TrimSpace(e)
	if e == "" {
		return "", &field.Error{Path: "etcd_endpoints", Problem: "an endpoint is empty"}
	}
	if !strings.Contains(e, "://") {
		scheme := "http://"
		if useTLS {
			scheme = "https://"
		}
		e = scheme + e
	}
	u, err := url.Parse(e)
	if err != nil || u.Host == "" {
		return "", &field.Error{Path: "etcd_endpoints", Problem: fmt.Sprintf("%q is not host:port or an http(s) URL", e)}
	}
	if u.User != nil {
		return "", &field.Error{Path: "etcd_endpoints", Problem: fmt.Sprintf("%s://%s holds credentials: give them as etcd_username and etcd_password", u.Scheme, u.Host)}
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", &field.Error{Path: "etcd_endpoints", Problem: fmt.Sprintf("%q: the scheme must be http or https", e)}
	}
	return u.Scheme + "://" + u.Host + strings.TrimRight(u.Path, "/"), nil
}

// errDial marks a request that never reached a member (the connection was refused or could not
// be made): nothing was applied, so it is safe to send it again to another member.
type errDial struct{ err error }

func (e *errDial) Error() string { return e.err.Error() }
func (e *errDial) Unwrap() error { return e.err }

// call POSTs in as JSON to path on one member after the other, starting with the one that
// answered last, until one answers or ctx ends, and decodes the answer into out. Members that
// cannot be reached, have no leader or time out are skipped; an answer of etcd that another
// member would repeat (a refused compare is not an error; a permission error is) is returned at
// once as an *Error. An authentication token that etcd no longer accepts is renewed once.
//
// ambiguous reports that an earlier try of this call may have been applied although it failed
// (its answer was lost): a caller that writes must find out whether it was.
func (c *client) call(ctx context.Context, path string, in, out any) (ambiguous bool, err error) {
	body, err := json.Marshal(in)
	if err != nil {
		return false, fmt.Errorf("encode etcd request %s: %w", path, err)
	}
	var last error
	reauthed := false
	for round := 0; ; round++ {
		c.mu.Lock()
		start := c.preferred
		c.mu.Unlock()
		for k := range c.endpoints {
			i := (start + k) % len(c.endpoints)
			ep := c.endpoints[i]
			if err := c.ensureToken(ctx, ep, path); err != nil {
				var ee *Error
				if errors.As(err, &ee) && !ee.retryable() {
					return ambiguous, err
				}
				last = err
				continue
			}
			err := c.post(ctx, ep, path, body, out)
			if err == nil {
				c.mu.Lock()
				c.preferred = i
				c.mu.Unlock()
				return ambiguous, nil
			}
			var ee *Error
			if errors.As(err, &ee) {
				switch {
				case ee.Code == codeUnauthenticated && c.username != "" && !reauthed:
					reauthed = true
					c.mu.Lock()
					c.token = ""
					c.mu.Unlock()
				case !ee.retryable():
					return ambiguous, err
				}
			}
			var de *errDial
			if !errors.As(err, &de) {
				ambiguous = true
			}
			last = err
			if ctx.Err() != nil {
				break
			}
		}
		wait := min(25*time.Millisecond<<min(round, 5), 500*time.Millisecond)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ambiguous, c.unavailable(ctx, last)
		case <-t.C:
		}
	}
}

func (c *client) unavailable(ctx context.Context, last error) error {
	why := "no member answered"
	if last != nil {
		why = last.Error()
	}
	if errors.Is(ctx.Err(), context.Canceled) {
		return fmt.Errorf("%w: etcd (%s): cancelled: %s", state.ErrUnavailable, strings.Join(c.endpoints, ", "), why)
	}
	return fmt.Errorf("%w: etcd (%s) did not answer in time: %s", state.ErrUnavailable, strings.Join(c.endpoints, ", "), why)
}

// post sends one request to one member.
func (c *client) post(ctx context.Context, endpoint, path string, body []byte, out any) error {
	actx, cancel := context.WithTimeout(ctx, c.attemptTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodPost, endpoint+path, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("etcd %s: %w", endpoint, err)
	}
	req.Header.Set("Content-Type", "application/json")
	c.mu.Lock()
	if c.token != "" && path != "/v3/auth/authenticate" {
		req.Header.Set("Authorization", c.token)
	}
	c.mu.Unlock()
	resp, err := c.http.Do(req)
	if err != nil {
		if isDialError(err) {
			return &errDial{fmt.Errorf("etcd %s: %w", endpoint, stripURL(err))}
		}
		return fmt.Errorf("etcd %s: %w", endpoint, stripURL(err))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if err != nil {
		return fmt.Errorf("etcd %s: read the answer: %w", endpoint, err)
	}
	if len(data) > maxResponse {
		return fmt.Errorf("etcd %s: the answer is larger than %d bytes", endpoint, maxResponse)
	}
	if resp.StatusCode/100 == 3 {
		return &Error{Code: codeFailedPrecondition, Endpoint: endpoint, Message: fmt.Sprintf("HTTP %s: a redirect, which is not followed: "+
			"etcd's gateway does not redirect, and credentials go only to the configured endpoints", resp.Status)}
	}
	if resp.StatusCode != http.StatusOK {
		// Anything quoted from the answer is scrubbed before it is cut: a server may echo the
		// password (JSON-escaped, as it was sent) or the token.
		var er errorResponse
		if json.Unmarshal(data, &er) == nil && (er.Message != "" || er.Error != "") {
			msg := er.Message
			if msg == "" {
				msg = er.Error
			}
			return &Error{Code: er.Code, Message: clip(c.scrub(msg), 200), Endpoint: endpoint}
		}
		code := codeUnavailable // a proxy or a member shutting down: try another
		if resp.StatusCode < 500 {
			code = codeFailedPrecondition
		}
		return &Error{Code: code, Message: fmt.Sprintf("HTTP %s: %s", resp.Status, clip(c.scrub(string(data)), 200)), Endpoint: endpoint}
	}
	// A streaming call (lease keep-alive) answers with one JSON object per message: read the first.
	if err := json.NewDecoder(bytes.NewReader(data)).Decode(out); err != nil {
		return fmt.Errorf("etcd %s: the answer to %s is not what etcd's JSON gateway sends: %w", endpoint, path, err)
	}
	return nil
}

// ensureToken authenticates once when a username is configured.
func (c *client) ensureToken(ctx context.Context, endpoint, path string) error {
	if c.username == "" || path == "/v3/auth/authenticate" {
		return nil
	}
	c.mu.Lock()
	have := c.token != ""
	c.mu.Unlock()
	if have {
		return nil
	}
	var out authResponse
	err := c.post(ctx, endpoint, "/v3/auth/authenticate", mustJSON(authRequest{Name: c.username, Password: c.password}), &out)
	var ee *Error
	switch {
	case errors.As(err, &ee) && ee.Code == codeFailedPrecondition && strings.Contains(ee.Message, "authentication is not enabled"):
		return nil // nothing to authenticate against: go on without a token
	case errors.As(err, &ee) && !ee.retryable():
		return &Error{Code: ee.Code, Endpoint: endpoint,
			Message: fmt.Sprintf("authentication as %q failed: %s", c.username, ee.Message)}
	case err != nil:
		return err
	}
	c.mu.Lock()
	c.token = out.Token
	c.mu.Unlock()
	return nil
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// isDialError reports whether err happened before the request was sent: connection refused,
// no route, a failed name lookup or TLS handshake.
func isDialError(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return true
	}
	var rec tls.RecordHeaderError
	var cv *tls.CertificateVerificationError
	return errors.As(err, &rec) || errors.As(err, &cv)
}

// stripURL drops the "Post \"url\": " that net/http puts before an error: the endpoint is
// named once already.
func stripURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// scrub removes the password (in every form) and the auth token from text quoted from an answer.
func (c *client) scrub(s string) string {
	s = c.secrets.String(s)
	c.mu.Lock()
	token := c.token
	c.mu.Unlock()
	if len(token) >= secret.MinLen {
		s = strings.ReplaceAll(s, token, secret.Mask)
	}
	return s
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// The requests of the v3 API used by the store.

func (c *client) rangeKeys(ctx context.Context, r rangeRequest) (*rangeResponse, error) {
	var out rangeResponse
	_, err := c.call(ctx, "/v3/kv/range", r, &out)
	return &out, err
}

func (c *client) txn(ctx context.Context, t txnRequest) (*txnResponse, bool, error) {
	var out txnResponse
	amb, err := c.call(ctx, "/v3/kv/txn", t, &out)
	return &out, amb, err
}

// grant creates a lease of ttl, rounded up to whole seconds.
func (c *client) grant(ctx context.Context, ttl time.Duration) (int64, error) {
	var out leaseResponse
	secs := int64((ttl + time.Second - 1) / time.Second)
	if _, err := c.call(ctx, "/v3/lease/grant", leaseRequest{TTL: i64(secs)}, &out); err != nil {
		return 0, fmt.Errorf("grant a lease: %w", err)
	}
	if out.ID == 0 {
		return 0, errors.New("grant a lease: etcd answered without a lease id")
	}
	return int64(out.ID), nil
}

// revoke ends a lease and deletes its keys. A lease that is gone already is not an error.
func (c *client) revoke(ctx context.Context, id int64) error {
	var out struct{}
	_, err := c.call(ctx, "/v3/lease/revoke", leaseRequest{ID: i64(id)}, &out)
	var ee *Error
	if errors.As(err, &ee) && ee.Code == codeNotFound {
		return nil
	}
	return err
}

// errLeaseLost is returned by keepAlive when the lease has expired or was revoked.
var errLeaseLost = errors.New("the lease has expired")

// keepAlive renews a lease once. The gateway serves the streaming LeaseKeepAlive call: one
// request in the body gives one answer.
func (c *client) keepAlive(ctx context.Context, id int64) error {
	var out keepAliveResponse
	if _, err := c.call(ctx, "/v3/lease/keepalive", leaseRequest{ID: i64(id)}, &out); err != nil {
		return err
	}
	if out.Error != nil {
		return fmt.Errorf("keep the lease alive: %s", clip(c.scrub(string(*out.Error)), 200))
	}
	if out.Result == nil || out.Result.TTL <= 0 {
		return errLeaseLost
	}
	return nil
}
