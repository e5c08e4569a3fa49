package operation

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"resilience.ops/internal/modtest"
	"resilience.ops/internal/secret"
)

// recorder is a server that records whether a request carried credentials.
type recorder struct {
	mu       sync.Mutex
	requests int
	creds    []string // Authorization and X-Api-Key values received
}

func (rec *recorder) record(r *http.Request) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	rec.requests++
	for _, h := range []string{"Authorization", "X-Api-Key"} {
		if v := r.Header.Get(h); v != "" {
			rec.creds = append(rec.creds, h+": "+v)
		}
	}
}

func (rec *recorder) seen() (int, []string) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return rec.requests, append([]string(nil), rec.creds...)
}

// A redirect to another origin is never followed: the other host or port receives nothing, so it
// can neither collect the credentials nor supply the answer. An https URL that redirects to http
// on the same host and port is another origin too. Within the origin, redirects are followed.
func TestHTTPNeverLeavesTheOrigin(t *testing.T) {
	t.Parallel()
	// "another host": a different port is a different origin.
	var other recorder
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		other.record(r)
		fmt.Fprint(w, `{"status":"ok"}`)
	}))
	t.Cleanup(elsewhere.Close)
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/away":
			http.Redirect(w, r, elsewhere.URL+"/data", http.StatusTemporaryRedirect)
		case "/moved":
			http.Redirect(w, r, "/data", http.StatusPermanentRedirect)
		case "/data":
			if r.Header.Get("Authorization") == "" {
				http.Error(w, "no credentials", http.StatusUnauthorized)
				return
			}
			fmt.Fprint(w, "here")
		}
	}))
	t.Cleanup(origin.Close)
	// The same host and port in clear and over TLS.
	var clear recorder
	var httpURL string
	httpsURL, httpURL := modtest.DualServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS != nil {
			http.Redirect(w, r, httpURL+"/data", http.StatusFound)
			return
		}
		clear.record(r)
		fmt.Fprint(w, "in clear")
	}))

	for _, tt := range []struct {
		name, url string
		seen      *recorder
	}{
		{"307 to another port", origin.URL + "/away", &other},
		{"https to http on the same host and port", httpsURL + "/start", &clear},
	} {
		for _, auth := range []string{"bearer", "basic", "header"} {
			t.Run(tt.name+"/"+auth, func(t *testing.T) {
				r := HTTPRequest{Method: http.MethodPost, URL: tt.url, Body: []byte("x"), Headers: map[string]string{}}
				switch auth {
				case "bearer":
					r.BearerToken = "S3cr3t-bearer-token"
				case "basic":
					r.User, r.Password = "deploy", "S3cr3t-password"
				case "header":
					r.Headers["X-Api-Key"] = "S3cr3t-api-key"
				}
				client, err := r.NewClient()
				if err != nil {
					t.Fatal(err)
				}
				res, f, _ := r.Do(context.Background(), client, time.Now())
				if f == nil || !strings.Contains(f.Message, "not followed") {
					t.Errorf("want a failure that says the redirect was not followed, got %+v, %+v", res, f)
				}
				if n, creds := tt.seen.seen(); n != 0 || len(creds) != 0 {
					t.Errorf("the other origin received %d requests, credentials %q", n, creds)
				}
			})
		}
	}

	t.Run("within the origin", func(t *testing.T) {
		r := HTTPRequest{URL: origin.URL + "/moved", BearerToken: "S3cr3t-bearer-token"}
		client, _ := r.NewClient()
		res, f, _ := r.Do(context.Background(), client, time.Now())
		if f != nil || res.Status != http.StatusOK || res.Body != "here" {
			t.Errorf("same-origin redirect: %+v, %+v", res, f)
		}
	})
}

// echo answers with everything it received, in a JSON body, a text body or a header.
func echo(status int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Echo", r.Header.Get("Authorization"))
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]any{"method": r.Method, "url": r.URL.String(), "headers": r.Header,
			"text": "Authorization: " + r.Header.Get("Authorization")})
	}
}

// A server that echoes the request never makes a secret appear in the result, in any form: not
// the base64 user:password of url_username/url_password or of the credentials in the URL, not a
// bearer token, not the task's secret headers.
func TestHTTPScrubsEchoedCredentials(t *testing.T) {
	t.Parallel()
	for _, status := range []int{200, 401} {
		srv := httptest.NewServer(echo(status))
		t.Cleanup(srv.Close)
		u, _ := url.Parse(srv.URL)
		u.User = url.UserPassword("svc", "c0rrect-h0rse/b@ttery")
		extra := &secret.Set{}
		extra.Add("S3cr3t-api-key")
		for _, r := range []HTTPRequest{
			{URL: u.String() + "/v1"},
			{URL: srv.URL + "/v1", User: "deploy", Password: "pw-\"quoted\"-9"},
			{URL: srv.URL + "/v1", BearerToken: "S3cr3t-bearer-token"},
			{URL: srv.URL + "/v1", Headers: map[string]string{"X-Api-Key": "S3cr3t-api-key"}, Secrets: extra},
		} {
			client, _ := r.NewClient()
			res, f, _ := r.Do(context.Background(), client, time.Now())
			if status == 200 && (f != nil || res.JSON == nil) {
				t.Fatalf("want a decoded success: %+v, %+v", res, f)
			}
			out, _ := json.Marshal(map[string]any{"result": res, "failure": f})
			for _, leak := range []string{"c0rrect", "quoted", "S3cr3t", base64.StdEncoding.EncodeToString([]byte("svc:c0rrect-h0rse/b@ttery"))[4:],
				base64.StdEncoding.EncodeToString([]byte("deploy:pw-\"quoted\"-9"))[8:]} {
				if strings.Contains(string(out), leak) {
					t.Errorf("status %d: %q left in %s", status, leak, out)
				}
			}
		}
	}
}

// A body cut at max_body in the middle of an echoed token keeps no prefix of it.
func TestHTTPTruncatedBodyKeepsNoPrefix(t *testing.T) {
	t.Parallel()
	token := strings.Repeat("tok3n-", 20)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, strings.Repeat(".", 100)+r.Header.Get("Authorization"))
	}))
	t.Cleanup(srv.Close)
	for _, max := range []int64{110, 115, 130, 200} {
		r := HTTPRequest{URL: srv.URL, BearerToken: token, MaxBody: max}
		client, _ := r.NewClient()
		res, f, _ := r.Do(context.Background(), client, time.Now())
		if f != nil || !res.BodyTruncated || strings.Contains(res.Body, "tok") || strings.Contains(res.Body, "Bearer t") {
			t.Errorf("max %d: body %q, failure %+v", max, res.Body, f)
		}
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// Without a deadline from the caller (attempt_timeout unset), a request still ends: its context
// carries DefaultTimeout. A caller's deadline is kept.
func TestHTTPDefaultTimeout(t *testing.T) {
	t.Parallel()
	var deadline time.Time
	var has bool
	client := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		deadline, has = r.Context().Deadline()
		return nil, errors.New("no network in this test")
	})}
	r := HTTPRequest{URL: "http://127.0.0.1:9/"}
	before := time.Now()
	_, f, _ := r.Do(context.Background(), client, before)
	after := time.Now()
	if f == nil || !has || deadline.Before(before.Add(DefaultTimeout)) || deadline.After(after.Add(DefaultTimeout)) {
		t.Errorf("failure %+v, deadline %v (set %v), want %s after the call", f, deadline, has, DefaultTimeout)
	}
	ctx, cancel := context.WithDeadline(context.Background(), before.Add(time.Hour))
	defer cancel()
	r.Do(ctx, client, before)
	if !deadline.Equal(before.Add(time.Hour)) {
		t.Errorf("the caller's deadline was replaced: %v", deadline)
	}
}
