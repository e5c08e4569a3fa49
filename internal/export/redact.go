package export

import (
	"encoding/base64"
	"encoding/json"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"unicode"
)

// redacted replaces a secret, as Ansible masks no_log values.
const redacted = "********"

// minSecretLen: shorter values would scrub ordinary words (the module runtime uses the same).
const minSecretLen = 4

// redactor removes a system's secrets from text that leaves the package. It is the last line of
// defence: messages are built from the name and host only, but error texts of net/http and the
// bodies of error answers (which may echo a header or the URL) are not under our control.
type redactor struct {
	secrets []string // longest first, so that a secret containing another goes first
}

// newRedactor collects the secrets of sys: the auth header's value and its token, header values,
// URL credentials, query values, and for Slack and webhook systems the URL itself, its path and
// its token-like path segments; each also URL-escaped, JSON-escaped and, for user:pass, in
// base64 as Basic auth sends it.
func newRedactor(sys System) *redactor {
	seen := map[string]bool{}
	add := func(s string) {
		if len(s) < minSecretLen {
			return
		}
		seen[s] = true
		seen[url.QueryEscape(s)] = true
		seen[url.PathEscape(s)] = true
		if j, err := json.Marshal(s); err == nil {
			seen[strings.Trim(string(j), `"`)] = true
		}
	}
	if v := sys.authHeader.value; v != "" {
		add(v)
		if _, token, ok := strings.Cut(v, " "); ok {
			add(strings.TrimSpace(token))
		}
	}
	for _, v := range sys.headers {
		add(v)
	}
	if u := sys.url; u != nil {
		if u.User != nil {
			pass, _ := u.User.Password()
			add(pass)
			add(u.User.String())
			add(base64.StdEncoding.EncodeToString([]byte(u.User.Username() + ":" + pass)))
		}
		for _, vs := range u.Query() {
			for _, v := range vs {
				add(v)
			}
		}
		add(u.RawQuery)
		if sys.Type == TypeSlack || sys.Type == TypeWebhook {
			add(u.String())
			add(u.Host + u.EscapedPath())
			if p := strings.Trim(u.Path, "/"); p != "" {
				add(p)
				add(strings.Trim(u.EscapedPath(), "/"))
			}
			for seg := range strings.SplitSeq(u.Path, "/") {
				if tokenLike(seg) {
					add(seg)
				}
			}
		}
	}
	r := &redactor{}
	for s := range seen {
		if len(s) >= minSecretLen {
			r.secrets = append(r.secrets, s)
		}
	}
	sort.Slice(r.secrets, func(i, j int) bool { return len(r.secrets[i]) > len(r.secrets[j]) })
	return r
}

// tokenLike reports whether a URL path segment looks like a credential rather than a word:
// at least 6 characters with a digit or an upper-case letter (Slack's T0123/B0123/XXXX), or 16
// and more of anything.
func tokenLike(seg string) bool {
	if len(seg) >= 16 {
		return true
	}
	return len(seg) >= 6 && strings.ContainsFunc(seg, func(r rune) bool { return unicode.IsDigit(r) || unicode.IsUpper(r) })
}

// urlPattern finds URLs in text, to cut them to scheme://host.
var urlPattern = regexp.MustCompile(`(?i)\b[a-z][a-z0-9+.-]*://[^\s"'<>]+`)

// text returns s without secrets and with every URL cut to scheme://host.
func (r *redactor) text(s string) string {
	if s == "" {
		return s
	}
	for _, secret := range r.secrets {
		s = strings.ReplaceAll(s, secret, redacted)
	}
	return urlPattern.ReplaceAllStringFunc(s, func(m string) string {
		u, err := url.Parse(m)
		if err != nil || u.Host == "" {
			return "<url>"
		}
		return u.Scheme + "://" + u.Host
	})
}

// result scrubs every text of a result.
func (r *redactor) result(res Result) Result {
	res.Error = r.text(res.Error)
	res.Note = r.text(res.Note)
	if p := res.WouldSend; p != nil {
		c := *p
		c.Text = r.text(c.Text)
		for i := range c.Series {
			c.Series[i] = r.text(c.Series[i])
		}
		if c.Body != nil {
			b := r.text(string(c.Body))
			if json.Valid([]byte(b)) {
				c.Body = json.RawMessage(b)
			} else {
				c.Body = nil
			}
		}
		res.WouldSend = &c
	}
	return res
}
