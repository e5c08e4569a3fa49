package retrymod

import (
	"os"
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"

	"resilience.ops/internal/module"
)

const roleDir = "../../roles/retry_manager"

func readYAML(t *testing.T, path string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := yaml.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return m
}

// plain makes YAML and Go values comparable: every number a float64, lists and maps generic.
func plain(v any) any {
	switch t := v.(type) {
	case int:
		return float64(t)
	case int64:
		return float64(t)
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = plain(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[k] = plain(e)
		}
		return out
	}
	return v
}

// specDefaults returns the defaults of spec as a map.
func specDefaults(spec module.Spec) map[string]any {
	out := map[string]any{}
	for _, p := range spec {
		if p.Default != nil {
			out[p.Name] = plain(p.Default)
		}
	}
	return out
}

func specParam(spec module.Spec, name string) (module.Param, bool) {
	for _, p := range spec {
		if p.Name == name {
			return p, true
		}
	}
	return module.Param{}, false
}

// The role's retry_manager defaults are the module's: the role passes the dictionary as the
// module's settings, and keys a user leaves out take the module's defaults, which must be the
// same values.
func TestRoleDefaultsAreTheModules(t *testing.T) {
	t.Parallel()
	defaults := readYAML(t, roleDir+"/defaults/main.yml")
	rm, ok := defaults["retry_manager"].(map[string]any)
	if !ok {
		t.Fatal("defaults/main.yml has no retry_manager dictionary")
	}
	// Every key of the role's dictionary is a settings key of the module, and the reverse.
	var roleKeys, moduleKeys []string
	for k := range rm {
		roleKeys = append(roleKeys, k)
	}
	for _, p := range settingsSpec() {
		moduleKeys = append(moduleKeys, p.Name)
	}
	sort.Strings(roleKeys)
	sort.Strings(moduleKeys)
	if diff := cmp.Diff(moduleKeys, roleKeys); diff != "" {
		t.Errorf("retry_manager keys (-module settings +role defaults):\n%s", diff)
	}
	for k, v := range rm {
		var want any
		switch k {
		case "monitoring":
			m := specDefaults(monitoringSpec)
			m["alerts"] = specDefaults(alertsSpec)
			want = m
		case "retention":
			want = specDefaults(retentionSpec)
		case "operation_configs", "integration":
			want = map[string]any{}
		case "error_rules", "external_systems":
			want = []any{}
		case "external_integration":
			want = false
		case "circuit_key":
			want = "" // the operation's name
		case "etcd_endpoints":
			want = []any{} // not set by the role: the module's parameter applies
		case "store", "etcd_prefix", "etcd_username", "etcd_password", "etcd_ca_file", "etcd_cert_file", "etcd_key_file", "etcd_timeout":
			want = "" // not set by the role: the module's parameter applies
		case "circuit_breaker", "bulkhead", "retry_budget", "adaptive":
			want = specDefaults(guardSpecs(true)[k])
		default:
			p, ok := specParam(Spec, k)
			if !ok || p.Default == nil {
				t.Errorf("retry_manager.%s: the module has no default for it", k)
				continue
			}
			want = plain(p.Default)
		}
		if diff := cmp.Diff(want, plain(v)); diff != "" {
			t.Errorf("retry_manager.%s (-module +role):\n%s", k, diff)
		}
	}
}

// optionDefaults returns the defaults declared by argument_specs options, recursively.
func optionDefaults(options map[string]any) map[string]any {
	out := map[string]any{}
	for name, raw := range options {
		o, _ := raw.(map[string]any)
		if d, ok := o["default"]; ok {
			out[name] = plain(d)
		} else if sub, ok := o["options"].(map[string]any); ok {
			if nested := optionDefaults(sub); len(nested) > 0 {
				out[name] = nested
			}
		}
	}
	return out
}

// meta/argument_specs.yml mirrors defaults/main.yml one to one, and so does the retry_manager
// dictionary's options.
func TestRoleArgumentSpecsMirrorDefaults(t *testing.T) {
	t.Parallel()
	defaults := readYAML(t, roleDir+"/defaults/main.yml")
	specs := readYAML(t, roleDir+"/meta/argument_specs.yml")
	mainSpec := specs["argument_specs"].(map[string]any)["main"].(map[string]any)
	options := mainSpec["options"].(map[string]any)

	// The top-level defaults, retry_manager's as a whole (internal/modtest checks these too).
	if diff := cmp.Diff(plain(map[string]any(defaults)), optionDefaults(options)); diff != "" {
		t.Errorf("argument_specs defaults (-defaults/main.yml +argument_specs):\n%s", diff)
	}
	// And retry_manager's options one by one, nested ones included.
	rmOpts := options["retry_manager"].(map[string]any)["options"].(map[string]any)
	if diff := cmp.Diff(plain(defaults["retry_manager"]), optionDefaults(rmOpts)); diff != "" {
		t.Errorf("retry_manager options (-defaults/main.yml +argument_specs):\n%s", diff)
	}
}
