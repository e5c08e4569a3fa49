package export

import (
	"encoding/json"
	"net/url"
	"regexp"
	"strings"
	"unicode"

	"resilience.ops/internal/secret"
)

// redacted replaces a secret, as Ansible masks no_log values.
const redacted = secret.Mask

// redactor removes a system's secrets from text that leaves the package. It is the last line of
// defence: messages are built from the name and host only, but error texts of net/http and the
// bodies of error answers (which may echo a header or the URL) are not under our control. Which
// values are secret is decided here; the forms in which a server can echo them (escaped, encoded,
// base64 as Basic auth sends user:pass) are package secret's.
type redactor struct {
	set secret.Set
}

// newRedactor collects the secrets of sys: the auth header's value and its token, header values,
// URL credentials, query values, and for Slack and webhook systems the URL itself, its path and
// its token-like path segments.
func newRedactor(sys System) *redactor {
	r := &redactor{}
	add := r.set.Add
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
			r.set.AddBasic(u.User.Username(), pass)
		}
		for _, vs := range u.Query() {
			for _, v := range vs {
				add(v)
			}
		}
		add(u.RawQuery)
		if k := kindOf(sys.Type); k != nil && k.SecretURL {
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
	s = r.set.String(s)
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
