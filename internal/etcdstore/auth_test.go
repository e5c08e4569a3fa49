package etcdstore

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"resilience.ops/internal/etcdtest"
	"resilience.ops/internal/modtest"
	"resilience.ops/internal/state"
)

// gateway POSTs body to path on endpoint and fails t unless etcd answers without an error.
func gateway(t *testing.T, endpoint, path string, body map[string]any, token string) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, endpoint+path, strings.NewReader(string(b)))
	if token != "" {
		req.Header.Set("Authorization", token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var e errorResponse
		_ = json.NewDecoder(resp.Body).Decode(&e)
		t.Fatalf("%s: %d %s", path, resp.StatusCode, e.Message)
	}
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// With authentication on, a user limited to its team's prefix works under it, is refused
// elsewhere at once, and a wrong password is reported without the password.
func TestAuthentication(t *testing.T) {
	t.Parallel()
	c := etcdtest.Start(t, 1)
	ep := c.Endpoints()[0]
	gateway(t, ep, "/v3/auth/user/add", map[string]any{"name": "root", "password": "root-secret"}, "")
	gateway(t, ep, "/v3/auth/user/grant", map[string]any{"user": "root", "role": "root"}, "")
	gateway(t, ep, "/v3/auth/user/add", map[string]any{"name": "team-a", "password": "team-a-secret"}, "")
	gateway(t, ep, "/v3/auth/role/add", map[string]any{"name": "team-a"}, "")
	gateway(t, ep, "/v3/auth/role/grant", map[string]any{"name": "team-a",
		"perm": map[string]any{"permType": "READWRITE", "key": b64("/team-a/"), "range_end": b64("/team-a0")}}, "")
	gateway(t, ep, "/v3/auth/user/grant", map[string]any{"user": "team-a", "role": "team-a"}, "")
	gateway(t, ep, "/v3/auth/enable", map[string]any{}, "")

	s, err := New(Config{Endpoints: c.Endpoints(), Prefix: "/team-a/", Username: "team-a", Password: "team-a-secret", SlotTTL: MinTTL})
	if err != nil {
		t.Fatal(err)
	}
	set(t, s, "/run/g", "locked")
	if err := s.Append("/run/g.audit", []byte("line")); err != nil {
		t.Fatal(err)
	}
	if got := string(load(t, s, "/run/g")); got != "locked" {
		t.Fatalf("load = %q", got)
	}
	err = s.UpdateWithTTL("/run/g", func([]byte) ([]byte, time.Duration, error) { return []byte("x"), time.Minute, nil })
	if err != nil {
		t.Fatal(err)
	}
	_, h, err := s.Slots("svc", 1).Try(0)
	if err != nil || h == nil {
		t.Fatalf("slot: %v", err)
	}
	h.Close()

	// The refused stores have the longest timeout: a refusal that was retried until it ran out
	// would hang the test (modtest.Finishes), so none is measured.
	for name, cfg := range map[string]Config{
		"another team's prefix": {Endpoints: c.Endpoints(), Prefix: "/team-b/", Username: "team-a", Password: "team-a-secret"},
		"wrong password":        {Endpoints: c.Endpoints(), Prefix: "/team-a/", Username: "team-a", Password: "wrong-secret"},
		"no credentials":        {Endpoints: c.Endpoints(), Prefix: "/team-a/"},
	} {
		cfg.Timeout = MaxTimeout
		other, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		modtest.Finishes(t, func() { _, err = other.Load("/run/g") })
		var ee *Error
		if !errors.As(err, &ee) || errors.Is(err, state.ErrUnavailable) {
			t.Errorf("%s: err = %v, want etcd's refusal, not worth retrying", name, err)
		}
		if err != nil && (strings.Contains(err.Error(), "secret")) {
			t.Errorf("%s: the error shows a password: %v", name, err)
		}
	}
}
