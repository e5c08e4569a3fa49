package export

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
)

// FuzzParseSystems checks that validation never panics and never echoes an auth_header, a
// header value or a URL's path or query in its messages.
func FuzzParseSystems(f *testing.F) {
	f.Add("prometheus", "", "https://prometheus.example.com/api/v1/write", "Bearer your-token-here", "X-Scope-OrgID", "tenant", "30", "2")
	f.Add("slack_webhook", "", "https://hooks.slack.com/services/YOUR/SLACK/WEBHOOK", "", "", "", "15", "")
	f.Add("datadog", "datadog", "https://api.datadoghq.com/api/v1/series?api_key=abcdef123", "DD-API-KEY your-api-key", "", "", "x", "-1")
	f.Add("hook", "webhook", "ftp://user:pa55word@host/secret-path", "Bearer\nX: y", "Bad Name", "v\r\n", "0", "1.5")
	f.Add("", "loki", "::", "a", "", "", "", "")
	f.Fuzz(func(t *testing.T, name, typ, rawURL, auth, hname, hvalue, timeout, retries string) {
		entry := map[string]any{"name": name, "url": rawURL, "timeout": timeout, "retry_count": retries}
		if typ != "" {
			entry["type"] = typ
		}
		if auth != "" {
			entry["auth_header"] = auth
		}
		if hname != "" {
			entry["headers"] = map[string]any{hname: hvalue}
		}
		// Through JSON, as the module receives it.
		b, err := json.Marshal([]any{entry})
		if err != nil {
			return
		}
		var list []any
		if json.Unmarshal(b, &list) != nil {
			return
		}
		_, perr := ParseSystems(list)
		if perr == nil {
			return
		}
		msg := perr.Error()
		public := name + "\x00" + typ + "\x00" + hname + "\x00" + timeout + "\x00" + retries
		var secrets []string
		for _, s := range []string{auth, strings.TrimSpace(auth), hvalue} {
			secrets = append(secrets, s)
		}
		if u, err := url.Parse(strings.TrimSpace(rawURL)); err == nil {
			secrets = append(secrets, u.Path, u.RawQuery)
			if u.User != nil {
				p, _ := u.User.Password()
				secrets = append(secrets, p)
			}
		}
		for _, s := range secrets {
			if len(s) < 8 || strings.Contains(public, s) || strings.Contains(parserVocabulary(), s) {
				continue // too short to tell, or also given as a value that may be shown
			}
			if strings.Contains(msg, s) {
				t.Fatalf("message echoes %q:\n%s", s, msg)
			}
		}
	})
}

// parserVocabulary is text that messages always may contain. (A function: the types register
// themselves in init functions, after package variables are set.)
func parserVocabulary() string {
	return strings.Join(append(knownKeys(), joinTypes(), "must be an http:// or https:// URL with a host",
		"external_systems", "does not apply to", "is required for", "unknown key; accepted keys are", "must not contain control characters",
		"is not a valid HTTP header name", "the value of header", "must be a number", "must be more than 0 seconds",
		"must be at most", "must be between", "retries, not attempts", "must be a whole number", "is set by the module and cannot be overridden",
		"is missing and cannot be inferred from the name", "the URL's host", "set type to one of"), "\x00")
}
