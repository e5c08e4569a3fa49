package slo

import (
	"slices"
)

// backend is one kind of server the checks query: its default URL and how its HTTP API differs
// from Prometheus's v1 API, which every backend answers in. Each backend is one file that
// registers itself in an init function (prometheus.go, loki.go); nothing else in the package
// treats one source differently. A new backend is such a file, plus its module parameters
// (package release) and their documentation.
type backend struct {
	Source Source
	// Order places the source in messages ("use one of prometheus, loki") and in validation.
	Order      int
	DefaultURL string
	// APIPath is added to the base URL: queries go to <url><APIPath>/api/v1/query.
	APIPath string
	// Tenants says the server has tenants, chosen by TenantHeader (Endpoint.TenantID).
	Tenants bool
	// ServerTimeout sends the check's timeout with each query, so that the server gives up too.
	ServerTimeout bool
	// checkAnswer refuses a successful answer that holds no number (its error is a config_error
	// of the check); nil accepts every answer.
	checkAnswer func(body []byte) error
}

// backends are the registered backends, in their Order.
var backends []*backend

func register(b backend) {
	backends = append(backends, &b)
	slices.SortFunc(backends, func(x, y *backend) int { return x.Order - y.Order })
}

// backendOf is the backend of src, or nil.
func backendOf(src Source) *backend {
	for _, b := range backends {
		if b.Source == src {
			return b
		}
	}
	return nil
}

// Sources returns every source, in the order of messages.
func Sources() []Source {
	out := make([]Source, len(backends))
	for i, b := range backends {
		out[i] = b.Source
	}
	return out
}

// HasTenants reports whether the server of src has tenants (Endpoint.TenantID).
func HasTenants(src Source) bool {
	b := backendOf(src)
	return b != nil && b.Tenants
}
