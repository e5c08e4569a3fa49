// Package module is the small runtime shared by the collection's Ansible binary modules.
//
// ansible-core runs a binary module as `<binary> <args-file>`, where the file holds one flat JSON
// object: the task's parameters plus internal `_ansible_*` keys. No coercion happens on the
// controller, so this package decodes parameters from a declared Spec the way Python modules do
// (numeric strings for numbers, yes/no/true/false/on/off/1/0 for booleans), rejects unknown
// parameters by name, and writes exactly one JSON object to stdout.
package module

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"resilience.ops/internal/coerce"
	"resilience.ops/internal/field"
)

// Type is the type of a module parameter.
type Type int

// The parameter types, named as in Ansible's argument_spec.
const (
	TypeStr Type = iota
	TypeInt
	TypeFloat
	TypeBool
	TypeList // list of strings unless Elements says otherwise
	TypeDict
	TypePath // a string with ~ expanded by the caller's shell rules: kept as given
	TypeRaw  // any JSON value, unchecked
)

func (t Type) String() string {
	switch t {
	case TypeStr:
		return "str"
	case TypeInt:
		return "int"
	case TypeFloat:
		return "float"
	case TypeBool:
		return "bool"
	case TypeList:
		return "list"
	case TypeDict:
		return "dict"
	case TypePath:
		return "path"
	default:
		return "raw"
	}
}

// Param declares one module parameter.
type Param struct {
	Name     string
	Type     Type
	Elements Type // element type of a TypeList; TypeStr when zero
	Required bool
	Default  any      // already of the decoded Go type (string, int64, float64, bool, []any, map[string]any)
	Choices  []string // allowed values of a TypeStr parameter
	Min, Max *float64 // inclusive range of a numeric parameter
	Aliases  []string
	Secret   bool // masked in invocation.module_args and never echoed
	// SecretKeys names keys of the dictionaries inside the parameter (at any depth, also in lists)
	// whose values are secrets: masked in invocation.module_args and scrubbed from the result,
	// as Secret does for the whole parameter. For keys that hold secrets without looking like it,
	// such as the url of a Slack webhook, whose path is the credential.
	SecretKeys []string
	// ZeroOff accepts 0 besides the range Min..Max: 0 turns the setting off (no timeout, no
	// deadline), and a positive value below Min is refused rather than rounded to 0.
	ZeroOff bool
	// Limit is the largest value of a parameter whose range is open-ended (Min only): a bound
	// against absurd values, such as seconds that overflow a duration, checked after the range
	// and reported on its own ("must be at most 86400, got 1e+10"). Use Max for a closed range.
	Limit *float64
}

// Range returns pointers to lo and hi, for Param.Min and Param.Max.
func Range(lo, hi float64) (*float64, *float64) { return &lo, &hi }

// AtLeast returns a pointer to lo, for Param.Min.
func AtLeast(lo float64) *float64 { return &lo }

// Spec is the ordered list of a module's parameters.
type Spec []Param

// Names returns the parameter names (without aliases), sorted.
func (s Spec) Names() []string {
	names := make([]string, 0, len(s))
	for _, p := range s {
		names = append(names, p.Name)
	}
	sort.Strings(names)
	return names
}

// ParamErr is a bad parameter: a *field.Error in the Parameter form, "parameter <name>: <problem>".
func ParamErr(name, format string, a ...any) *field.Error {
	return &field.Error{Path: name, Problem: fmt.Sprintf(format, a...), Form: field.Parameter}
}

func paramErr(name, format string, a ...any) error { return ParamErr(name, format, a...) }

// Params holds decoded parameter values, keyed by canonical name. Missing optional parameters
// without a default are absent. Not safe for concurrent mutation.
type Params map[string]any

// Has reports whether the parameter was given or has a default.
func (p Params) Has(name string) bool { v, ok := p[name]; return ok && v != nil }

// Str returns a string parameter, or "" when absent.
func (p Params) Str(name string) string { s, _ := p[name].(string); return s }

// Int returns an int parameter, or 0 when absent.
func (p Params) Int(name string) int64 { i, _ := p[name].(int64); return i }

// Float returns a float parameter, or 0 when absent.
func (p Params) Float(name string) float64 { f, _ := p[name].(float64); return f }

// Bool returns a bool parameter, or false when absent.
func (p Params) Bool(name string) bool { b, _ := p[name].(bool); return b }

// Strings returns a list-of-strings parameter.
func (p Params) Strings(name string) []string {
	l, _ := p[name].([]any)
	out := make([]string, 0, len(l))
	for _, v := range l {
		s, _ := v.(string)
		out = append(out, s)
	}
	return out
}

// List returns a list parameter as decoded.
func (p Params) List(name string) []any { l, _ := p[name].([]any); return l }

// Dict returns a dict parameter, or nil when absent.
func (p Params) Dict(name string) map[string]any { m, _ := p[name].(map[string]any); return m }

// Decode checks raw user parameters against the spec and returns canonical, typed values.
// Unknown keys and wrong values give a *field.Error naming the parameter and what is allowed.
func (s Spec) Decode(raw map[string]any) (Params, error) {
	byName := map[string]*Param{}
	for i := range s {
		p := &s[i]
		byName[p.Name] = p
		for _, a := range p.Aliases {
			byName[a] = p
		}
	}
	// Report unknown keys first, sorted for a stable message.
	var unknown []string
	for k := range raw {
		if _, ok := byName[k]; !ok {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return nil, paramErr(unknown[0], "unsupported parameter; supported parameters are: %s",
			strings.Join(s.Names(), ", "))
	}
	out := Params{}
	given := map[string]string{} // canonical -> key used
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		p := byName[k]
		if prev, dup := given[p.Name]; dup {
			return nil, paramErr(p.Name, "given twice (as %s and %s)", prev, k)
		}
		given[p.Name] = k
		v := raw[k]
		if v == nil {
			continue // ~ in YAML: same as not given
		}
		cv, err := p.coerce(v)
		if err != nil {
			return nil, err
		}
		out[p.Name] = cv
	}
	for i := range s {
		p := &s[i]
		if _, ok := out[p.Name]; ok {
			continue
		}
		if p.Required {
			return nil, paramErr(p.Name, "is required")
		}
		if p.Default != nil {
			out[p.Name] = p.Default
		}
	}
	return out, nil
}

// Value decodes one value of the parameter as Decode does (type, choices, range), for values
// that come from elsewhere than an argument file: a command-line argument or an environment
// variable, named by p.Name in the error.
func (p Param) Value(v any) (any, error) { return p.coerce(v) }

func (p *Param) coerce(v any) (any, error) {
	switch p.Type {
	case TypeStr, TypePath:
		s, ok := coerce.Str(v)
		if !ok {
			return nil, paramErr(p.Name, "must be a string, got %s", coerce.Describe(v))
		}
		if len(p.Choices) > 0 && !contains(p.Choices, s) {
			return nil, paramErr(p.Name, "must be one of %s, got %q", strings.Join(p.Choices, ", "), s)
		}
		return s, nil
	case TypeInt:
		i, ok := coerce.Int(v)
		if !ok {
			return nil, paramErr(p.Name, "must be an integer%s, got %s", p.rangeText(), coerce.Describe(v))
		}
		if err := p.checkRange(float64(i)); err != nil {
			return nil, err
		}
		return i, nil
	case TypeFloat:
		f, ok := coerce.Float(v)
		if !ok {
			return nil, paramErr(p.Name, "must be a number%s, got %s", p.rangeText(), coerce.Describe(v))
		}
		if err := p.checkRange(f); err != nil {
			return nil, err
		}
		return f, nil
	case TypeBool:
		b, ok := coerce.Bool(v)
		if !ok {
			return nil, paramErr(p.Name, "must be a boolean (true/false, yes/no, on/off, 1/0), got %s", coerce.Describe(v))
		}
		return b, nil
	case TypeList:
		var l []any
		switch t := v.(type) {
		case []any:
			l = t
		case string: // Ansible accepts a comma-separated string for a list
			for _, part := range strings.Split(t, ",") {
				if part = strings.TrimSpace(part); part != "" {
					l = append(l, part)
				}
			}
		default:
			return nil, paramErr(p.Name, "must be a list, got %s", coerce.Describe(v))
		}
		el := Param{Name: p.Name, Type: p.Elements, Choices: p.Choices, Min: p.Min, Max: p.Max, ZeroOff: p.ZeroOff, Limit: p.Limit}
		out := make([]any, 0, len(l))
		for i, e := range l {
			ce, err := el.coerce(e)
			if err != nil {
				var pe *field.Error
				if errors.As(err, &pe) {
					return nil, paramErr(fmt.Sprintf("%s[%d]", p.Name, i), "%s", pe.Problem)
				}
				return nil, err
			}
			out = append(out, ce)
		}
		return out, nil
	case TypeDict:
		m, ok := v.(map[string]any)
		if !ok {
			return nil, paramErr(p.Name, "must be a dictionary, got %s", coerce.Describe(v))
		}
		return m, nil
	default:
		return v, nil
	}
}

func (p *Param) rangeText() string {
	if p.ZeroOff && p.Min != nil && p.Max != nil {
		return fmt.Sprintf(" of 0 (off) or between %s and %s", coerce.Number(*p.Min), coerce.Number(*p.Max))
	}
	switch {
	case p.Min != nil && p.Max != nil:
		return fmt.Sprintf(" between %s and %s", coerce.Number(*p.Min), coerce.Number(*p.Max))
	case p.Min != nil:
		return fmt.Sprintf(" of at least %s", coerce.Number(*p.Min))
	case p.Max != nil:
		return fmt.Sprintf(" of at most %s", coerce.Number(*p.Max))
	}
	return ""
}

func (p *Param) checkRange(f float64) error {
	if p.ZeroOff && f == 0 {
		return nil
	}
	if (p.Min != nil && f < *p.Min) || (p.Max != nil && f > *p.Max) {
		text := strings.Replace(p.rangeText(), " of at ", " at ", 1)
		text = strings.Replace(text, " of 0 (off) or ", " 0 (off) or ", 1)
		return paramErr(p.Name, "must be%s, got %s", text, coerce.Number(f))
	}
	if p.Limit != nil && f > *p.Limit {
		return paramErr(p.Name, "must be at most %s, got %s", coerce.Number(*p.Limit), coerce.Number(f))
	}
	return nil
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// Describe names a JSON value for an error message without echoing long content (see
// coerce.Describe). Code that validates values outside a Spec (nested settings) uses it for the
// same wording.
func Describe(v any) string { return coerce.Describe(v) }
