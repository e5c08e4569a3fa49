package export

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"resilience.ops/internal/coerce"
	"resilience.ops/internal/duration"
	"resilience.ops/internal/field"

	"resilience.ops/internal/retry"
)

// Type is the kind of an external system: the type key of an external_systems entry. A string
// value: safe for concurrent use.
type Type string

// Each type is registered by its own file (see kind.go): remotewrite.go, pushgateway.go,
// textfile.go, slack.go, datadog.go, webhook.go.

// Event is what a delivery sends: the session's metrics, or an alert about breached thresholds.
// The events key of a system lists those it receives. A string value: safe for concurrent use.
type Event string

// The events.
const (
	EventMetrics Event = "metrics" // "send retry metrics to external systems"
	EventAlerts  Event = "alerts"  // "send retry alerts": only when a threshold is breached
)

// Remote write protocol versions (remote_write_version).
const (
	RemoteWrite10 = "1.0" // prometheus.WriteRequest: every receiver, Prometheus 2.x included
	RemoteWrite20 = "2.0" // io.prometheus.write.v2.Request; a 415 answer falls back to 1.0
)

// Pushgateway grouping labels (grouping); job is always part of the group.
const (
	GroupingOperation = "operation"
	GroupingSession   = "session"
)

// Defaults and limits of an external_systems entry. Each default applies when the key is absent
// (or null); an explicit value always wins.
const (
	// DefaultTimeout bounds each attempt (connect, send, read the answer). It is NOT a total
	// budget: a system may take (retry_count+1) * timeout plus the delays. MaxTimeout caps it.
	DefaultTimeout = 10 * time.Second
	MaxTimeout     = 300 * time.Second
	// DefaultRetryCount counts retries, not attempts: 2 means up to 3 attempts. MaxRetryCount
	// keeps attempts within the retry engine's max_attempts limit.
	DefaultRetryCount = 2
	MaxRetryCount     = retry.MaxMaxAttempts - 1
	// DefaultRetryDelay is the fixed wait before each retry; no backoff, no jitter (a delivery
	// is one request, not a crowd). MaxRetryDelay caps it.
	DefaultRetryDelay = 5 * time.Second
	MaxRetryDelay     = 300 * time.Second
	// MaxRetryAfter caps how far a Retry-After answer (429, 503) lengthens a wait; it never
	// shortens retry_delay.
	MaxRetryAfter = 60 * time.Second
	// DefaultJob is the job label of remote write series and the Pushgateway's job.
	DefaultJob = "retry_manager"
	// DefaultTextfileName is the file written in a textfile system's directory.
	DefaultTextfileName = "retry_manager.prom"
	// DefaultRemoteWriteVersion is 1.0: Prometheus 2.x (Debian's 2.42 among them) accepts only it.
	DefaultRemoteWriteVersion = RemoteWrite10
	// maxNameLen bounds a system's name.
	maxNameLen = 100
)

// System is one validated external_systems entry. Build it with [ParseSystems]. The URL and the
// credentials are unexported and never printed: String, GoString and JSON show the name, type
// and host only. A plain value: safe for concurrent use as long as nobody modifies it.
type System struct {
	Name     string `json:"name"`
	Type     Type   `json:"type"`
	Enabled  bool   `json:"enabled"`  // false: skipped, with a result that says so
	Required bool   `json:"required"` // true: a failed delivery is an error (see Err), not a warning
	// Events lists what the system receives (its kind's DefaultEvents when not given).
	Events []Event `json:"events"`
	// Method is the HTTP method; "" for textfile.
	Method string `json:"method,omitempty"`
	// Timeout bounds each attempt; RetryCount counts retries; RetryDelay is the wait before each.
	Timeout    time.Duration `json:"-"`
	RetryCount int           `json:"retry_count"`
	RetryDelay time.Duration `json:"-"`
	// Job is the job label (remote write) or the Pushgateway job.
	Job string `json:"job,omitempty"`
	// Labels are constant labels added to every series (tags on Datadog).
	Labels map[string]string `json:"labels,omitempty"`
	// RemoteWriteVersion is RemoteWrite10 or RemoteWrite20 (remote write only).
	RemoteWriteVersion string `json:"remote_write_version,omitempty"`
	// Grouping lists the Pushgateway grouping labels besides job: GroupingOperation and
	// GroupingSession by default.
	Grouping []string `json:"grouping,omitempty"`
	// Path is the textfile system's file.
	Path string `json:"path,omitempty"`
	// ValidateCerts turns TLS verification on (the default); CAFile adds a CA bundle.
	ValidateCerts bool   `json:"validate_certs"`
	CAFile        string `json:"ca_file,omitempty"`

	url        *url.URL          // may hold credentials (Slack and webhook paths, user:pass)
	authHeader header            // from auth_header
	headers    map[string]string // user headers, all treated as secrets
}

// header is one HTTP header; the zero value is none.
type header struct{ name, value string }

// Host is the host (and port) of the system's URL, the only part of it that results and
// messages show; "localhost" for a textfile system.
func (s System) Host() string {
	if s.url == nil {
		return "localhost"
	}
	return s.url.Host
}

// String is "name (type, host)": never the URL or a credential.
func (s System) String() string { return fmt.Sprintf("%s (%s, %s)", s.Name, s.Type, s.Host()) }

// GoString keeps %#v from printing the unexported URL and credentials.
func (s System) GoString() string { return "export.System{" + s.String() + "}" }

// receives reports whether s takes event e.
func (s System) receives(e Event) bool { return slices.Contains(s.Events, e) }

var commonKeys = []string{"name", "type", "enabled", "required", "events"}

// secretKeys are never echoed in messages, whatever their value.
var secretKeys = map[string]bool{"auth_header": true, "headers": true, "url": true}

// Label names: the Prometheus rule, without the reserved "__" prefix.
var labelNameRE = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// reservedLabels are set by this package; constant labels may not use them.
var reservedLabels = []string{"job", labelOperation, labelStatus, labelErrorType, GroupingSession}

// forbiddenHeaders are set by this package; headers may not override them.
var forbiddenHeaders = []string{"Content-Type", "Content-Encoding", "Content-Length", "Host", "Transfer-Encoding", remoteWriteVersionHeader}

// ParseSystems validates the user's external_systems list (as decoded from JSON: a []any of
// map[string]any) and returns one System per entry, in order. It reports every problem, joined
// with errors.Join, each a *field.Error. Values are accepted as Ansible's Python modules accept
// them: numeric strings for numbers, yes/no/true/false/on/off/1/0 for booleans. Unknown keys and
// keys that do not apply to the entry's type are errors that list the accepted keys. It does no
// I/O. Disabled entries are validated too, so that enabling one later cannot reveal a mistake.
func ParseSystems(v any) ([]System, error) {
	if v == nil {
		return nil, nil
	}
	list, ok := v.([]any)
	if !ok {
		return nil, &field.Error{Path: "external_systems", Problem: "must be a list of dictionaries, got " + describe("", v)}
	}
	var errs []error
	out := make([]System, 0, len(list))
	names := map[string]int{}
	for i, e := range list {
		p := &parser{prefix: fmt.Sprintf("external_systems[%d]", i)}
		m, ok := e.(map[string]any)
		if !ok {
			errs = append(errs, &field.Error{Path: p.prefix, Problem: "must be a dictionary, got " + describe("", e)})
			continue
		}
		s := p.system(m)
		if s.Name != "" {
			if j, dup := names[s.Name]; dup {
				p.fail("name", "%q is already the name of external_systems[%d]: names must be unique", s.Name, j)
			} else {
				names[s.Name] = i
			}
		}
		errs = append(errs, p.errs...)
		out = append(out, s)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// parser collects the problems of one entry.
type parser struct {
	prefix string
	errs   []error
}

func (p *parser) fail(key, format string, a ...any) {
	p.errs = append(p.errs, &field.Error{Path: p.prefix + "." + key, Problem: fmt.Sprintf(format, a...)})
}

func (p *parser) system(m map[string]any) System {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys) // messages in a stable order
	known := knownKeys()
	for _, k := range keys {
		if !slices.Contains(known, k) {
			p.fail(k, "unknown key; accepted keys are %s", strings.Join(known, ", "))
		}
	}
	s := System{Enabled: true, ValidateCerts: true}
	s.Name = strings.TrimSpace(p.str(m, "name"))
	switch {
	case !has(m, "name"):
		p.fail("name", "is required")
	case s.Name == "":
		p.fail("name", "must not be empty")
	case len(s.Name) > maxNameLen:
		p.fail("name", "must be at most %d characters", maxNameLen)
	}
	s.url = p.url(m)
	k := p.kind(m, &s)
	if k == nil {
		return s
	}
	allowed := append(slices.Clone(commonKeys), k.Keys...)
	slices.Sort(allowed)
	for _, key := range keys {
		if slices.Contains(known, key) && !slices.Contains(allowed, key) && m[key] != nil {
			p.fail(key, "does not apply to %s systems; their keys are %s", s.Type, strings.Join(allowed, ", "))
		}
	}
	if has(m, "enabled") {
		s.Enabled = p.boolean(m, "enabled")
	}
	if has(m, "required") {
		s.Required = p.boolean(m, "required")
	}
	s.Events = p.events(m, k)
	if !k.writesFile() {
		p.requests(m, k, &s)
	}
	k.parse(p, m, &s)
	return s
}

// has reports whether m gives key a value.
func has(m map[string]any, key string) bool { v, ok := m[key]; return ok && v != nil }

// url reads the url key; nil when absent or invalid (the problem is noted).
func (p *parser) url(m map[string]any) *url.URL {
	if !has(m, "url") {
		return nil
	}
	u, err := url.Parse(strings.TrimSpace(p.str(m, "url")))
	switch {
	case err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https"):
		p.fail("url", "must be an http:// or https:// URL with a host") // never echo: it may be a secret
	case u.Fragment != "":
		p.fail("url", "must not have a #fragment")
	default:
		return u
	}
	return nil
}

// kind reads or infers the entry's type and sets it on s; nil when it is unknown (noted).
func (p *parser) kind(m map[string]any, s *System) *kind {
	if has(m, "type") {
		t := Type(strings.ToLower(strings.TrimSpace(p.str(m, "type"))))
		k := kindOf(t)
		if k == nil {
			p.fail("type", "must be one of %s, got %s", joinTypes(), describe("type", m["type"]))
			return nil
		}
		s.Type = t
		return k
	}
	t, ok := InferType(s.Name, s.url, has(m, "path") || has(m, "directory"))
	if !ok {
		host := "no URL"
		if s.url != nil {
			host = fmt.Sprintf("the URL's host %q", s.url.Hostname())
		}
		p.fail("type", "is missing and cannot be inferred from the name %q and %s: set type to one of %s", s.Name, host, joinTypes())
		return nil
	}
	s.Type = t
	return kindOf(t)
}

// requests reads the keys of the types that make requests: url, method, timeouts and retries,
// TLS, credentials and headers.
func (p *parser) requests(m map[string]any, k *kind, s *System) {
	if s.url == nil && !has(m, "url") {
		p.fail("url", "is required for %s systems", s.Type)
	}
	s.Method = k.Methods[0]
	if has(m, "method") {
		meth := strings.ToUpper(strings.TrimSpace(p.str(m, "method")))
		if !slices.Contains(k.Methods, meth) {
			p.fail("method", "must be one of %s for %s systems, got %s", strings.Join(k.Methods, ", "), s.Type, describe("method", m["method"]))
		} else {
			s.Method = meth
		}
	}
	s.Timeout = p.seconds(m, "timeout", DefaultTimeout, MaxTimeout, false)
	s.RetryDelay = p.seconds(m, "retry_delay", DefaultRetryDelay, MaxRetryDelay, true)
	s.RetryCount = DefaultRetryCount
	if has(m, "retry_count") {
		n, ok := p.integer(m, "retry_count")
		switch {
		case !ok:
		case n < 0 || n > MaxRetryCount:
			p.fail("retry_count", "must be between 0 and %d (retries, not attempts), got %d", MaxRetryCount, n)
		default:
			s.RetryCount = int(n)
		}
	}
	if has(m, "validate_certs") {
		s.ValidateCerts = p.boolean(m, "validate_certs")
	}
	if has(m, "ca_file") {
		s.CAFile = strings.TrimSpace(p.str(m, "ca_file"))
	}
	s.authHeader = p.authHeader(m, k)
	s.headers = p.headers(m)
}

// job reads the job key (remote write, the Pushgateway): DefaultJob when absent.
func (p *parser) job(m map[string]any) string {
	if !has(m, "job") {
		return DefaultJob
	}
	job := strings.TrimSpace(p.str(m, "job"))
	if job == "" {
		p.fail("job", "must not be empty")
	}
	return job
}

func joinTypes() string {
	parts := make([]string, 0, 6)
	for _, t := range Types() {
		parts = append(parts, string(t))
	}
	return strings.Join(parts, ", ")
}

// str returns a string value (numbers and booleans are turned into strings, as Python does).
func (p *parser) str(m map[string]any, key string) string {
	v, ok := m[key]
	if !ok || v == nil {
		return ""
	}
	if s, ok := coerce.Str(v); ok {
		return s
	}
	p.fail(key, "must be a string, got %s", describe(key, v))
	return ""
}

func (p *parser) boolean(m map[string]any, key string) bool {
	if b, ok := coerce.Bool(m[key]); ok {
		return b
	}
	p.fail(key, "must be a boolean (true/false, yes/no, on/off, 1/0), got %s", describe(key, m[key]))
	return false
}

func (p *parser) number(m map[string]any, key string) (float64, bool) {
	if f, ok := coerce.Float(m[key]); ok {
		return f, true
	}
	p.fail(key, "must be a number, got %s", describe(key, m[key]))
	return 0, false
}

func (p *parser) integer(m map[string]any, key string) (int64, bool) {
	f, ok := p.number(m, key)
	if !ok {
		return 0, false
	}
	if !coerce.Whole(f) {
		p.fail(key, "must be a whole number, got %s", fmtNum(f))
		return 0, false
	}
	return int64(f), true
}

// seconds parses a duration in seconds (fractions allowed) within (0 or more, or more than 0) and
// limit; def when absent.
func (p *parser) seconds(m map[string]any, key string, def, limit time.Duration, zeroOK bool) time.Duration {
	if v, ok := m[key]; !ok || v == nil {
		return def
	}
	f, ok := p.number(m, key)
	if !ok {
		return def
	}
	d := duration.FromSeconds(f) // saturates: 1e10 is above limit, never a negative duration
	switch {
	case zeroOK && f < 0:
		p.fail(key, "must be at least 0 seconds, got %s", fmtNum(f))
	case !zeroOK && f <= 0:
		p.fail(key, "must be more than 0 seconds, got %s", fmtNum(f))
	case d > limit:
		p.fail(key, "must be at most %s seconds, got %s", fmtNum(limit.Seconds()), fmtNum(f))
	default:
		return d
	}
	return def
}

func (p *parser) stringList(m map[string]any, key string) ([]string, bool) {
	v := m[key]
	if s, ok := v.(string); ok { // a single value, as Ansible's list type accepts "a,b"
		var out []string
		for part := range strings.SplitSeq(s, ",") {
			if part = strings.TrimSpace(part); part != "" {
				out = append(out, part)
			}
		}
		return out, true
	}
	l, ok := v.([]any)
	if !ok {
		p.fail(key, "must be a list, got %s", describe(key, v))
		return nil, false
	}
	out := make([]string, 0, len(l))
	for _, e := range l {
		s, ok := e.(string)
		if !ok {
			p.fail(key, "must be a list of strings, got an element %s", describe(key, e))
			return nil, false
		}
		out = append(out, strings.TrimSpace(s))
	}
	return out, true
}

func (p *parser) events(m map[string]any, k *kind) []Event {
	t := k.Type
	if v, ok := m["events"]; !ok || v == nil {
		return slices.Clone(k.DefaultEvents)
	}
	list, ok := p.stringList(m, "events")
	if !ok {
		return slices.Clone(k.DefaultEvents)
	}
	allowed := k.Events
	var out []Event
	for _, s := range list {
		e := Event(strings.ToLower(s))
		if e == "alert" {
			e = EventAlerts
		}
		if !slices.Contains(allowed, e) {
			names := make([]string, len(allowed))
			for i, a := range allowed {
				names[i] = string(a)
			}
			p.fail("events", "must list only %s for %s systems, got %q", strings.Join(names, ", "), t, s)
			continue
		}
		if !slices.Contains(out, e) {
			out = append(out, e)
		}
	}
	if out == nil {
		out = []Event{}
	}
	return out
}

func (p *parser) labels(m map[string]any) map[string]string {
	v, ok := m["labels"]
	if !ok || v == nil {
		return nil
	}
	d, ok := v.(map[string]any)
	if !ok {
		p.fail("labels", "must be a dictionary of label names to values, got %s", describe("labels", v))
		return nil
	}
	out := make(map[string]string, len(d))
	for name, val := range d {
		switch {
		case !labelNameRE.MatchString(name) || strings.HasPrefix(name, "__"):
			p.fail("labels", "label name %q is not valid: use letters, digits and underscores, not starting with a digit or __", name)
			continue
		case slices.Contains(reservedLabels, name):
			p.fail("labels", "label name %q is set by the module; reserved names are %s", name, strings.Join(reservedLabels, ", "))
			continue
		}
		s := p.str(map[string]any{"labels." + name: val}, "labels."+name)
		out[name] = s
	}
	return out
}

// authHeader parses auth_header. "Name: value" sets that header; "DD-API-KEY value" (a first
// word with a dash, which no auth scheme has) sets the header named by the first word; anything
// else ("Bearer token", "Basic ...") is the Authorization header. A bare Datadog key is sent as
// DD-API-KEY.
func (p *parser) authHeader(m map[string]any, k *kind) header {
	v, ok := m["auth_header"]
	if !ok || v == nil {
		return header{}
	}
	s, ok := v.(string)
	if !ok {
		p.fail("auth_header", "must be a string")
		return header{}
	}
	s = strings.TrimSpace(s)
	if s == "" {
		p.fail("auth_header", "must not be empty (leave it out for no authentication)")
		return header{}
	}
	if hasControl(s) {
		p.fail("auth_header", "must not contain control characters such as newlines")
		return header{}
	}
	if i := strings.IndexByte(s, ':'); i > 0 && isToken(strings.TrimSpace(s[:i])) && !strings.ContainsAny(strings.TrimSpace(s[:i]), " \t") {
		name, val := strings.TrimSpace(s[:i]), strings.TrimSpace(s[i+1:])
		if val == "" {
			p.fail("auth_header", "has a header name but no value")
			return header{}
		}
		return header{name: name, value: val}
	}
	if word, rest, ok := strings.Cut(s, " "); ok && strings.Contains(word, "-") && isToken(word) {
		return header{name: word, value: strings.TrimSpace(rest)}
	}
	if k.BareKeyHeader != "" && !strings.Contains(s, " ") {
		return header{name: k.BareKeyHeader, value: s}
	}
	return header{name: "Authorization", value: s}
}

func (p *parser) headers(m map[string]any) map[string]string {
	v, ok := m["headers"]
	if !ok || v == nil {
		return nil
	}
	d, ok := v.(map[string]any)
	if !ok {
		p.fail("headers", "must be a dictionary of header names to values")
		return nil
	}
	out := make(map[string]string, len(d))
	for name, val := range d {
		s, ok := val.(string)
		switch {
		case !isToken(name):
			p.fail("headers", "header name %q is not a valid HTTP header name", name)
		case slices.ContainsFunc(forbiddenHeaders, func(f string) bool { return strings.EqualFold(f, name) }):
			p.fail("headers", "header %s is set by the module and cannot be overridden", name)
		case !ok:
			p.fail("headers", "the value of header %s must be a string", name)
		case hasControl(s):
			p.fail("headers", "the value of header %s must not contain control characters", name)
		default:
			out[name] = s
		}
	}
	return out
}

// isToken reports whether s is an HTTP token (RFC 9110), as header names are.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0 {
			continue
		}
		return false
	}
	return true
}

func hasControl(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 && r != '\t' || r == 0x7f })
}

// describe names a value for a message without echoing secrets or long text.
func describe(key string, v any) string {
	if secretKeys[key] {
		return "a value that is not shown"
	}
	return coerce.Describe(v)
}
