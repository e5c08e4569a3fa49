package release

import (
	"os"
	"regexp"
	"strconv"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"resilience.ops/internal/guard"
	"resilience.ops/internal/slo"
)

const qosGuardRoleDir = "../../roles/qos_guard"

// releaseAliases maps each release variable of the qos_guard role to the reference's unprefixed
// name it falls back to (deprecated), and to the module parameter it is passed as.
var releaseAliases = map[string]struct{ alias, param string }{
	"qos_guard_prometheus_url":         {"prometheus_url", "prom_url"},
	"qos_guard_loki_url":               {"loki_url", "loki_url"},
	"qos_guard_job":                    {"threader_job", "job"},
	"qos_guard_max_5xx_ratio":          {"max_5xx_ratio", "max_5xx_ratio"},
	"qos_guard_min_health_ratio":       {"min_health_ratio", "min_health_ratio"},
	"qos_guard_max_error_logs_per_min": {"max_error_logs_per_min", "max_error_logs_per_min"},
	"qos_guard_stability_window":       {"stability_window", "window"},
}

// aliasDefault is `{{ <alias> | default(<value>) }}`, the form of each release default.
var aliasDefault = regexp.MustCompile(`^\{\{ ([a-z0-9_]+) \| default\('?([^')]*)'?\) \}\}$`)

// The qos_guard role's release defaults are the release module's (a user who sets nothing gets
// what the module documents), each falls back to the reference's name of the variable, every
// public variable is prefixed, and the guard path is the guard module's.
func TestQosGuardRoleDefaultsAreTheModules(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(qosGuardRoleDir + "/defaults/main.yml")
	if err != nil {
		t.Fatal(err)
	}
	var defaults map[string]any
	if err := yaml.Unmarshal(b, &defaults); err != nil {
		t.Fatal(err)
	}
	for name := range defaults {
		if !regexp.MustCompile(`^qos_guard_[a-z0-9_]+$`).MatchString(name) {
			t.Errorf("role variable %s is not prefixed with qos_guard_", name)
		}
	}
	if got := defaults["qos_guard_path"]; got != guard.DefaultPath {
		t.Errorf("qos_guard_path defaults to %v, the module to %s", got, guard.DefaultPath)
	}
	params := specDefaultStrings()
	for name, a := range releaseAliases {
		raw, ok := defaults[name].(string)
		if !ok {
			t.Errorf("%s: no default, or not a template: %v", name, defaults[name])
			continue
		}
		m := aliasDefault.FindStringSubmatch(raw)
		if m == nil {
			t.Errorf("%s: default %q is not {{ <alias> | default(<value>) }}", name, raw)
			continue
		}
		if m[1] != a.alias {
			t.Errorf("%s falls back to %s, want the reference's %s", name, m[1], a.alias)
		}
		if m[2] != params[a.param] {
			t.Errorf("%s defaults to %q, the module's %s to %q", name, m[2], a.param, params[a.param])
		}
	}
	// The lock lasts long enough for an early release with the defaults: the stability window and
	// one evaluation end before the guard expires.
	minutes, ok := defaults["qos_guard_window"].(int)
	window, err := slo.ParseWindow(params["window"])
	if !ok || err != nil {
		t.Fatalf("qos_guard_window %v, window %v", defaults["qos_guard_window"], err)
	}
	if lock := time.Duration(minutes) * time.Minute; window+slo.DefaultTimeout >= lock {
		t.Errorf("qos_guard_window %d: the %s window plus %s of evaluation do not end before the guard expires",
			minutes, window, slo.DefaultTimeout)
	}
}

// specDefaultStrings returns the module's defaults as the role writes them.
func specDefaultStrings() map[string]string {
	out := map[string]string{}
	for _, p := range Spec {
		switch v := p.Default.(type) {
		case string:
			out[p.Name] = v
		case float64:
			out[p.Name] = strconv.FormatFloat(v, 'g', -1, 64)
		}
	}
	return out
}
