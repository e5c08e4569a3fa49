package slo

import (
	"maps"
	"net/url"
	"slices"
	"strings"
)

// TenantHeader carries the Loki (and Mimir/Cortex) tenant.
const TenantHeader = "X-Scope-OrgID"

// Endpoint is how to reach one server: its base URL plus auth and TLS.
// TLS verification is on unless InsecureSkipVerify is set.
type Endpoint struct {
	// URL is the base URL, for example http://loki.local:3100 (without /loki).
	// Credentials in it (https://user:pass@host) are used as basic auth and
	// removed from the URL, so that they cannot show up in error messages.
	URL string

	BearerToken string // sent as "Authorization: Bearer <token>"
	Username    string // basic auth; exclusive with BearerToken
	Password    string

	// Headers are added to every request. Their values are treated as
	// secrets. Authorization and X-Scope-OrgID may not be set here when
	// the dedicated fields set them.
	Headers map[string]string

	TenantID string // sent as X-Scope-OrgID when not empty

	CAFile             string // PEM bundle that replaces the system roots
	CertFile, KeyFile  string // client certificate (PEM), both or neither
	InsecureSkipVerify bool
}

// validate checks e without touching the file system. prefix names the
// endpoint in errors ("prometheus", "loki"). It never quotes a value that may
// hold a secret: not the URL (it may carry a password), not header values.
func (e Endpoint) validate(prefix string) []error {
	var errs []error
	add := func(field, format string, args ...any) {
		errs = append(errs, fieldErr(prefix+"."+field, format, args...))
	}
	u, err := url.Parse(e.URL)
	switch {
	case err != nil:
		add("url", "not a valid URL (expected something like http://host:port)")
	case u.Scheme != "http" && u.Scheme != "https":
		add("url", "scheme must be http or https")
	case u.Host == "":
		add("url", "has no host")
	case u.RawQuery != "" || u.Fragment != "":
		add("url", "must not have a query string or fragment")
	}
	urlCreds := err == nil && u.User != nil
	if e.BearerToken != "" && (e.Username != "" || e.Password != "" || urlCreds) {
		add("bearer_token", "cannot be combined with basic auth (username/password or credentials in the URL)")
	}
	if e.Password != "" && e.Username == "" {
		add("password", "needs a username")
	}
	if urlCreds && e.Username != "" {
		add("username", "credentials are also in the URL; set them in one place")
	}
	if hasBadChars(e.BearerToken) {
		add("bearer_token", "must not contain control characters")
	}
	if hasBadChars(e.TenantID) {
		add("tenant_id", "must not contain control characters")
	}
	for _, name := range slices.Sorted(maps.Keys(e.Headers)) {
		switch {
		case !validHeaderName(name):
			add("headers", "%q is not a valid header name", name)
		case hasBadChars(e.Headers[name]):
			add("headers", "the value of %q must not contain control characters", name)
		case strings.EqualFold(name, "Authorization") && (e.BearerToken != "" || e.Username != "" || urlCreds):
			add("headers", "Authorization is already set by bearer_token or basic auth")
		case strings.EqualFold(name, TenantHeader) && e.TenantID != "":
			add("headers", "%s is already set by tenant_id", TenantHeader)
		case strings.EqualFold(name, "Host"):
			add("headers", "Host cannot be set as a header; put the host in the URL")
		}
	}
	if (e.CertFile == "") != (e.KeyFile == "") {
		add("cert_file", "cert_file and key_file must be set together")
	}
	return errs
}

// baseURL returns the URL without credentials, and the credentials it had.
// It assumes validate passed.
func (e Endpoint) baseURL() (clean *url.URL, user, pass string) {
	u, _ := url.Parse(e.URL)
	if u.User != nil {
		user = u.User.Username()
		pass, _ = u.User.Password()
		u.User = nil
	}
	return u, user, pass
}

func hasBadChars(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 && r != '\t' || r == 0x7f })
}

// validHeaderName reports whether s is an RFC 9110 token.
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r > 0x7e || r <= 0x20 || strings.ContainsRune(`"(),/:;<=>?@[\]{}`, r) {
			return false
		}
	}
	return true
}
