package export

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// Secret values, each unique and easy to find.
const (
	secRWPass      = "rw-pass-Secret-1"
	secRWQuery     = "rw-query-Secret-2"
	secRWToken     = "rw-token-Secret-3"
	secRWTenant    = "rw-tenant-Secret-4"
	secPGPass      = "pg-pass-Secret-5"
	secSlackTeam   = "T0SECRET6"
	secSlackBot    = "B0SECRET7"
	secSlackToken  = "slackTokenSecret8xyz"
	secDDKey       = "dd-key-Secret-9"
	secHookPath    = "webhookPathSecret10"
	secHookQuery   = "webhook-query-Secret-11"
	secHookToken   = "hook-token-Secret-12"
	secDDQueryKey  = "dd-query-Secret-13"
	secPGBasicUser = "pguser"
)

var allSecrets = []string{secRWPass, secRWQuery, secRWToken, secRWTenant, secPGPass, secSlackTeam, secSlackBot, secSlackToken,
	secDDKey, secHookPath, secHookQuery, secHookToken, secDDQueryKey}

// secretForms adds the encoded forms in which the secrets travel.
func secretForms() []string {
	out := append([]string(nil), allSecrets...)
	out = append(out,
		base64.StdEncoding.EncodeToString([]byte(secPGBasicUser+":"+secPGPass)),
		base64.StdEncoding.EncodeToString([]byte("rwuser:"+secRWPass)),
		"services/"+secSlackTeam,
	)
	return out
}

// secretEntries configures every type with secrets, against base (an http://host:port URL).
func secretEntries(base, dir string, required bool) []any {
	u, _ := url.Parse(base)
	hostport := u.Host
	basic := base64.StdEncoding.EncodeToString([]byte(secPGBasicUser + ":" + secPGPass))
	return []any{
		map[string]any{"name": "prometheus", "url": "http://rwuser:" + secRWPass + "@" + hostport + "/api/v1/write?api_key=" + secRWQuery,
			"auth_header": "Bearer " + secRWToken, "headers": map[string]any{"X-Scope-OrgID": secRWTenant}, "retry_count": 1, "retry_delay": 1, "required": required},
		map[string]any{"name": "pushgateway", "url": base + "/pg", "auth_header": "Basic " + basic, "retry_count": 1},
		map[string]any{"name": "slack_webhook", "url": base + "/services/" + secSlackTeam + "/" + secSlackBot + "/" + secSlackToken,
			"events": []any{"metrics", "alerts"}, "retry_count": 1, "required": required},
		map[string]any{"name": "datadog", "url": base + "/api/v1/series?api_key=" + secDDQueryKey, "auth_header": "DD-API-KEY " + secDDKey, "retry_count": 1},
		map[string]any{"name": "ops_hook", "type": "webhook", "url": base + "/hooks/" + secHookPath + "?token=" + secHookQuery,
			"auth_header": "X-Hook-Token: " + secHookToken, "retry_count": 1},
		map[string]any{"name": "node_textfile", "directory": dir},
	}
}

// echo answers 500 with everything it received: the worst server for secrets.
func echo(_ int, w http.ResponseWriter, r *http.Request) {
	var b strings.Builder
	fmt.Fprintf(&b, "bad request %s %s\n", r.Method, r.URL.RequestURI())
	names := make([]string, 0, len(r.Header))
	for k := range r.Header {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		fmt.Fprintf(&b, "%s: %s\n", k, strings.Join(r.Header[k], ","))
	}
	if u, p, ok := r.BasicAuth(); ok {
		fmt.Fprintf(&b, "basic %s:%s\n", u, p)
	}
	http.Error(w, b.String(), http.StatusInternalServerError)
}

func TestNoSecretInAnyOutput(t *testing.T) {
	t.Parallel()
	var outputs []string
	collect := func(label string, v any) {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		outputs = append(outputs, label+": "+string(b))
	}
	dir := t.TempDir()
	echoSrv := newRecorder(t, echo)
	okSrv := newRecorder(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/v1/write") {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	release := make(chan struct{})
	hangSrv := newRecorder(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	t.Cleanup(func() { close(release) })
	closed := newRecorder(t, nil)
	closedURL := closed.URL
	closed.Close()
	redirect := newRecorder(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://elsewhere.example/"+secSlackToken+"?k="+secDDKey, http.StatusFound)
	})

	scenarios := []struct {
		name     string
		base     string
		alerts   bool
		check    bool
		required bool
		timeout  bool
	}{
		{"echoing failures", echoSrv.URL, false, false, true, false},
		{"echoing failures, alerts", echoSrv.URL, true, false, false, false},
		{"success", okSrv.URL, false, false, false, false},
		{"success, alerts", okSrv.URL, true, false, false, false},
		{"check mode", okSrv.URL, false, true, false, false},
		{"check mode, alerts", okSrv.URL, true, true, false, false},
		{"connection refused", closedURL, false, false, true, false},
		{"timeout", hangSrv.URL, false, false, false, true},
		{"redirect", redirect.URL, false, false, true, false},
	}
	for _, sc := range scenarios {
		entries := secretEntries(sc.base, dir, sc.required)
		if sc.timeout {
			for _, e := range entries[:5] {
				e.(map[string]any)["timeout"] = 0.1
			}
		}
		systems, err := ParseSystems(entries)
		if err != nil {
			t.Fatalf("%s: %v", sc.name, err)
		}
		outputs = append(outputs, fmt.Sprintf("%s systems: %v %+v %#v %s", sc.name, systems, systems, systems, systems))
		collect(sc.name+" systems json", systems)
		results := Deliver(context.Background(), systems, testSnapshot(), testOptions(newFakeClock(), sc.alerts, sc.check))
		collect(sc.name+" results", results)
		collect(sc.name+" warnings", Warnings(results))
		if err := Err(results); err != nil {
			outputs = append(outputs, sc.name+" err: "+err.Error())
		}
		for _, r := range results {
			if !sc.check && r.Skipped == "" && !r.Sent && r.Type != TypeTextfile && r.Error == "" {
				t.Errorf("%s: %s neither sent nor failed: %+v", sc.name, r.Name, r)
			}
		}
		if sc.name == "echoing failures" && Err(results) == nil {
			t.Errorf("required systems failed without an error")
		}
	}
	// The textfile and any other file the package wrote.
	_ = filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			data, _ := os.ReadFile(path)
			outputs = append(outputs, "file "+path+": "+string(data))
		}
		return nil
	})
	// Validation errors of entries that carry secrets.
	bad := secretEntries(echoSrv.URL, dir, false)
	for _, e := range bad {
		m := e.(map[string]any)
		m["method"] = "DELETE"
		m["timeout"] = -1
	}
	bad = append(bad, map[string]any{"name": "hook", "url": "https://x.example/" + secHookPath, "auth_header": "Bearer " + secRWToken})
	if _, err := ParseSystems(bad); err == nil {
		t.Error("bad entries accepted")
	} else {
		outputs = append(outputs, "validation: "+err.Error())
	}

	for _, out := range outputs {
		for _, secret := range secretForms() {
			if strings.Contains(out, secret) {
				t.Errorf("secret %q appears in output:\n%s", secret, out)
			}
		}
	}

	// The test is not vacuous: the echo server received the secrets and answered with them.
	var seen strings.Builder
	for _, r := range echoSrv.requests() {
		fmt.Fprintf(&seen, "%s?%s %v\n", r.Path, r.Query, r.Header)
	}
	for _, secret := range []string{secRWQuery, secRWToken, secRWTenant, secSlackToken, secDDKey, secDDQueryKey, secHookPath, secHookQuery, secHookToken} {
		if !strings.Contains(seen.String(), secret) {
			t.Errorf("the echo server never saw %q: the test does not exercise it", secret)
		}
	}
	joined := strings.Join(outputs, "\n")
	for _, want := range []string{"HTTP 500 Internal Server Error: bad request POST", redacted, "no answer within the timeout of 0.1s", "connection refused", "redirects are not followed"} {
		if !strings.Contains(joined, want) {
			t.Errorf("outputs lack %q: the scenarios did not run as meant", want)
		}
	}
}

// An error answer is scrubbed before it is cut to a snippet: a long auth_header echoed so that the
// snippet limit falls inside it leaves no prefix of it, in any position; nor does an answer cut at
// the read limit.
func TestSnippetKeepsNoPrefixOfASecret(t *testing.T) {
	t.Parallel()
	token := strings.Repeat("Zq9-long-token-", 12)
	for _, pad := range []int{150, 170, 185, 195, 199, maxResponseBytes - 40} {
		rec := newRecorder(t, func(_ int, w http.ResponseWriter, r *http.Request) {
			http.Error(w, strings.Repeat("x", pad)+r.Header.Get("Authorization"), http.StatusBadGateway)
		})
		sys := mustSystems(t, map[string]any{"name": "ops_hook", "type": "webhook", "url": rec.URL + "/hook",
			"auth_header": "Bearer " + token, "retry_count": 0})
		res := Deliver(context.Background(), sys, smallSnapshot(), testOptions(newFakeClock(), false, false))[0]
		if res.Error == "" || strings.Contains(res.Error, "Zq9") || strings.Contains(res.Error, "Bearer Z") {
			t.Errorf("pad %d: %q", pad, res.Error)
		}
		if len(rec.requests()) == 0 || rec.requests()[0].Header.Get("Authorization") != "Bearer "+token {
			t.Fatalf("pad %d: the server never received the token: the test proves nothing", pad)
		}
	}
}
