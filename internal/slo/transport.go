package slo

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"

	"resilience.ops/internal/field"
	"resilience.ops/internal/secret"
)

// DefaultMaxResponseBytes caps the body read from a server. Real answers to
// the instant queries made here are a few KiB (Loki adds ~4 KiB of stats);
// anything near the cap is a misbehaving server or a very wrong query.
const DefaultMaxResponseBytes = 4 << 20

// errResponseTooLarge is returned by a capped body once the cap is passed.
var errResponseTooLarge = errors.New("response body exceeds the size limit")

// transport adds fixed headers (auth, tenant, user headers) to each request
// and caps each response body. It adds them only to requests for the
// endpoint's origin (scheme, host and port): a request anywhere else, which
// only a redirect could make, is refused. It is safe for concurrent use.
type transport struct {
	base    http.RoundTripper
	origin  *url.URL
	header  http.Header
	maxBody int64
}

// RoundTrip implements http.RoundTripper. The caller's request is not
// modified.
func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.origin != nil && !secret.SameOrigin(t.origin, req.URL) {
		return nil, fmt.Errorf("%w (to %s)", secret.ErrOtherOrigin, secret.Origin(req.URL))
	}
	req = req.Clone(req.Context())
	for name, values := range t.header {
		req.Header[name] = values
	}
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	resp.Body = &cappedBody{ReadCloser: resp.Body, left: t.maxBody}
	return resp, nil
}

// cappedBody returns errResponseTooLarge instead of reading past left bytes.
type cappedBody struct {
	io.ReadCloser
	left int64
}

func (b *cappedBody) Read(p []byte) (int, error) {
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1] // one byte more than allowed tells "at the cap" from "past it"
	}
	n, err := b.ReadCloser.Read(p)
	if int64(n) > b.left {
		n, b.left = int(b.left), 0
		return n, errResponseTooLarge
	}
	b.left -= int64(n)
	return n, err
}

// newTransport builds the RoundTripper for e, whose requests go to origin;
// prefix names the endpoint in errors. user and pass come from the URL when
// the fields do not set them.
func newTransport(e Endpoint, origin *url.URL, prefix, urlUser, urlPass string, maxBody int64) (http.RoundTripper, error) {
	tlsCfg, err := tlsConfig(e, prefix)
	if err != nil {
		return nil, err
	}
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.TLSClientConfig = tlsCfg

	h := http.Header{}
	for name, value := range e.Headers {
		h.Set(name, value)
	}
	user, pass := e.Username, e.Password
	if user == "" {
		user, pass = urlUser, urlPass
	}
	switch {
	case e.BearerToken != "":
		h.Set("Authorization", "Bearer "+e.BearerToken)
	case user != "":
		h.Set("Authorization", "Basic "+basicToken(user, pass))
	}
	if e.TenantID != "" {
		h.Set(TenantHeader, e.TenantID)
	}
	return &transport{base: base, origin: origin, header: h, maxBody: maxBody}, nil
}

func basicToken(user, pass string) string {
	return base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
}

func tlsConfig(e Endpoint, prefix string) (*tls.Config, error) {
	cfg := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: e.InsecureSkipVerify, //nolint:gosec // explicit user choice, off by default
	}
	if e.CAFile != "" {
		pem, err := os.ReadFile(e.CAFile)
		if err != nil {
			return nil, &field.Error{Path: prefix + ".ca_file", Problem: "cannot read the CA file", Err: err}
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fieldErr(prefix+".ca_file", "%s holds no PEM certificate", e.CAFile)
		}
		cfg.RootCAs = pool
	}
	if e.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(e.CertFile, e.KeyFile)
		if err != nil {
			return nil, &field.Error{Path: prefix + ".cert_file", Problem: "cannot load the client certificate and key", Err: err}
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}
