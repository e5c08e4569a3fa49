// Package secret keeps credentials where they belong.
//
// A Set holds the secrets of one run together with every form in which a server can echo them: as
// given, JSON-escaped (as Go, Python and PHP escape), URL-encoded (upper- and lower-case hex), and
// base64, as HTTP Basic authentication sends user:password, also when the secret sits at any offset
// inside a longer base64 text. It scrubs all of them from text before that text is cut short, so
// no prefix of a secret survives a truncation. Every package that handles secrets (the module
// runtime, the SLO client, the external systems, the HTTP operation, the etcd store) derives the
// forms here instead of keeping a copy of the list.
//
// SameOrigin and Redirects keep credentials on the origin (scheme, host and port) they were
// configured for: a redirect elsewhere, an https URL that redirects to http on the same host
// included, is refused.
package secret

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Mask replaces a secret, as ansible-core masks no_log values.
const Mask = "********"

// MinLen is the length below which a value is not scrubbed: shorter values would scrub ordinary
// words. Derived forms of a longer secret (its base64, its escapes) are scrubbed whatever their
// length.
const MinLen = 4

// Set is a set of secrets in all their forms. The zero value is an empty set. Add to it first,
// then use it: once built it is safe for concurrent use, Add is not.
type Set struct {
	forms []string // every form of every secret, longest first, without duplicates
}

// Add adds values (those of at least MinLen bytes) in all their forms.
func (s *Set) Add(values ...string) {
	for _, v := range values {
		if len(v) >= MinLen {
			s.add(Forms(v)...)
		}
	}
}

// AddBasic adds a password in all its forms, and the Basic authentication token of user and pass
// (base64 of user:pass) and the user:pass of a URL, whatever the length of pass.
func (s *Set) AddBasic(user, pass string) {
	if pass == "" {
		return
	}
	s.Add(pass)
	token := base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
	s.add(token, strings.TrimRight(token, "="), url.UserPassword(user, pass).String())
}

// AddURL adds the credentials of a URL (https://user:pass@host), as AddBasic does. Anything that
// does not parse as a URL with a password adds nothing.
func (s *Set) AddURL(raw string) {
	if !strings.Contains(raw, "@") {
		return
	}
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.User == nil {
		return
	}
	if pass, ok := u.User.Password(); ok {
		s.AddBasic(u.User.Username(), pass)
	}
}

// Merge adds every form of o.
func (s *Set) Merge(o *Set) {
	if o != nil {
		s.add(o.forms...)
	}
}

// Empty reports whether the set holds no secret.
func (s *Set) Empty() bool { return s == nil || len(s.forms) == 0 }

func (s *Set) add(forms ...string) {
	for _, f := range forms {
		if f != "" && !slices.Contains(s.forms, f) {
			s.forms = append(s.forms, f)
		}
	}
	// Longest first, so that a form that contains another one is replaced whole.
	slices.SortStableFunc(s.forms, func(a, b string) int { return len(b) - len(a) })
}

// String returns x with every form of every secret replaced by Mask.
func (s *Set) String(x string) string {
	if s == nil {
		return x
	}
	for _, f := range s.forms {
		if strings.Contains(x, f) {
			x = strings.ReplaceAll(x, f, Mask)
		}
	}
	return x
}

// Tail is String for text that was cut short before it could be scrubbed (a body read up to a
// limit): a trailing piece that may be the start of a secret is masked too.
func (s *Set) Tail(x string) string {
	x = s.String(x)
	if s == nil {
		return x
	}
	cut := len(x)
	for _, f := range s.forms {
		for n := min(len(f)-1, len(x)); n > 0; n-- {
			if strings.HasSuffix(x, f[:n]) {
				cut = min(cut, len(x)-n)
				break
			}
		}
	}
	if cut == len(x) {
		return x
	}
	return x[:cut] + Mask
}

// Cut scrubs x, then cuts it to at most n bytes (on a rune boundary) and reports whether it did.
// Scrubbing comes first, so the cut can never leave the start of a secret behind.
func (s *Set) Cut(x string, n int) (string, bool) {
	x = s.String(x)
	if len(x) <= n {
		return x, false
	}
	for n > 0 && !utf8.RuneStart(x[n]) {
		n--
	}
	return x[:n], true
}

// Value scrubs every string of a decoded JSON value (maps, slices, strings), map keys included,
// in place where it can, and returns it.
func (s *Set) Value(v any) any {
	if s.Empty() {
		return v
	}
	switch t := v.(type) {
	case string:
		return s.String(t)
	case map[string]any:
		for k, e := range t {
			clean := s.Value(e)
			if ck := s.String(k); ck != k {
				delete(t, k)
				k = ck
			}
			t[k] = clean
		}
		return t
	case []any:
		for i, e := range t {
			t[i] = s.Value(e)
		}
		return t
	}
	return v
}

// Forms returns the forms in which v can be echoed: as given, JSON-escaped, URL-encoded and
// base64-encoded (standard and URL alphabets, alone and at each of the three offsets it can have
// inside a longer base64 text, such as a Basic authentication token whose user is unknown).
func Forms(v string) []string {
	out := []string{v}
	for _, j := range jsonForms(v) {
		out = append(out, j, strings.ReplaceAll(j, "/", `\/`))
	}
	for _, e := range []string{url.QueryEscape(v), url.PathEscape(v)} {
		out = append(out, e, lowerHex.ReplaceAllStringFunc(e, strings.ToLower))
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding} {
		full := enc.EncodeToString([]byte(v))
		out = append(out, full, strings.ReplaceAll(full, "/", `\/`))
		for k := range 3 {
			// The characters of base64(k unknown bytes + v) that depend on v alone.
			b := enc.EncodeToString(append(make([]byte, k), v...))
			start, end := (8*k+5)/6, 8*(k+len(v))/6
			if end-start >= MinLen {
				core := b[start:end]
				out = append(out, core, strings.ReplaceAll(core, "/", `\/`))
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

var lowerHex = regexp.MustCompile(`%[0-9A-F]{2}`)

// jsonForms are the bodies of JSON strings holding v, as Go escapes them (with and without HTML
// escaping) and as encoders that write only ASCII (Python's default) do.
func jsonForms(v string) []string {
	var bodies []string
	if b, err := json.Marshal(v); err == nil {
		bodies = append(bodies, string(b[1:len(b)-1]))
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if enc.Encode(v) == nil {
		plain := strings.TrimSuffix(buf.String(), "\n")
		bodies = append(bodies, plain[1:len(plain)-1])
	}
	out := slices.Clone(bodies)
	for _, b := range bodies {
		out = append(out, asciiJSON(b, false), asciiJSON(b, true))
	}
	return out
}

// asciiJSON escapes the non-ASCII runes of an escaped JSON string body as \uXXXX (UTF-16).
func asciiJSON(s string, upper bool) string {
	var b strings.Builder
	for _, r := range s {
		if r < utf8.RuneSelf {
			b.WriteRune(r)
			continue
		}
		units := []rune{r}
		if r > 0xFFFF {
			r -= 0x10000
			units = []rune{0xD800 + (r>>10)&0x3FF, 0xDC00 + r&0x3FF}
		}
		for _, u := range units {
			h := fmt.Sprintf(`\u%04x`, u)
			if upper {
				h = `\u` + strings.ToUpper(h[2:])
			}
			b.WriteString(h)
		}
	}
	return b.String()
}

// Origin is scheme://host:port of u, with the scheme's default port made explicit.
func Origin(u *url.URL) string {
	scheme := strings.ToLower(u.Scheme)
	port := u.Port()
	if port == "" {
		switch scheme {
		case "http":
			port = "80"
		case "https":
			port = "443"
		}
	}
	return scheme + "://" + net.JoinHostPort(strings.ToLower(u.Hostname()), port)
}

// SameOrigin reports whether a and b have the same scheme, host and port.
func SameOrigin(a, b *url.URL) bool { return Origin(a) == Origin(b) }

// ErrOtherOrigin is wrapped by the error of a redirect that Redirects refuses.
var ErrOtherOrigin = errors.New("a redirect to another origin is not followed: credentials are sent only to the configured scheme, host and port")

// MaxRedirects bounds the redirects that Redirects follows.
const MaxRedirects = 10

// Redirects is an http.Client CheckRedirect function that follows a redirect only within the
// origin of the first request (at most MaxRedirects of them), so that credentials never reach
// another host or port, nor travel in clear after an https URL redirected to http.
func Redirects(req *http.Request, via []*http.Request) error {
	if len(via) >= MaxRedirects {
		return errors.New("stopped after " + strconv.Itoa(MaxRedirects) + " redirects")
	}
	if len(via) > 0 && !SameOrigin(via[0].URL, req.URL) {
		return fmt.Errorf("%w (%s redirected to %s)", ErrOtherOrigin, Origin(via[0].URL), Origin(req.URL))
	}
	return nil
}
