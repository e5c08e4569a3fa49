package conformance

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"resilience.ops/internal/modtest"
	"resilience.ops/internal/module"
)

// echoServer answers every request with everything it received, headers and body included, with
// the given status: the worst a server can do with secrets. The first line already holds the
// credentials and the body (messages quote first lines), and a JSON copy of the request follows
// the text (so that a JSON-escaped secret comes back escaped).
func echoServer(t *testing.T, status int) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var requests atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("X-Echo-Authorization", r.Header.Get("Authorization"))
		w.WriteHeader(status)
		fmt.Fprintf(w, "%s %s auth=%s key=%s body=%s\n", r.Method, r.URL, r.Header.Get("Authorization"), r.Header.Get("X-Api-Key"),
			strings.ReplaceAll(string(body), "\n", " "))
		for k, v := range r.Header {
			fmt.Fprintf(w, "%s: %s\n", k, strings.Join(v, ","))
		}
		w.Write(body)
		j, _ := json.Marshal(map[string]any{"headers": r.Header, "body": string(body), "url": r.URL.String()})
		fmt.Fprintf(w, "\n%s\n", j)
	}))
	t.Cleanup(srv.Close)
	return srv, &requests
}

// secretArgs fills every secret parameter of m that skip does not name with its own secret
// value. A dictionary (headers) gets the secret under a header of its own, X-Api-Key, which no
// other parameter sets.
func secretArgs(m mod, args map[string]any, skip func(name string) bool) map[string]string {
	secrets := map[string]string{}
	for _, p := range m.spec {
		if !p.Secret || skip(p.Name) {
			continue
		}
		v := "S3cr3t-" + p.Name + "-x9"
		if p.Name == "etcd_password" {
			v = `S3cr3t-"etcd\password-x9` // travels JSON-escaped in the authenticate request
		}
		secrets[p.Name] = v
		switch p.Type {
		case module.TypeDict:
			args[p.Name] = map[string]any{"X-Api-Key": v}
		default:
			args[p.Name] = v
		}
	}
	return secrets
}

// forms are the ways a secret could leak: as is, base64 encoded as in basic authentication (the
// token, less its last characters, which also depend on what follows), JSON-escaped, URL-encoded.
func forms(secret string) []string {
	basic := base64.StdEncoding.EncodeToString([]byte("user:" + secret))
	escaped, _ := json.Marshal(secret)
	return []string{secret, base64.StdEncoding.EncodeToString([]byte(secret)), basic, basic[:len(basic)-4],
		string(escaped[1 : len(escaped)-1]), url.QueryEscape(secret)}
}

// TestSecretsNeverLeave runs every module with a secret in every secret parameter, against servers
// that echo what they receive, in normal, check and most verbose runs, on success and failure, and
// with its state in "etcd" at the echoing server (which authenticates with the password): no
// secret appears in the output, in any file the run leaves, or in the host's log. Secrets that
// exclude each other (basic authentication and a bearer token of qos_guard_release) are tried in
// runs of their own, and every run but check mode must reach the server, or it tested nothing.
func TestSecretsNeverLeave(t *testing.T) {
	logs := modtest.ListenSyslog(t)
	for _, m := range modules {
		auths := []string{"basic"}
		if m.name == "qos_guard_release" {
			auths = append(auths, "bearer")
		}
		if m.name != "qos_guard" {
			auths = append(auths, "url") // credentials in the URL: Basic auth that the server echoes
		}
		for _, auth := range auths {
			for _, status := range []int{200, 500} {
				for _, mode := range []string{"normal", "check", "verbose", "etcd"} {
					if mode == "etcd" && !hasParam(m, "etcd_password") || mode != "etcd" && !hasSecretBesidesEtcd(m) {
						continue // qos_guard's only secret is the etcd password
					}
					name := fmt.Sprintf("%s/%s/%d/%s", m.name, auth, status, mode)
					t.Run(name, func(t *testing.T) {
						secretsNeverLeave(t, logs, m, auth, status, mode)
					})
				}
			}
		}
	}
}

func secretsNeverLeave(t *testing.T, logs *modtest.SyslogSink, m mod, auth string, status int, mode string) {
	srv, requests := echoServer(t, status)
	dir := t.TempDir()
	args := m.valid(dir)
	switch m.name {
	case "retry_manager":
		delete(args, "argv")
		args["url"] = srv.URL + "/api"
		args["method"] = "POST"
		args["body"] = "payload"
		args["url_username"] = "user"
		args["max_attempts"] = 2
		args["base_delay"] = 0
		args["track_session"] = true
		args["headers"] = map[string]any{"X-Api-Key": "S3cr3t-header-x9"} // secret by its name
	case "qos_guard_release":
		args["prom_url"], args["loki_url"] = srv.URL, srv.URL
		if auth == "basic" {
			args["prom_username"], args["loki_username"] = "user", "user"
		}
	}
	urlSecret := "S3cr3t-url-credential-x9"
	if auth == "url" {
		withCreds := strings.Replace(srv.URL, "http://", "http://user:"+url.QueryEscape(urlSecret)+"@", 1)
		switch m.name {
		case "retry_manager":
			args["url"] = withCreds + "/api"
			delete(args, "url_username")
		case "qos_guard_release":
			args["prom_url"], args["loki_url"] = withCreds, withCreds
		}
	}
	etcd := mode == "etcd"
	if etcd {
		args["store"], args["etcd_endpoints"], args["etcd_username"], args["etcd_timeout"] = "etcd", []any{srv.URL}, "user", "2s"
		if m.name == "retry_manager" { // the store holds the guardrails' state
			args["circuit_breaker"] = map[string]any{"enabled": true}
		}
	}
	secrets := secretArgs(m, args, func(name string) bool {
		switch {
		case name == "etcd_password": // only with store etcd: else the arguments are invalid
			return !etcd
		case auth == "basic":
			return strings.HasSuffix(name, "_bearer_token") && m.name == "qos_guard_release"
		case auth == "url": // the URL's credentials are the basic auth; a bearer token would conflict
			return strings.HasSuffix(name, "_password") || strings.HasSuffix(name, "bearer_token")
		default:
			return strings.HasSuffix(name, "_password")
		}
	})
	if auth == "url" {
		secrets["url credentials"] = urlSecret
	}
	if m.name == "retry_manager" {
		secrets["headers"] = "S3cr3t-header-x9"
	}
	if len(secrets) == 0 {
		t.Fatalf("%s: no secret to look for", m.name)
	}
	switch mode {
	case "check":
		args["_ansible_check_mode"] = true
	case "verbose":
		args["_ansible_verbosity"] = 4
		args["_ansible_diff"] = true
	}
	_, res, raw := run(t, m, dir, args)
	if mode != "check" && requests.Load() == 0 {
		t.Fatalf("the run never reached the server, so it tested nothing: %s", raw)
	}
	decoded := strings.Join(stringsOf(res), "\n") // the output's texts as the user reads them
	var leaks []string
	for param, s := range secrets {
		for _, f := range forms(s) {
			if strings.Contains(raw, f) || strings.Contains(decoded, f) {
				leaks = append(leaks, fmt.Sprintf("%s in the output", param))
			}
			for _, file := range tree(t, dir) {
				if b, _ := os.ReadFile(file); strings.Contains(string(b), f) {
					leaks = append(leaks, fmt.Sprintf("%s in %s", param, file))
				}
			}
		}
	}
	for _, l := range logs.Read(50 * time.Millisecond) {
		for param, s := range secrets {
			for _, f := range forms(s) {
				if strings.Contains(l, f) {
					leaks = append(leaks, fmt.Sprintf("%s in syslog", param))
				}
			}
		}
	}
	if len(leaks) > 0 {
		t.Errorf("secrets leaked: %v\noutput: %s", leaks, raw)
	}
}

// hasSecretBesidesEtcd reports whether m has a secret parameter other than etcd_password.
func hasSecretBesidesEtcd(m mod) bool {
	for _, p := range m.spec {
		if p.Secret && p.Name != "etcd_password" {
			return true
		}
	}
	return false
}

func hasParam(m mod, name string) bool {
	for _, p := range m.spec {
		if p.Name == name {
			return true
		}
	}
	return false
}

// stringsOf returns every string of a decoded JSON value, map keys included.
func stringsOf(v any) []string {
	switch t := v.(type) {
	case string:
		return []string{t}
	case []any:
		var out []string
		for _, e := range t {
			out = append(out, stringsOf(e)...)
		}
		return out
	case map[string]any:
		var out []string
		for k, e := range t {
			out = append(out, k)
			out = append(out, stringsOf(e)...)
		}
		return out
	}
	return nil
}
