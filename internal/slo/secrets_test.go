package slo

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

const (
	secretToken    = "tok-3f9a7c1e5b"
	secretPassword = "pw-8d2e4f6a0c"
	secretURLPass  = "up-1b3d5f7h9j"
	secretHeader   = "hdr-0a2c4e6g8i"
)

var secrets = []string{secretToken, secretPassword, secretURLPass, secretHeader}

// echo answers with the request's secret-bearing headers inside a response
// shaped by kind, the way a careless proxy or server might.
func echo(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		leak := fmt.Sprintf("auth=%s key=%s", r.Header.Get("Authorization"), r.Header.Get("X-Api-Key"))
		switch kind {
		case "ok":
			w.Header().Set("Content-Type", jsonType)
			fmt.Fprintf(w, `{"status":"success","warnings":[%q],"data":{"resultType":"vector","result":[{"metric":{},"value":[1,"0"]}]}}`, leak)
		case "400 text":
			http.Error(w, "parse error near "+leak, http.StatusBadRequest)
		case "400 json":
			w.Header().Set("Content-Type", jsonType)
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, `{"status":"error","errorType":"bad_data","error":%q}`, leak)
		case "401":
			http.Error(w, "unauthorized: "+leak, http.StatusUnauthorized)
		case "500":
			http.Error(w, strings.Repeat("x", 280)+leak, http.StatusInternalServerError) // the token straddles the snippet limit
		case "garbage":
			fmt.Fprint(w, "<html>"+leak+"</html>")
		case "slow":
			<-r.Context().Done()
		}
	}
}

func TestSecretsNeverLeak(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"ok", "400 text", "400 json", "401", "500", "garbage", "slow", "unreachable"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			srv := newFake(t, func(string) http.HandlerFunc { return echo(kind) })
			cfg := testConfig(srv.URL, strings.Replace(srv.URL, "http://", "http://lokiuser:"+secretURLPass+"@", 1))
			cfg.Endpoints[SourcePrometheus].BearerToken = secretToken
			cfg.Endpoints[SourcePrometheus].Headers = map[string]string{"X-Api-Key": secretHeader}
			cfg.Endpoints[SourceLoki].TenantID = "team-a"
			cfg.Endpoints[SourceLoki].Headers = map[string]string{"X-Api-Key": secretHeader}
			th := 1.0
			cfg.Checks = []CheckSpec{{Name: "basic", Source: SourcePrometheus, Query: "up", Comparison: GE, Threshold: &th}}
			cfg.Timeout = 200 * time.Millisecond
			if kind == "unreachable" {
				srv.Close()
			}
			e, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			report := e.Evaluate(t.Context())
			b, err := json.Marshal(report)
			if err != nil {
				t.Fatal(err)
			}
			assertNoSecret(t, string(b))
			if kind != "unreachable" && !secretsReachedServer(srv) {
				t.Fatal("the server did not receive the credentials: the test proves nothing")
			}
		})
	}
}

// TestSecretsNeverLeakBasicAuth covers username/password fields: the
// password and its base64 form in the echoed Authorization header.
func TestSecretsNeverLeakBasicAuth(t *testing.T) {
	t.Parallel()
	srv := newFake(t, func(string) http.HandlerFunc { return echo("400 text") })
	cfg := promOnly(srv.URL)
	cfg.Endpoints[SourcePrometheus].Username, cfg.Endpoints[SourcePrometheus].Password = "admin", secretPassword
	b, err := json.Marshal(evaluate(t, cfg))
	if err != nil {
		t.Fatal(err)
	}
	assertNoSecret(t, string(b))
	if !strings.Contains(string(b), redacted) {
		t.Errorf("the echoed Authorization header was not redacted: %s", b)
	}
}

func assertNoSecret(t *testing.T, s string) {
	t.Helper()
	basic := base64.StdEncoding.EncodeToString([]byte("admin:" + secretPassword))
	urlBasic := base64.StdEncoding.EncodeToString([]byte("lokiuser:" + secretURLPass))
	for _, secret := range append(secrets, basic, urlBasic) {
		// Any 8-byte piece of a secret counts as a leak, so that a secret
		// cut at a length limit is caught too.
		for i := 0; i+8 <= len(secret); i++ {
			if strings.Contains(s, secret[i:i+8]) {
				t.Fatalf("output contains part of secret %q: %s", secret, s)
			}
		}
	}
}

func secretsReachedServer(f *fake) bool {
	for _, r := range f.requests() {
		if r.header.Get("Authorization") == "Bearer "+secretToken && r.header.Get("X-Api-Key") == secretHeader {
			return true
		}
	}
	return false
}
