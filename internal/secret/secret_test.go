package secret

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// echoes are the ways a server can send a secret back, each built the way that server would.
func echoes(user, pass string) map[string]string {
	goJSON, _ := json.Marshal(map[string]string{"password": pass})
	basic := base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
	other := base64.StdEncoding.EncodeToString([]byte("someone-else:" + pass))
	return map[string]string{
		"as given":                  "denied: " + pass,
		"Go JSON":                   string(goJSON),
		"PHP JSON (escaped slash)":  `{"password":"` + strings.ReplaceAll(jsonBody(pass), "/", `\/`) + `"}`,
		"Python JSON (ASCII only)":  `{"password": "` + asciiJSON(jsonBody(pass), false) + `"}`,
		"query string":              "GET /x?password=" + url.QueryEscape(pass),
		"path":                      "GET /" + url.PathEscape(pass),
		"lower-case hex":            "GET /x?p=" + lowerHex.ReplaceAllStringFunc(url.QueryEscape(pass), strings.ToLower),
		"Basic header":              "Authorization: Basic " + basic,
		"Basic header in JSON":      `{"headers":{"Authorization":["Basic ` + basic + `"]}}`,
		"Basic of another user":     "Authorization: Basic " + other,
		"Bearer header":             "Authorization: Bearer " + pass,
		"URL user information":      "Post \"https://" + url.UserPassword(user, pass).String() + "@host/\"",
		"base64 alone":              base64.StdEncoding.EncodeToString([]byte(pass)),
		"base64 URL alphabet":       base64.URLEncoding.EncodeToString([]byte("xx" + pass)),
		"base64 at an odd offset":   base64.StdEncoding.EncodeToString([]byte("a" + pass + "tail")),
		"base64 at an even offset":  base64.StdEncoding.EncodeToString([]byte("ab" + pass + "tail")),
		"base64 at a larger offset": base64.StdEncoding.EncodeToString([]byte("some header: " + pass)),
	}
}

func jsonBody(s string) string {
	b, _ := json.Marshal(s)
	return string(b[1 : len(b)-1])
}

// leaked reports whether text still holds pass, or an encoded piece of it long enough to matter.
func leaked(text, pass string) bool {
	if strings.Contains(text, pass) || strings.Contains(text, jsonBody(pass)) || strings.Contains(text, url.QueryEscape(pass)) {
		return true
	}
	for k := range 3 {
		b := base64.StdEncoding.EncodeToString(append(make([]byte, k), pass...))
		core := b[(8*k+5)/6 : 8*(k+len(pass))/6]
		if strings.Contains(text, core[:len(core)-2]) {
			return true
		}
	}
	return false
}

func TestEveryEchoedFormIsScrubbed(t *testing.T) {
	t.Parallel()
	for _, pass := range []string{"S3cr3t-pa\"ss/wörd<&>x9", "plain-password-42", "tök€n😀with/slash+plus"} {
		var s Set
		s.AddBasic("user", pass)
		for name, text := range echoes("user", pass) {
			got := s.String(text)
			if leaked(got, pass) {
				t.Errorf("%q, %s: %q is left after scrubbing %q", pass, name, got, text)
			}
			if !strings.Contains(got, Mask) {
				t.Errorf("%q, %s: nothing was masked in %q", pass, name, got)
			}
		}
	}
}

func TestAddURL(t *testing.T) {
	t.Parallel()
	var s Set
	s.AddURL("https://deploy:p%40ss-w0rd@example.com/api")
	basic := base64.StdEncoding.EncodeToString([]byte("deploy:p@ss-w0rd"))
	for _, text := range []string{"p@ss-w0rd", "Basic " + basic, "https://deploy:p%40ss-w0rd@example.com"} {
		if got := s.String(text); strings.Contains(got, "ss-w0rd") || strings.Contains(got, basic[4:]) {
			t.Errorf("%q scrubbed to %q", text, got)
		}
	}
	var none Set
	none.AddURL("https://example.com/api@v2")
	if !none.Empty() {
		t.Errorf("a URL without credentials added %v", none.forms)
	}
}

func TestShortValuesAreNotScrubbed(t *testing.T) {
	t.Parallel()
	var s Set
	s.Add("abc", "")
	if got := s.String("abc def"); got != "abc def" {
		t.Errorf("a 3-byte value was scrubbed: %q", got)
	}
}

// Scrubbing comes before any cut: neither Cut nor Tail leaves the start of a secret.
func TestCutAndTailNeverLeaveAPrefix(t *testing.T) {
	t.Parallel()
	secret := "Bearer " + strings.Repeat("0123456789abcdef", 8)
	var s Set
	s.Add(secret)
	body := strings.Repeat("x", 190) + "echo: " + secret + " end"
	for n := 150; n < len(body); n += 7 {
		got, cut := s.Cut(body, n)
		if strings.Contains(got, "0123456789") || len(got) > n || !cut && len(got) != len(s.String(body)) {
			t.Fatalf("Cut(%d) = %q, %v", n, got, cut)
		}
		// A body read up to a limit of n bytes: the secret may be cut in the middle.
		if got := s.Tail(body[:n]); strings.Contains(got, "0123") || strings.Contains(got, "Bearer 0") {
			t.Fatalf("Tail of %d bytes = %q", n, got[max(0, len(got)-40):])
		}
	}
	if got := s.Tail("nothing to see"); got != "nothing to see" {
		t.Errorf("Tail changed text without a secret: %q", got)
	}
}

func TestValueScrubsStringsAndKeys(t *testing.T) {
	t.Parallel()
	var s Set
	s.Add("hunter2-secret")
	v := map[string]any{"hunter2-secret": "x", "list": []any{"a hunter2-secret b", 1.0, map[string]any{"k": "hunter2-secret"}}}
	b, _ := json.Marshal(s.Value(v))
	if strings.Contains(string(b), "hunter2") {
		t.Errorf("left in %s", b)
	}
	var nilSet *Set
	if got := nilSet.String("hunter2-secret"); got != "hunter2-secret" {
		t.Errorf("a nil set changed text: %q", got)
	}
}

func TestSameOrigin(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		a, b string
		want bool
	}{
		{"https://h.example/a", "https://h.example:443/b", true},
		{"http://h.example/a", "http://H.EXAMPLE:80/b?x=1", true},
		{"https://h.example/a", "http://h.example/a", false}, // a downgrade on the same host
		{"https://h.example:8443/a", "http://h.example:8443/a", false},
		{"http://127.0.0.1:9090/", "http://127.0.0.1:9091/", false},
		{"http://h.example/", "http://evil.example/", false},
		{"http://[::1]:80/", "http://[::1]/", true},
	} {
		a, _ := url.Parse(tt.a)
		b, _ := url.Parse(tt.b)
		if got := SameOrigin(a, b); got != tt.want {
			t.Errorf("SameOrigin(%s, %s) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestRedirects(t *testing.T) {
	t.Parallel()
	req := func(raw string) *http.Request {
		r, _ := http.NewRequest(http.MethodGet, raw, nil)
		return r
	}
	first := []*http.Request{req("https://api.example/v1")}
	if err := Redirects(req("https://api.example/v2"), first); err != nil {
		t.Errorf("same origin refused: %v", err)
	}
	for _, to := range []string{"http://api.example/v2", "https://api.example:8443/v2", "https://evil.example/v1"} {
		if err := Redirects(req(to), first); err == nil || !strings.Contains(err.Error(), "not followed") {
			t.Errorf("redirect to %s: %v", to, err)
		}
	}
	// Back to the origin after a hop elsewhere does not count: every hop is compared with the first.
	if err := Redirects(req("https://api.example/v3"), append(first, req("https://api.example/v2"))); err != nil {
		t.Errorf("second same-origin hop refused: %v", err)
	}
	many := make([]*http.Request, MaxRedirects)
	for i := range many {
		many[i] = first[0]
	}
	if err := Redirects(req("https://api.example/v2"), many); err == nil {
		t.Error("no limit on redirects")
	}
}
