package conformance

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"resilience.ops/internal/export"
	"resilience.ops/internal/modtest"
)

// elsewhere stands in for another host: it records every request and every credential it is sent,
// and answers what a healthy Prometheus, Loki or receiver would, so that if it were used its data
// would release the guard.
type elsewhere struct {
	mu       sync.Mutex
	requests []string
}

func (e *elsewhere) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	e.mu.Lock()
	e.requests = append(e.requests, fmt.Sprintf("%s %s Authorization=%q X-Api-Key=%q", r.Method, r.URL.Path,
		r.Header.Get("Authorization"), r.Header.Get("X-Api-Key")))
	e.mu.Unlock()
	q, at := r.Form.Get("query"), r.Form.Get("time")
	v := "0.002"
	switch {
	case strings.Contains(q, "health_ok"):
		v = "0.999"
	case strings.Contains(q, "|~"):
		v = "0"
	case strings.Contains(q, "count_over_time"):
		v = "120"
	}
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[%s,"%s"]}]}}`, at, v)
}

func (e *elsewhere) seen() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.requests...)
}

// redirectingServers: a server that answers every request with a 307 to another origin (another
// port of 127.0.0.1, which is another host for credentials), and one that answers https requests
// with a 307 to http on the same host and port. Every client of the collection refuses to follow
// either: the other origin receives nothing (no credential, no request), its data decides nothing,
// the guard is never released nor taken, and each call fails with a message that says why.
func redirectingServers(t *testing.T) {
	other := &elsewhere{}
	otherSrv := httptest.NewServer(other)
	t.Cleanup(otherSrv.Close)
	away := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, otherSrv.URL+r.URL.RequestURI(), http.StatusTemporaryRedirect)
	}))
	t.Cleanup(away.Close)

	clear := &elsewhere{}
	var httpURL string
	httpsURL, httpURL := modtest.DualServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS != nil {
			http.Redirect(w, r, httpURL+r.URL.RequestURI(), http.StatusTemporaryRedirect)
			return
		}
		clear.ServeHTTP(w, r)
	}))

	for _, tt := range []struct {
		name   string
		url    string
		target *elsewhere
		etcd   bool // etcd is reached over http here; a TLS member would need a CA
	}{
		{"to another origin", away.URL, other, true},
		{"from https to http on the same host and port", httpsURL, clear, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Run("retry_manager", func(t *testing.T) {
				m := modules[1]
				dir := t.TempDir()
				args := m.valid(dir)
				delete(args, "argv")
				args["url"], args["validate_certs"], args["max_attempts"], args["base_delay"] = tt.url+"/api", false, 1, 0
				args["bearer_token"], args["headers"] = "S3cr3t-bearer-x9", map[string]any{"X-Api-Key": "S3cr3t-header-x9"}
				_, res, raw := run(t, m, dir, args)
				if res["failed"] != true || !strings.Contains(fmt.Sprint(res["msg"]), "not followed") {
					t.Errorf("want a failure that says the redirect was not followed: %s", raw)
				}
			})
			t.Run("qos_guard_release", func(t *testing.T) {
				m := modules[2]
				dir := t.TempDir()
				guardPath := filepath.Join(dir, "state", "guard")
				lockLongAgo(t, guardPath)
				before, _ := os.ReadFile(guardPath)
				args := m.valid(dir)
				args["prom_url"], args["loki_url"] = tt.url, tt.url
				args["prom_validate_certs"], args["loki_validate_certs"] = false, false
				args["prom_bearer_token"], args["loki_bearer_token"] = "S3cr3t-prom-x9", "S3cr3t-loki-x9"
				_, res, raw := run(t, m, dir, args)
				if res["unlocked"] == true || res["stable"] == true || res["status"] != "unknown" || !strings.Contains(raw, `"reason":"redirect"`) {
					t.Errorf("want unknown (redirect), nothing released: %s", raw)
				}
				if after, _ := os.ReadFile(guardPath); string(after) != string(before) {
					t.Errorf("the guard changed: %s", after)
				}
			})
			if tt.etcd {
				t.Run("qos_guard on etcd", func(t *testing.T) {
					m := modules[0]
					dir := t.TempDir()
					args := m.valid(dir)
					args["store"], args["etcd_endpoints"], args["etcd_timeout"] = "etcd", []any{tt.url}, "1s"
					args["etcd_username"], args["etcd_password"] = "root", "S3cr3t-etcd-x9"
					args["state"], args["minutes"] = "locked", 5
					_, res, raw := run(t, m, dir, args)
					if res["failed"] != true || res["changed"] == true || res["locked"] != true || res["unknown"] != true ||
						!strings.Contains(fmt.Sprint(res["msg"]), "not followed") {
						t.Errorf("want a guard that fails closed, unknown and unchanged, naming the redirect: %s", raw)
					}
				})
			}
			t.Run("external systems", func(t *testing.T) {
				systems, err := export.ParseSystems([]any{map[string]any{"name": "hook", "type": "webhook", "url": tt.url + "/hook",
					"auth_header": "Bearer S3cr3t-hook-x9", "validate_certs": false, "timeout": 1, "retry_count": 0}})
				if err != nil {
					t.Fatal(err)
				}
				snap := export.Snapshot{SessionID: "retry_1_000001", Time: time.Now(),
					Operations: []export.OperationStats{{Operation: "op", Status: "completed", Operations: 1, Attempts: 1}}}
				results := export.Deliver(context.Background(), systems, snap, export.Options{})
				b, _ := json.Marshal(results)
				if len(results) != 1 || results[0].Sent || !strings.Contains(results[0].Error, "not followed") {
					t.Errorf("want a failed delivery that names the redirect: %s", b)
				}
			})
			if got := tt.target.seen(); len(got) != 0 {
				t.Errorf("the other origin received %d requests: %q", len(got), got)
			}
		})
	}
}
