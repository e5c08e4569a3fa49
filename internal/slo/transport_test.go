package slo

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"resilience.ops/internal/field"
)

// promOnly runs only the 5xx check, against one server.
func promOnly(url string) Config {
	cfg := testConfig(url, "http://unused.invalid")
	cfg.Disable = []string{CheckHealthRatio, CheckErrorLogRate}
	return cfg
}

func TestTransportHeaders(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		url    func(string) string
		ep     func(*Endpoint)
		header map[string]string
	}{
		{"bearer", nil, func(e *Endpoint) { e.BearerToken = "tok" }, map[string]string{"Authorization": "Bearer tok"}},
		{"basic", nil, func(e *Endpoint) { e.Username, e.Password = "u", "p" }, map[string]string{"Authorization": "Basic dTpw"}},
		{"basic from the URL", func(u string) string { return strings.Replace(u, "http://", "http://u:p@", 1) }, nil,
			map[string]string{"Authorization": "Basic dTpw"}},
		{"headers and tenant", nil, func(e *Endpoint) {
			e.Headers = map[string]string{"X-Api-Key": "k", "x-extra": "e"}
			e.TenantID = "team-a"
		}, map[string]string{"X-Api-Key": "k", "X-Extra": "e", "X-Scope-OrgID": "team-a", "Authorization": ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := fakeProm(t, promVector, promHealth)
			cfg := promOnly(srv.URL)
			if tt.url != nil {
				cfg.Endpoints[SourcePrometheus].URL = tt.url(srv.URL)
			}
			if tt.ep != nil {
				tt.ep(cfg.Endpoints[SourcePrometheus])
			}
			if r := evaluate(t, cfg); !r.Stable {
				t.Fatalf("status %s: %+v", r.Status, r.Checks)
			}
			req := srv.requests()[0]
			for name, want := range tt.header {
				if got := req.header.Get(name); got != want {
					t.Errorf("header %s = %q, want %q", name, got, want)
				}
			}
		})
	}
}

func TestCappedBody(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		size, limit int64
		wantErr     error
	}{
		{10, 10, nil},
		{9, 10, nil},
		{11, 10, errResponseTooLarge},
		{1 << 20, 10, errResponseTooLarge},
	} {
		b := &cappedBody{ReadCloser: io.NopCloser(io.LimitReader(zeros{}, tt.size)), left: tt.limit}
		got, err := io.ReadAll(b)
		if !errors.Is(err, tt.wantErr) || int64(len(got)) > tt.limit {
			t.Errorf("size %d, limit %d: read %d bytes, err %v; want err %v", tt.size, tt.limit, len(got), err, tt.wantErr)
		}
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

func TestTLS(t *testing.T) {
	t.Parallel()
	pki := newTestPKI(t)
	serverTLS := &tls.Config{Certificates: []tls.Certificate{pki.server}, MinVersion: tls.VersionTLS12}
	mutualTLS := serverTLS.Clone()
	mutualTLS.ClientAuth = tls.RequireAndVerifyClientCert
	mutualTLS.ClientCAs = pki.pool

	tests := []struct {
		name    string
		server  *tls.Config
		ep      func(*Endpoint)
		outcome Outcome
		reason  Reason
	}{
		{"untrusted by default", serverTLS, nil, OutcomeConfigError, ReasonTLS},
		{"trusted with ca_file", serverTLS, func(e *Endpoint) { e.CAFile = pki.caFile }, OutcomePass, ""},
		{"insecure_skip_verify", serverTLS, func(e *Endpoint) { e.InsecureSkipVerify = true }, OutcomePass, ""},
		{"client certificate required", mutualTLS, func(e *Endpoint) { e.CAFile = pki.caFile }, OutcomeConfigError, ReasonTLS},
		{"client certificate sent", mutualTLS, func(e *Endpoint) {
			e.CAFile, e.CertFile, e.KeyFile = pki.caFile, pki.clientCert, pki.clientKey
		}, OutcomePass, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := newTLSFake(t, tt.server, func(string) http.HandlerFunc { return serve(t, promVector) })
			cfg := promOnly(srv.URL)
			if tt.ep != nil {
				tt.ep(cfg.Endpoints[SourcePrometheus])
			}
			got := result(t, evaluate(t, cfg), CheckHTTP5xxRatio)
			if got.Outcome != tt.outcome || got.Reason != tt.reason {
				t.Errorf("%s/%s: %s, want %s/%s", got.Outcome, got.Reason, got.Message, tt.outcome, tt.reason)
			}
		})
	}
}

func TestTLSFileErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		ep    Endpoint
		field string
	}{
		{Endpoint{URL: "https://p:9090", CAFile: filepath.Join(dir, "missing.pem")}, "prometheus.ca_file"},
		{Endpoint{URL: "https://p:9090", CAFile: notPEM}, "prometheus.ca_file"},
		{Endpoint{URL: "https://p:9090", CertFile: notPEM, KeyFile: notPEM}, "prometheus.cert_file"},
	} {
		cfg := promOnly("")
		cfg.Endpoints[SourcePrometheus] = &tt.ep
		_, err := New(cfg)
		var fe *field.Error
		if !errors.As(err, &fe) || fe.Path != tt.field {
			t.Errorf("New(%+v) = %v, want a %s error", tt.ep, err, tt.field)
		}
	}
}

// testPKI is a CA with a server certificate for 127.0.0.1 and a client
// certificate, written as PEM files where the Endpoint needs files.
type testPKI struct {
	pool                          *x509.CertPool
	server                        tls.Certificate
	caFile, clientCert, clientKey string
}

func newTestPKI(t *testing.T) testPKI {
	t.Helper()
	dir := t.TempDir()
	caKey := newKey(t)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	issue := func(serial int64, usage x509.ExtKeyUsage) ([]byte, *ecdsa.PrivateKey) {
		key := newKey(t)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "test"},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			ExtKeyUsage: []x509.ExtKeyUsage{usage}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
			KeyUsage: x509.KeyUsageDigitalSignature,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		return der, key
	}
	p := testPKI{pool: x509.NewCertPool()}
	p.pool.AddCert(ca)
	srvDER, srvKey := issue(2, x509.ExtKeyUsageServerAuth)
	p.server = tls.Certificate{Certificate: [][]byte{srvDER}, PrivateKey: srvKey}
	cliDER, cliKey := issue(3, x509.ExtKeyUsageClientAuth)
	p.caFile = writePEM(t, dir, "ca.pem", "CERTIFICATE", caDER)
	p.clientCert = writePEM(t, dir, "client.pem", "CERTIFICATE", cliDER)
	keyDER, err := x509.MarshalECPrivateKey(cliKey)
	if err != nil {
		t.Fatal(err)
	}
	p.clientKey = writePEM(t, dir, "client-key.pem", "EC PRIVATE KEY", keyDER)
	return p
}

func newKey(t *testing.T) *ecdsa.PrivateKey {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func writePEM(t *testing.T, dir, name, typ string, der []byte) string {
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
