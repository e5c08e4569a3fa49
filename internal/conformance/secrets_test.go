package conformance

import (
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"resilience.ops/internal/modtest"
	"resilience.ops/internal/module"
)

// echoServer answers every request with everything it received, headers and body included, with
// the given status: the worst a server can do with secrets.
func echoServer(t *testing.T, status int) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(status)
		fmt.Fprintf(w, "%s %s\n", r.Method, r.URL)
		for k, v := range r.Header {
			fmt.Fprintf(w, "%s: %s\n", k, strings.Join(v, ","))
		}
		w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// secretArgs fills every secret parameter of m with its own secret value.
func secretArgs(m mod, args map[string]any) map[string]string {
	secrets := map[string]string{}
	for _, p := range m.spec {
		if !p.Secret {
			continue
		}
		v := "S3cr3t-" + p.Name + "-x9"
		secrets[p.Name] = v
		switch p.Type {
		case module.TypeDict:
			args[p.Name] = map[string]any{"Authorization": v}
		default:
			args[p.Name] = v
		}
	}
	return secrets
}

// forms are the ways a secret could leak: as is, and base64 encoded as in basic authentication.
func forms(secret string) []string {
	return []string{secret, base64.StdEncoding.EncodeToString([]byte(secret)), base64.StdEncoding.EncodeToString([]byte("user:" + secret))}
}

// TestSecretsNeverLeave runs every module with a secret in every secret parameter, against servers
// that echo what they receive, in normal, check and most verbose runs, on success and failure: no
// secret appears in the output, in any file the run leaves, or in the host's log.
func TestSecretsNeverLeave(t *testing.T) {
	logs := modtest.ListenSyslog(t)
	for _, m := range modules {
		for _, status := range []int{200, 500} {
			for _, mode := range []string{"normal", "check", "verbose"} {
				name := fmt.Sprintf("%s/%d/%s", m.name, status, mode)
				t.Run(name, func(t *testing.T) {
					srv := echoServer(t, status)
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
						args["headers"] = map[string]any{"X-Api-Key": "S3cr3t-header-x9"}
					case "qos_guard_release":
						args["prom_url"], args["loki_url"] = srv.URL, srv.URL
						args["prom_username"], args["loki_username"] = "user", "user"
					}
					secrets := secretArgs(m, args)
					if m.name == "retry_manager" {
						secrets["headers"] = "S3cr3t-header-x9"
					}
					if len(secrets) == 0 {
						t.Skipf("%s has no secret parameter", m.name)
					}
					switch mode {
					case "check":
						args["_ansible_check_mode"] = true
					case "verbose":
						args["_ansible_verbosity"] = 4
						args["_ansible_diff"] = true
					}
					_, _, raw := run(t, m, dir, args)
					var leaks []string
					for param, s := range secrets {
						for _, f := range forms(s) {
							if strings.Contains(raw, f) {
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
							if strings.Contains(l, s) {
								leaks = append(leaks, fmt.Sprintf("%s in syslog", param))
							}
						}
					}
					if len(leaks) > 0 {
						t.Errorf("secrets leaked: %v\noutput: %s", leaks, raw)
					}
				})
			}
		}
	}
}
