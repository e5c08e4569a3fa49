package etcdstore

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// A password with a quote travels JSON-escaped in the authenticate request. A server that echoes
// the request in its error answer, at any offset (so that the 200-byte clip may fall inside the
// password), leaves no part of the password in the error, as given or escaped.
func TestEchoedPasswordIsScrubbed(t *testing.T) {
	t.Parallel()
	const password = `hunter2"with-quote\and-slash-and-more-to-be-long`
	escaped, _ := json.Marshal(password)
	for _, shape := range []string{"text", "json"} {
		for _, pad := range []int{0, 120, 150, 170, 190} {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				echo := strings.Repeat("x", pad) + string(body) + " " + r.Header.Get("Authorization")
				if shape == "json" {
					w.WriteHeader(http.StatusBadRequest)
					_ = json.NewEncoder(w).Encode(map[string]any{"error": echo, "message": echo, "code": 3})
					return
				}
				http.Error(w, echo, http.StatusBadRequest)
			}))
			s, err := New(Config{Endpoints: []string{srv.URL}, Username: "root", Password: password, Timeout: time.Second})
			if err != nil {
				t.Fatal(err)
			}
			_, err = s.Load("/run/guard")
			srv.Close()
			if err == nil {
				t.Fatalf("%s, pad %d: no error from an echoing server", shape, pad)
			}
			msg := err.Error()
			for _, piece := range []string{"hunter2", "with-quote", "and-slash", string(escaped[1:8])} {
				if strings.Contains(msg, piece) {
					t.Errorf("%s, pad %d: %q in %q", shape, pad, piece, msg)
				}
			}
		}
	}
}

// A member that answers with a redirect is not followed: the other host receives neither the
// password nor any request, and the call fails at once, naming the redirect.
func TestRedirectIsNotFollowed(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var got []string
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, fmt.Sprintf("%s %s %s", r.URL.Path, r.Header.Get("Authorization"), body))
		mu.Unlock()
		_, _ = w.Write([]byte(`{"token":"stolen"}`))
	}))
	defer other.Close()
	member := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	defer member.Close()
	s, err := New(Config{Endpoints: []string{member.URL}, Username: "root", Password: "s3cr3t-password", Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Load("/run/guard")
	if err == nil || !strings.Contains(err.Error(), "redirect, which is not followed") {
		t.Errorf("error %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 0 {
		t.Errorf("the other host received %q", got)
	}
}
