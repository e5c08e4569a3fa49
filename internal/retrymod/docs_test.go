package retrymod

import (
	"os"
	"reflect"
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"

	"resilience.ops/internal/modtest"
)

// returnTypes are the result structs of the actions; RETURN documents the union of their keys.
var returnTypes = []any{Return{}, startReturn{}, recordReturn{}, finalizeReturn{}, retentionReturn{}, waitReturn{},
	admitReturn{}, refusedReturn{}, sendReturn{}}

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
