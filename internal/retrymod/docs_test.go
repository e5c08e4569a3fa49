package retrymod

import (
	"os"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"

	"resilience.ops/internal/export"
	"resilience.ops/internal/manager"
	"resilience.ops/internal/modtest"
	"resilience.ops/internal/module"
	"resilience.ops/internal/resilience"
	"resilience.ops/internal/retry"
)

// returnTypes are the result structs of the actions; RETURN documents the union of their keys.
var returnTypes = []any{manager.RunResult{}, manager.StartResult{}, manager.RecordResult{}, manager.FinalizeResult{}, manager.RetentionResult{}, manager.WaitResult{},
	manager.AdmitResult{}, manager.RefusedResult{}, manager.SendResult{}, manager.IngestAllResult{}}

// returnUnion builds a struct whose JSON fields are the union of the keys of every action's result,
// for modtest.CheckDocs.
func returnUnion(t *testing.T) any {
	t.Helper()
	seen := map[string]bool{}
	for _, r := range returnTypes {
		for _, k := range modtest.JSONFields(reflect.TypeOf(r)) {
			seen[k] = true
		}
	}
	keys := make([]string, 0, len(seen))
	for k := range seen {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	fields := make([]reflect.StructField, 0, len(keys))
	for i, k := range keys {
		fields = append(fields, reflect.StructField{Name: "F" + string(rune('A'+i/26)) + string(rune('A'+i%26)),
			Type: reflect.TypeOf(""), Tag: reflect.StructTag(`json:"` + k + `"`)})
	}
	return reflect.New(reflect.StructOf(fields)).Elem().Interface()
}

func TestDocsMatchSpec(t *testing.T) {
	modtest.CheckDocs(t, "../../plugins/modules/retry_manager.py", Spec, returnUnion(t))
}

// The suboptions documented for circuit_breaker, bulkhead, retry_budget and adaptive are the
// module's: names, types and defaults (the constants of package resilience).
func TestDocsGuardrailSuboptions(t *testing.T) {
	t.Parallel()
	src, err := os.ReadFile("../../plugins/modules/retry_manager.py")
	if err != nil {
		t.Fatal(err)
	}
	text, err := modtest.DocBlock(string(src), "DOCUMENTATION")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Options map[string]struct {
			Suboptions map[string]struct {
				Type    string `yaml:"type"`
				Default any    `yaml:"default"`
			} `yaml:"suboptions"`
		} `yaml:"options"`
	}
	if err := yaml.Unmarshal([]byte(text), &doc); err != nil {
		t.Fatal(err)
	}
	for name, spec := range guardSpecs(true) {
		type opt struct {
			Type    string
			Default any
		}
		want, got := map[string]opt{}, map[string]opt{}
		for _, p := range spec {
			want[p.Name] = opt{p.Type.String(), plain(p.Default)}
		}
		for k, o := range doc.Options[name].Suboptions {
			got[k] = opt{o.Type, plain(o.Default)}
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s suboptions (-go +docs):\n%s", name, diff)
		}
	}
}

// The numbers inside the dictionary parameters have maxima too, stated where they are documented:
// in the suboption's description for the guardrails, in the parameter's description for the others.
func TestDocsStateNestedMaxima(t *testing.T) {
	t.Parallel()
	src, err := os.ReadFile("../../plugins/modules/retry_manager.py")
	if err != nil {
		t.Fatal(err)
	}
	text, err := modtest.DocBlock(string(src), "DOCUMENTATION")
	if err != nil {
		t.Fatal(err)
	}
	type option struct {
		Description any               `yaml:"description"`
		Suboptions  map[string]option `yaml:"suboptions"`
	}
	var doc struct {
		Options map[string]option `yaml:"options"`
	}
	if err := yaml.Unmarshal([]byte(text), &doc); err != nil {
		t.Fatal(err)
	}
	join := func(d any) string {
		if l, ok := d.([]any); ok {
			var parts []string
			for _, e := range l {
				parts = append(parts, e.(string))
			}
			return strings.Join(parts, " ")
		}
		s, _ := d.(string)
		return s
	}
	// The guardrails' ranges are checked by resilience.Settings.Validate (with its own messages);
	// their maxima are its constants. Only the seconds have a Limit in the spec as well.
	validated := map[string]float64{
		"circuit_breaker.failure_threshold": resilience.MaxFailureThreshold, "circuit_breaker.failure_rate_threshold": 1,
		"circuit_breaker.minimum_calls": resilience.MaxMinimumCalls, "circuit_breaker.half_open_max_calls": resilience.MaxHalfOpenMaxCalls,
		"bulkhead.max_concurrent": resilience.MaxMaxConcurrent, "retry_budget.ratio": 1, "retry_budget.min_retries": resilience.MaxMinRetries,
		"adaptive.minimum_calls": resilience.MaxMinimumCalls, "adaptive.target_success_rate": 1,
		"adaptive.max_delay_factor": resilience.MaxMaxDelayFactor, "adaptive.min_attempts": retry.MaxMaxAttempts,
	}
	for name, spec := range guardSpecs(true) {
		for _, p := range spec {
			if max, ok := validated[name+"."+p.Name]; ok {
				if p.Limit != nil || p.Max != nil {
					t.Errorf("%s.%s: a range in the spec would replace the messages of resilience.Settings.Validate", name, p.Name)
				}
				p.Max = &max
			}
			modtest.CheckLimits(t, name+"."+p.Name, join(doc.Options[name].Suboptions[p.Name].Description), module.Spec{p})
		}
	}
	for name, spec := range map[string]module.Spec{"outcome": outcomeSpec, "monitoring": alertsSpec,
		"retention": retentionSpec, "idempotency_check": checkSpec, "error_rules": ruleSpec} {
		modtest.CheckLimits(t, name, join(doc.Options[name].Description), spec)
	}
}

// The documentation of external_systems names every type of external system that package export
// registers: a new type is its own file in package export plus these docs.
func TestDocsNameEverySystemType(t *testing.T) {
	t.Parallel()
	desc := modtest.OptionDescription(t, "../../plugins/modules/retry_manager.py", "external_systems")
	for _, typ := range export.Types() {
		if !strings.Contains(desc, string(typ)) {
			t.Errorf("the documentation of external_systems does not name type %s", typ)
		}
	}
}
