package retrymod

import (
	"reflect"
	"sort"
	"testing"

	"resilience.ops/internal/modtest"
)

// returnTypes are the result structs of the actions; RETURN documents the union of their keys.
var returnTypes = []any{Return{}, startReturn{}, recordReturn{}, finalizeReturn{}, retentionReturn{}, waitReturn{}}

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
