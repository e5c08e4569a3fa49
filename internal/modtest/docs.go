// Package modtest holds test helpers shared by the modules' tests. It is imported only from
// _test.go files.
package modtest

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"

	"resilience.ops/internal/module"
)

// docOption is one entry of DOCUMENTATION.options.
type docOption struct {
	Type     string   `yaml:"type"`
	Elements string   `yaml:"elements"`
	Required bool     `yaml:"required"`
	Default  any      `yaml:"default"`
	Choices  []string `yaml:"choices"`
	Aliases  []string `yaml:"aliases"`
	NoLog    bool     `yaml:"no_log"`
	// Description is not compared with the spec; CheckLimits reads it.
	Description any `yaml:"description"`
}

// descriptionText joins a description (a string or a list of strings) into one text.
func descriptionText(d any) string {
	switch t := d.(type) {
	case string:
		return t
	case []any:
		parts := make([]string, 0, len(t))
		for _, e := range t {
			parts = append(parts, fmt.Sprint(e))
		}
		return strings.Join(parts, " ")
	}
	return ""
}

// isNumber reports whether p takes numbers (or a list of them).
func isNumber(p module.Param) bool {
	t := p.Type
	if t == module.TypeList {
		t = p.Elements
	}
	return t == module.TypeInt || t == module.TypeFloat
}

// CheckLimits fails t unless every numeric parameter of spec has a maximum (Param.Max or
// Param.Limit) and text, the documentation that describes the parameters (an option's
// description, or the description of the dictionary that holds them), states its limits as
// numbers: the maximum, and the minimum when there is one ("1 to 10", "0 to 86400"). where names
// the place in messages. So every duration and number has documented limits.
func CheckLimits(t *testing.T, where, text string, spec module.Spec) {
	t.Helper()
	for _, p := range spec {
		if !isNumber(p) {
			continue
		}
		max := p.Max
		if max == nil {
			max = p.Limit
		}
		if max == nil {
			t.Errorf("%s: %s is a number without a maximum: give it Max (or Limit) in the spec and document it", where, p.Name)
			continue
		}
		for _, limit := range []struct {
			name  string
			value *float64
		}{{"minimum", p.Min}, {"maximum", max}} {
			if limit.value == nil {
				continue
			}
			num := strconv.FormatFloat(*limit.value, 'f', -1, 64)
			if !regexp.MustCompile(`(^|[^0-9.])` + regexp.QuoteMeta(num) + `($|[^0-9])`).MatchString(text) {
				t.Errorf("%s: the documentation of %s does not state its %s %s", where, p.Name, limit.name, num)
			}
		}
	}
}

// DocBlock returns the YAML text of `NAME = r"""..."""` in a doc-only module file or a doc
// fragment (where the block is indented in its class; the YAML is not).
func DocBlock(src, name string) (string, error) {
	re := regexp.MustCompile(`(?s)\n[ \t]*` + name + ` = r?"""\n(.*?)\n"""`)
	m := re.FindStringSubmatch(src)
	if m == nil {
		return "", fmt.Errorf("no %s block", name)
	}
	return m[1], nil
}

// fragmentPrefix is the namespace of the collection's own doc fragments.
const fragmentPrefix = "resilience.ops."

// fragmentOptions returns the options of the collection's doc fragments that a module's
// DOCUMENTATION extends, read from plugins/doc_fragments beside the module's directory. A
// fragment of another collection, or an option documented twice, is an error.
func fragmentOptions(pyPath string, names []string) (map[string]docOption, error) {
	out := map[string]docOption{}
	for _, name := range names {
		short, ok := strings.CutPrefix(name, fragmentPrefix)
		if !ok || strings.ContainsAny(short, "./") {
			return nil, fmt.Errorf("extends_documentation_fragment %s: only the collection's own fragments (%s<name>) are checked", name, fragmentPrefix)
		}
		path := filepath.Join(filepath.Dir(pyPath), "..", "doc_fragments", short+".py")
		src, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("extends_documentation_fragment %s: %w", name, err)
		}
		text, err := DocBlock(string(src), "DOCUMENTATION")
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		var frag struct {
			Options map[string]docOption `yaml:"options"`
		}
		if err := yaml.Unmarshal([]byte(text), &frag); err != nil {
			return nil, fmt.Errorf("%s: DOCUMENTATION is not YAML: %w", path, err)
		}
		for k, o := range frag.Options {
			if _, dup := out[k]; dup {
				return nil, fmt.Errorf("%s: option %s is documented by two fragments", path, k)
			}
			out[k] = o
		}
	}
	return out, nil
}

// CheckDocs fails t when the sidecar documentation at pyPath drifts from spec (names, types,
// defaults, choices, aliases, required) or from the return keys of ret (a struct, whose JSON
// field names, also of embedded structs, are the documented return values), and when a numeric
// parameter has no maximum or its description does not state its limits (CheckLimits).
func CheckDocs(t *testing.T, pyPath string, spec module.Spec, ret any) {
	t.Helper()
	src, err := os.ReadFile(pyPath)
	if err != nil {
		t.Fatal(err)
	}
	docText, err := DocBlock(string(src), "DOCUMENTATION")
	if err != nil {
		t.Fatalf("%s: %v", pyPath, err)
	}
	var doc struct {
		Options   map[string]docOption `yaml:"options"`
		Fragments []string             `yaml:"extends_documentation_fragment"`
	}
	if err := yaml.Unmarshal([]byte(docText), &doc); err != nil {
		t.Fatalf("%s: DOCUMENTATION is not YAML: %v", pyPath, err)
	}
	frags, err := fragmentOptions(pyPath, doc.Fragments)
	if err != nil {
		t.Fatalf("%s: %v", pyPath, err)
	}
	for k, o := range frags {
		if _, dup := doc.Options[k]; dup {
			t.Errorf("%s: option %s is documented both in the module and in a fragment", pyPath, k)
		}
		if doc.Options == nil {
			doc.Options = map[string]docOption{}
		}
		doc.Options[k] = o
	}
	seen := map[string]bool{}
	for _, p := range spec {
		seen[p.Name] = true
		o, ok := doc.Options[p.Name]
		if !ok {
			t.Errorf("%s: parameter %s is not documented", pyPath, p.Name)
			continue
		}
		want := docOption{Type: p.Type.String(), Required: p.Required, Default: normalize(p.Default),
			Choices: p.Choices, Aliases: p.Aliases, NoLog: p.Secret}
		if p.Type == module.TypeList {
			want.Elements = p.Elements.String()
		}
		got := o
		got.Default = normalize(o.Default)
		got.Description = nil
		CheckLimits(t, pyPath, descriptionText(o.Description), module.Spec{p})
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s: option %s drifted from the Go spec (-go +docs):\n%s", pyPath, p.Name, diff)
		}
	}
	for name := range doc.Options {
		if !seen[name] {
			t.Errorf("%s: documents option %s that the module does not accept", pyPath, name)
		}
	}

	retText, err := DocBlock(string(src), "RETURN")
	if err != nil {
		t.Fatalf("%s: %v", pyPath, err)
	}
	var retDoc map[string]any
	if err := yaml.Unmarshal([]byte(retText), &retDoc); err != nil {
		t.Fatalf("%s: RETURN is not YAML: %v", pyPath, err)
	}
	var documented []string
	for k := range retDoc {
		documented = append(documented, k)
	}
	sort.Strings(documented)
	if diff := cmp.Diff(JSONFields(reflect.TypeOf(ret)), documented); diff != "" {
		t.Errorf("%s: RETURN drifted from the Go result struct (-go +docs):\n%s", pyPath, diff)
	}
}

// JSONFields lists the JSON names of a struct's fields, following embedded structs, sorted.
func JSONFields(typ reflect.Type) []string {
	for typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	}
	var out []string
	for i := 0; i < typ.NumField(); i++ {
		f := typ.Field(i)
		tag := f.Tag.Get("json")
		name := strings.Split(tag, ",")[0]
		if tag == "-" || (!f.IsExported() && !f.Anonymous) {
			continue
		}
		if f.Anonymous && name == "" {
			out = append(out, JSONFields(f.Type)...)
			continue
		}
		if name == "" {
			name = f.Name
		}
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// normalize makes YAML and Go defaults comparable.
func normalize(v any) any {
	switch t := v.(type) {
	case int:
		return float64(t)
	case int64:
		return float64(t)
	case []any:
		if len(t) == 0 {
			return nil
		}
	case map[string]any:
		if len(t) == 0 {
			return nil
		}
	}
	return v
}

// OptionDescription returns the description of option name in the DOCUMENTATION of the doc-only
// module file at pyPath, its lines joined by spaces.
func OptionDescription(t testing.TB, pyPath, name string) string {
	t.Helper()
	src, err := os.ReadFile(pyPath)
	if err != nil {
		t.Fatal(err)
	}
	docText, err := DocBlock(string(src), "DOCUMENTATION")
	if err != nil {
		t.Fatalf("%s: %v", pyPath, err)
	}
	var doc struct {
		Options map[string]struct {
			Description any `yaml:"description"`
		} `yaml:"options"`
	}
	if err := yaml.Unmarshal([]byte(docText), &doc); err != nil {
		t.Fatalf("%s: DOCUMENTATION is not YAML: %v", pyPath, err)
	}
	o, ok := doc.Options[name]
	if !ok {
		t.Fatalf("%s: option %s is not documented", pyPath, name)
	}
	return descriptionText(o.Description)
}
