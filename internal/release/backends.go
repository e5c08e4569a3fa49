package release

import (
	"fmt"
	"strings"

	"resilience.ops/internal/module"
	"resilience.ops/internal/slo"
)

// backends are the module parameters of the SLO backends of package slo: each backend's endpoint
// is set by the parameters <prefix>url, <prefix>bearer_token, ... (and <prefix>tenant when it
// has tenants), and by the command line's --<flag>url and $<env>URL, $<env>BEARER_TOKEN (and
// $<env>TENANT). A new backend of package slo adds its row here, and documents its parameters.
var backends = []struct {
	source      slo.Source
	prefix      string // of the parameters
	env         string // of the environment variables
	flag        string // of the flags
	description string // of the server, in the flag's help
}{
	{slo.SourcePrometheus, "prom_", "PROMETHEUS_", "prom-", "Prometheus"},
	{slo.SourceLoki, "loki_", "LOKI_", "loki-", "Loki"},
}

// endpointSpec declares the endpoint parameters of every backend. Tokens, passwords and header
// values are Secret: masked in invocation.module_args and scrubbed from every returned string.
func endpointSpec() module.Spec {
	var spec module.Spec
	for _, b := range backends {
		spec = append(spec,
			module.Param{Name: b.prefix + "url", Type: module.TypeStr, Default: slo.DefaultConfig().Endpoints[b.source].URL},
			module.Param{Name: b.prefix + "bearer_token", Type: module.TypeStr, Secret: true},
			module.Param{Name: b.prefix + "username", Type: module.TypeStr},
			module.Param{Name: b.prefix + "password", Type: module.TypeStr, Secret: true},
			module.Param{Name: b.prefix + "headers", Type: module.TypeDict, Secret: true},
			module.Param{Name: b.prefix + "ca_file", Type: module.TypePath},
			module.Param{Name: b.prefix + "client_cert", Type: module.TypePath},
			module.Param{Name: b.prefix + "client_key", Type: module.TypePath},
			module.Param{Name: b.prefix + "validate_certs", Type: module.TypeBool, Default: true})
		if slo.HasTenants(b.source) {
			spec = append(spec, module.Param{Name: b.prefix + "tenant", Type: module.TypeStr})
		}
	}
	return spec
}

// endpoints decodes the endpoint of every backend.
func endpoints(p module.Params) map[slo.Source]*slo.Endpoint {
	out := map[slo.Source]*slo.Endpoint{}
	for _, b := range backends {
		e := &slo.Endpoint{
			URL:                strings.TrimSpace(p.Str(b.prefix + "url")),
			BearerToken:        p.Str(b.prefix + "bearer_token"),
			Username:           p.Str(b.prefix + "username"),
			Password:           p.Str(b.prefix + "password"),
			CAFile:             p.Str(b.prefix + "ca_file"),
			CertFile:           p.Str(b.prefix + "client_cert"),
			KeyFile:            p.Str(b.prefix + "client_key"),
			InsecureSkipVerify: !p.Bool(b.prefix + "validate_certs"),
			TenantID:           p.Str(b.prefix + "tenant"),
		}
		if h := p.Dict(b.prefix + "headers"); len(h) > 0 {
			e.Headers = make(map[string]string, len(h))
			for k, v := range h {
				e.Headers[k] = fmt.Sprint(v)
			}
		}
		out[b.source] = e
	}
	return out
}

// endpointParam maps a field of an endpoint's configuration ("prometheus.url", "loki.tenant_id")
// to the module parameter that sets it; ok false for a field of no endpoint.
func endpointParam(field string) (string, bool) {
	rename := map[string]string{"cert_file": "client_cert", "key_file": "client_key", "tenant_id": "tenant"}
	for _, b := range backends {
		if rest, ok := strings.CutPrefix(field, string(b.source)+"."); ok {
			if r, ok := rename[rest]; ok {
				rest = r
			}
			return b.prefix + rest, true
		}
	}
	return "", false
}

// endpointEnv maps the environment variables of the command line to the parameters of each
// backend: the URL, the bearer token and the tenant.
func endpointEnv() []struct{ env, param string } {
	var out []struct{ env, param string }
	for _, b := range backends {
		out = append(out, struct{ env, param string }{b.env + "URL", b.prefix + "url"},
			struct{ env, param string }{b.env + "BEARER_TOKEN", b.prefix + "bearer_token"})
		if slo.HasTenants(b.source) {
			out = append(out, struct{ env, param string }{b.env + "TENANT", b.prefix + "tenant"})
		}
	}
	return out
}
