package slo

import (
	"net/url"
	"sort"
	"strings"
)

const redacted = "********" // as Ansible masks no_log values

// redactor removes the configured secrets from strings that leave the
// package. It is the last line of defence: messages are built without
// secrets, but error texts from net/http or a server's error body (which may
// echo a header) are not under our control.
type redactor struct {
	secrets []string // longest first, so that a secret containing another goes first
}

// newRedactor collects the secrets of the endpoints: bearer tokens,
// passwords (also from URLs), header values, and the encoded forms in which
// they travel (base64 basic auth, URL escaping).
func newRedactor(endpoints ...Endpoint) *redactor {
	seen := map[string]bool{}
	add := func(s string) {
		if s != "" {
			seen[s] = true
		}
	}
	for _, e := range endpoints {
		var urlUser, urlPass string
		if u, err := url.Parse(e.URL); err == nil && u.User != nil {
			urlUser = u.User.Username()
			urlPass, _ = u.User.Password()
			if urlPass != "" {
				add(u.User.String()) // the escaped user:pass as it appears in the URL
			}
		}
		for _, s := range []string{e.BearerToken, e.Password, urlPass} {
			add(s)
			add(url.QueryEscape(s))
			add(url.PathEscape(s))
		}
		for _, v := range e.Headers {
			add(v)
		}
		if e.Username != "" || e.Password != "" {
			add(basicToken(e.Username, e.Password))
		}
		if urlUser != "" {
			add(basicToken(urlUser, urlPass))
		}
	}
	r := &redactor{}
	for s := range seen {
		r.secrets = append(r.secrets, s)
	}
	sort.Slice(r.secrets, func(i, j int) bool { return len(r.secrets[i]) > len(r.secrets[j]) })
	return r
}

func (r *redactor) string(s string) string {
	for _, secret := range r.secrets {
		s = strings.ReplaceAll(s, secret, redacted)
	}
	return s
}

func (r *redactor) result(c CheckResult) CheckResult {
	c.Query = r.string(c.Query)
	c.VolumeQuery = r.string(c.VolumeQuery)
	c.Message = r.string(c.Message)
	for i, w := range c.Warnings {
		c.Warnings[i] = r.string(w)
	}
	return c
}
