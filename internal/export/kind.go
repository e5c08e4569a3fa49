package export

import (
	"net/url"
	"slices"
	"strings"

	"resilience.ops/internal/clock"
)

// kind is one type of external system: what its entries take, what it receives, how an entry
// without a type is recognised as one of it, and how a snapshot is sent to it. Each type is one
// file that registers its kind in an init function (register); nothing else in the package names
// a type. Adding a type is that file, plus its documentation in the module's external_systems.
type kind struct {
	Type Type
	// Order places the type in messages and documentation ("must be one of ...").
	Order int
	// Events are what a system of the type may receive; DefaultEvents what it receives when its
	// entry has no events key.
	Events, DefaultEvents []Event
	// Methods are its HTTP methods, the default first. A type without methods writes a file: it
	// has no URL, and one attempt (a file that cannot be written now will not be a second later).
	Methods []string
	// Keys are the keys of its entries besides name, type, enabled, required and events.
	Keys []string
	// SecretURL says the whole URL is a credential (its path), never shown nor echoed.
	SecretURL bool
	// BareKeyHeader names the header a bare auth_header value (a key without a scheme) goes in;
	// "" sends it as Authorization.
	BareKeyHeader string
	// InferRank orders the inference rules, lowest first; 0 means the type is never inferred.
	InferRank int
	// Infer reports whether an entry without a type is of this type.
	Infer func(h inferHint) bool
	// parse reads the keys only this type has into s, after the common ones.
	parse func(p *parser, m map[string]any, s *System)
	// plan prepares the payload of snap for event e; c gives the time of a payload that says when
	// it was sent. h is nil for a type without Methods.
	plan func(sys System, snap Snapshot, e Event, c clock.Clock, h *httpSender) *plan
}

// inferHint is what an entry without a type says about it: its name and its URL's host, port
// and path (lower case, the path without a trailing slash), and whether it has a path or a
// directory.
type inferHint struct {
	name, host, port, path string
	hasURL, hasPath        bool
}

// The events a type may receive, or receives by default: dashboards get metrics, chat gets
// alerts, a generic webhook both.
var (
	metricsOnly      = []Event{EventMetrics}
	alertsOnly       = []Event{EventAlerts}
	metricsAndAlerts = []Event{EventMetrics, EventAlerts}
)

// kinds are the registered types, in their Order.
var kinds []*kind

// register adds a type; the types' init functions call it.
func register(k kind) {
	kinds = append(kinds, &k)
	slices.SortFunc(kinds, func(a, b *kind) int { return a.Order - b.Order })
}

// kindOf is the kind of type t, or nil.
func kindOf(t Type) *kind {
	for _, k := range kinds {
		if k.Type == t {
			return k
		}
	}
	return nil
}

// writesFile reports whether systems of the type write a file rather than make requests.
func (k *kind) writesFile() bool { return len(k.Methods) == 0 }

// Types returns every type, in the order of messages and documentation.
func Types() []Type {
	out := make([]Type, len(kinds))
	for i, k := range kinds {
		out[i] = k.Type
	}
	return out
}

// InferType infers a system's type from its name, URL and whether it has a path or directory,
// for entries without a type: the first type, by InferRank, whose rule matches. Anything else (a
// webhook above all) needs an explicit type.
func InferType(name string, u *url.URL, hasPath bool) (Type, bool) {
	h := inferHint{name: strings.ToLower(name), hasURL: u != nil, hasPath: hasPath}
	if u != nil {
		h.host, h.port, h.path = strings.ToLower(u.Hostname()), u.Port(), strings.TrimRight(u.Path, "/")
	}
	ranked := slices.Clone(kinds)
	slices.SortFunc(ranked, func(a, b *kind) int { return a.InferRank - b.InferRank })
	for _, k := range ranked {
		if k.InferRank > 0 && k.Infer(h) {
			return k.Type, true
		}
	}
	return "", false
}

// knownKeys are the keys an entry of any type may have, sorted for messages.
func knownKeys() []string {
	keys := slices.Clone(commonKeys)
	for _, k := range kinds {
		for _, key := range k.Keys {
			if !slices.Contains(keys, key) {
				keys = append(keys, key)
			}
		}
	}
	slices.Sort(keys)
	return keys
}

// httpKeys are the keys of every type that makes requests.
var httpKeys = []string{"url", "method", "auth_header", "headers", "timeout", "retry_count", "retry_delay"}

// tlsKeys are the keys of the TLS settings of the types that make requests.
var tlsKeys = []string{"validate_certs", "ca_file"}

// keys joins lists of keys.
func keys(lists ...[]string) []string {
	var out []string
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}
