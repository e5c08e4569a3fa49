package slo

import (
	"strings"

	"resilience.ops/internal/secret"
)

// redactor removes the configured secrets from strings that leave the
// package. It is the last line of defence: messages are built without
// secrets, but error texts from net/http or a server's error body (which may
// echo a header) are not under our control. Which values are secret is decided
// here; the forms in which they can come back are package secret's.
type redactor struct {
	set secret.Set
}

// newRedactor collects the secrets of the endpoints of cfg: bearer tokens,
// passwords (also from URLs, with the Basic token they make), and header
// values (and the credential after an auth scheme such as "Bearer").
func newRedactor(cfg Config) *redactor {
	r := &redactor{}
	for _, b := range backends {
		e := cfg.endpoint(b.Source)
		r.set.AddURL(e.URL)
		r.set.Add(e.BearerToken)
		r.set.AddBasic(e.Username, e.Password)
		for _, v := range e.Headers {
			r.set.Add(v)
			if _, cred, ok := strings.Cut(v, " "); ok {
				r.set.Add(strings.TrimSpace(cred))
			}
		}
	}
	return r
}

func (r *redactor) string(s string) string { return r.set.String(s) }

// tail scrubs text that was cut short before it could be scrubbed.
func (r *redactor) tail(s string) string { return r.set.Tail(s) }

func (r *redactor) result(c CheckResult) CheckResult {
	c.Query = r.string(c.Query)
	c.VolumeQuery = r.string(c.VolumeQuery)
	c.Message = r.string(c.Message)
	for i, w := range c.Warnings {
		c.Warnings[i] = r.string(w)
	}
	return c
}

// redacted is what a secret is replaced with.
const redacted = secret.Mask
