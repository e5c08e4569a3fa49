package conformance

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"resilience.ops/internal/export"
	"resilience.ops/internal/modtest"
)

// misbehaving servers: each answers every request in one bad way.
var misbehaviours = map[string]http.HandlerFunc{
	"hangs": func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	},
	"resets": func(w http.ResponseWriter, r *http.Request) {
		if c, _, err := w.(http.Hijacker).Hijack(); err == nil {
			c.Close()
		}
	},
	"answers 500": func(w http.ResponseWriter, r *http.Request) { http.Error(w, "boom", http.StatusInternalServerError) },
	"answers garbage": func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		b := make([]byte, 4096)
		rand.Read(b)
		w.Write(b)
	},
	"sends an endless body": func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		chunk := []byte(strings.Repeat(`{"data":[`, 1024))
		for r.Context().Err() == nil {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	},
	// It would answer after an hour: a client without a timeout hangs the test (see bounded).
	"answers slowly": func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(time.Hour):
			w.Write([]byte(`{"status":"success","data":{"resultType":"vector","result":[]}}`))
		case <-r.Context().Done():
		}
	},
}

// bounded fails the test when f hangs: the servers that hang or answer slowly do so for longer
// than modtest.HangDeadline, so only a timeout that holds lets f return. Nothing is measured.
func bounded(t *testing.T, f func()) {
	t.Helper()
	modtest.Finishes(t, f)
}

// misbehavingServer serves h. Its handlers' contexts end with the test: a request whose body was
// never read does not see its client go away, and Close waits for every handler.
func misbehavingServer(t *testing.T, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	quit := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		go func() {
			select {
			case <-quit:
				cancel()
			case <-ctx.Done():
			}
		}()
		h(w, r.WithContext(ctx))
	}))
	t.Cleanup(func() { close(quit); srv.CloseClientConnections(); srv.Close() })
	return srv
}

// TestMisbehavingServers: against servers that hang, reset, answer 500, garbage, an endless body or
// slowly, every call ends within its timeout with a clear message and bounded output, and the guard
// is never unlocked on such an answer, nor taken when such a server stands in for etcd. Servers
// that redirect to another origin are never followed (redirectingServers).
func TestMisbehavingServers(t *testing.T) {
	t.Run("redirects", redirectingServers)
	for name, h := range misbehaviours {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := misbehavingServer(t, h)

			t.Run("retry_manager", func(t *testing.T) {
				m := modules[1]
				dir := t.TempDir()
				args := m.valid(dir)
				delete(args, "argv")
				args["url"] = srv.URL
				args["attempt_timeout"] = 1
				args["max_attempts"] = 2
				args["base_delay"] = 0
				var res map[string]any
				var raw string
				bounded(t, func() { _, res, raw = run(t, m, dir, args) })
				if len(raw) > 2<<20 {
					t.Errorf("output of %d bytes: the body was not bounded", len(raw))
				}
				msg, _ := res["msg"].(string)
				if name == "answers garbage" || name == "sends an endless body" {
					return // a 200 is a success for an HTTP operation; what matters is the bound
				}
				if res["failed"] != true || msg == "" || strings.Contains(msg, "internal error") {
					t.Errorf("want a clear failure: %s", raw)
				}
			})

			t.Run("qos_guard_release", func(t *testing.T) {
				m := modules[2]
				dir := t.TempDir()
				guardPath := filepath.Join(dir, "state", "guard")
				lockLongAgo(t, guardPath)
				args := m.valid(dir)
				args["prom_url"], args["loki_url"] = srv.URL, srv.URL
				args["query_timeout"] = "1s"
				var res map[string]any
				var raw string
				bounded(t, func() { _, res, raw = run(t, m, dir, args) })
				if res["unlocked"] == true || res["stable"] == true {
					t.Fatalf("released on a misbehaving server: %s", raw)
				}
				if b, err := os.ReadFile(guardPath); err != nil || !strings.Contains(string(b), "0123456789abcdef") {
					t.Errorf("the guard file changed: %q, %v", b, err)
				}
				if len(raw) > 1<<20 {
					t.Errorf("output of %d bytes: the answer was not bounded", len(raw))
				}
			})

			t.Run("qos_guard on etcd", func(t *testing.T) {
				m := modules[0]
				dir := t.TempDir()
				args := m.valid(dir)
				args["store"], args["etcd_endpoints"], args["etcd_timeout"] = "etcd", []any{srv.URL}, "1s"
				args["state"], args["minutes"] = "locked", 5
				var res map[string]any
				var raw string
				bounded(t, func() { _, res, raw = run(t, m, dir, args) })
				if res["failed"] != true || res["changed"] == true || res["locked"] != true || res["unknown"] != true {
					t.Errorf("want a guard that fails closed, unknown and unchanged: %s", raw)
				}
				if len(raw) > 1<<20 {
					t.Errorf("output of %d bytes: the answer was not bounded", len(raw))
				}
			})

			t.Run("external systems", func(t *testing.T) {
				systems, err := export.ParseSystems([]any{map[string]any{
					"name": "hook", "type": "webhook", "url": srv.URL + "/hook", "timeout": 1, "retry_count": 1, "retry_delay": 0}})
				if err != nil {
					t.Fatal(err)
				}
				snap := export.Snapshot{SessionID: "retry_1_000001", Operations: []export.OperationStats{{Operation: "op", Status: "completed", Operations: 1, Attempts: 1}}}
				var results []export.Result
				bounded(t, func() { results = export.Deliver(context.Background(), systems, snap, export.Options{}) })
				b, _ := json.Marshal(results)
				if name == "answers garbage" || name == "sends an endless body" {
					return // a 2xx answer is an accepted delivery, whatever its body
				}
				if len(results) != 1 || results[0].Sent || results[0].Error == "" {
					t.Errorf("want a failed delivery with a message: %s", b)
				}
				if strings.Contains(string(b), srv.URL+"/hook") {
					t.Errorf("the webhook URL leaked: %s", b)
				}
			})
		})
	}
}

// lockLongAgo writes a guard locked two hours ago that expires in an hour, so that the stability
// window is evaluable and only the servers' answers decide.
func lockLongAgo(t *testing.T, path string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	doc := map[string]any{"id": "0123456789abcdef", "locked_at": now.Add(-2 * time.Hour), "expires_at": now.Add(time.Hour),
		"owner": "test", "reason": "rollback", "window_minutes": 180}
	b, _ := json.Marshal(doc)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}
