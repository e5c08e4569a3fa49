// Package storeconf is the choice of the store that keeps cross-run state, shared by the three
// modules (the QoS guard of qos_guard and qos_guard_release, the guardrails of retry_manager) and by
// the guard's command-line tools: the module parameters, the command-line flags and environment
// variables, and the store they open.
//
// store: file (the default) keeps the state in local files, nothing to set up. store: etcd keeps
// it in an etcd v3 cluster that a whole fleet shares (AAP execution nodes, CI runners), reached
// through etcd's JSON gateway (see internal/etcdstore).
package storeconf

import (
	"errors"
	"flag"
	"strings"
	"time"

	"resilience.ops/internal/duration"
	"resilience.ops/internal/etcdstore"
	"resilience.ops/internal/field"
	"resilience.ops/internal/module"
	"resilience.ops/internal/state"
)

// The stores.
const (
	File = "file"
	Etcd = "etcd"
)

// DefaultTimeout is the default etcd_timeout, as text.
var DefaultTimeout = etcdstore.DefaultTimeout.String()

// Spec declares the store parameters that a module appends to its own. etcd_password is Secret:
// masked in invocation.module_args and scrubbed from every returned string.
var Spec = module.Spec{
	{Name: "store", Type: module.TypeStr, Default: File, Choices: []string{File, Etcd}},
	{Name: "etcd_endpoints", Type: module.TypeList, Elements: module.TypeStr},
	{Name: "etcd_prefix", Type: module.TypeStr, Default: etcdstore.DefaultPrefix},
	{Name: "etcd_username", Type: module.TypeStr},
	{Name: "etcd_password", Type: module.TypeStr, Secret: true},
	{Name: "etcd_ca_file", Type: module.TypePath},
	{Name: "etcd_cert_file", Type: module.TypePath},
	{Name: "etcd_key_file", Type: module.TypePath},
	{Name: "etcd_timeout", Type: module.TypeStr, Default: DefaultTimeout},
}

// Env maps the environment variables of the command-line tools to the parameters; flags win over
// them. The password has no flag (a command line is visible to every user of the host).
var Env = []struct{ Env, Param string }{
	{"QOS_GUARD_STORE", "store"},
	{"QOS_GUARD_ETCD_ENDPOINTS", "etcd_endpoints"}, // comma-separated
	{"QOS_GUARD_ETCD_PREFIX", "etcd_prefix"},
	{"QOS_GUARD_ETCD_USERNAME", "etcd_username"},
	{"QOS_GUARD_ETCD_PASSWORD", "etcd_password"},
	{"QOS_GUARD_ETCD_CA_FILE", "etcd_ca_file"},
	{"QOS_GUARD_ETCD_CERT_FILE", "etcd_cert_file"},
	{"QOS_GUARD_ETCD_KEY_FILE", "etcd_key_file"},
	{"QOS_GUARD_ETCD_TIMEOUT", "etcd_timeout"},
}

// Flags registers the store flags on fs (--store, --etcd-endpoints, ...). After fs.Parse, the
// returned function copies the flags that were given into raw, and their names into source.
func Flags(fs *flag.FlagSet) func(raw map[string]any, source map[string]string) {
	vals := map[string]*string{}
	for _, e := range Env {
		if e.Param == "etcd_password" {
			continue
		}
		name := strings.ReplaceAll(e.Param, "_", "-")
		vals[name] = fs.String(name, "", flagHelp(e.Param)+" ($"+e.Env+")")
	}
	return func(raw map[string]any, source map[string]string) {
		fs.Visit(func(f *flag.Flag) {
			if v, ok := vals[f.Name]; ok {
				param := strings.ReplaceAll(f.Name, "-", "_")
				raw[param], source[param] = *v, "--"+f.Name
			}
		})
	}
}

func flagHelp(param string) string {
	switch param {
	case "store":
		return "where the guard is kept: file (default) or etcd"
	case "etcd_endpoints":
		return "etcd members, comma-separated (http://10.0.0.1:2379,...)"
	case "etcd_prefix":
		return "etcd key prefix (default " + etcdstore.DefaultPrefix + ")"
	case "etcd_username":
		return "etcd user; the password comes from $QOS_GUARD_ETCD_PASSWORD"
	case "etcd_timeout":
		return "bound on every etcd operation (default " + DefaultTimeout + ")"
	}
	return strings.ReplaceAll(strings.TrimPrefix(param, "etcd_"), "_", " ") + " for etcd's TLS"
}

// FromEnv adds the store parameters set in the environment to raw (and their sources).
func FromEnv(getenv func(string) string, raw map[string]any, source map[string]string) {
	for _, e := range Env {
		if v := strings.TrimSpace(getenv(e.Env)); v != "" {
			raw[e.Param], source[e.Param] = v, e.Env
		}
	}
}

// Open returns the store that p chooses: state.FileStore{} for file, an etcdstore.Store for etcd.
// Errors are *field.Error values naming the parameter. Opening etcd does not connect.
func Open(p module.Params) (state.Store, error) {
	endpoints := p.Strings("etcd_endpoints")
	if p.Str("store") != Etcd {
		for _, name := range []string{"etcd_endpoints", "etcd_username", "etcd_password", "etcd_ca_file", "etcd_cert_file", "etcd_key_file"} {
			if p.Has(name) && (p.Str(name) != "" || len(p.List(name)) > 0) {
				return nil, module.ParamErr(name, "is given but store is file: set store to etcd to keep the state in etcd")
			}
		}
		return state.FileStore{}, nil
	}
	if len(endpoints) == 0 {
		return nil, module.ParamErr("etcd_endpoints", "is required with store etcd (for example [http://10.0.0.1:2379, http://10.0.0.2:2379])")
	}
	timeout, err := parseDuration(p.Str("etcd_timeout"))
	if err != nil {
		return nil, module.ParamErr("etcd_timeout", "%s", err)
	}
	s, err := etcdstore.New(etcdstore.Config{
		Endpoints: endpoints,
		Prefix:    strings.TrimSpace(p.Str("etcd_prefix")),
		Username:  p.Str("etcd_username"),
		Password:  p.Str("etcd_password"),
		CAFile:    p.Str("etcd_ca_file"),
		CertFile:  p.Str("etcd_cert_file"),
		KeyFile:   p.Str("etcd_key_file"),
		Timeout:   timeout,
	})
	var fe *field.Error
	if errors.As(err, &fe) {
		return nil, fe.In(field.Parameter)
	}
	if err != nil {
		return nil, module.ParamErr("etcd_endpoints", "%s", err)
	}
	return s, nil
}

// parseDuration reads etcd_timeout: seconds ("5", "0.5") or a duration with a unit ("5s",
// "500ms").
func parseDuration(s string) (time.Duration, error) {
	return duration.Parse(s, etcdstore.MaxTimeout, "seconds (5) or a number and a unit (5s, 500ms)")
}
