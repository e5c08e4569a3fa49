package module

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"resilience.ops/internal/field"
)

func TestCoerce(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		param   Param
		in      any
		want    any
		wantErr string // substring of the error; empty means success
	}{
		// int
		{name: "int from JSON number", param: Param{Name: "n", Type: TypeInt}, in: float64(5), want: int64(5)},
		{name: "int from negative JSON number", param: Param{Name: "n", Type: TypeInt}, in: float64(-3), want: int64(-3)},
		{name: "int from numeric string", param: Param{Name: "n", Type: TypeInt}, in: "5", want: int64(5)},
		{name: "int from padded string", param: Param{Name: "n", Type: TypeInt}, in: " 7 ", want: int64(7)},
		{name: "int from negative string", param: Param{Name: "n", Type: TypeInt}, in: "-12", want: int64(-12)},
		{name: "int from whole float string", param: Param{Name: "n", Type: TypeInt}, in: "5.0", want: int64(5)},
		{name: "int from exponent JSON number", param: Param{Name: "n", Type: TypeInt}, in: float64(1e3), want: int64(1000)},
		{name: "int from 2^53", param: Param{Name: "n", Type: TypeInt}, in: float64(1 << 53), want: int64(1 << 53)},
		{name: "int rejects fractional JSON number", param: Param{Name: "n", Type: TypeInt}, in: 5.5, wantErr: "parameter n: must be an integer, got 5.5"},
		{name: "int rejects fractional string", param: Param{Name: "n", Type: TypeInt}, in: "5.5", wantErr: `must be an integer, got "5.5"`},
		{name: "int rejects word", param: Param{Name: "n", Type: TypeInt}, in: "abc", wantErr: `parameter n: must be an integer, got "abc"`},
		{name: "int rejects empty string", param: Param{Name: "n", Type: TypeInt}, in: "", wantErr: `must be an integer, got ""`},
		{name: "int rejects bool", param: Param{Name: "n", Type: TypeInt}, in: true, wantErr: "must be an integer, got true"},
		{name: "int rejects list", param: Param{Name: "n", Type: TypeInt}, in: []any{float64(1)}, wantErr: "got a list"},
		{name: "int rejects beyond 2^53", param: Param{Name: "n", Type: TypeInt}, in: float64(1<<53) * 4, wantErr: "must be an integer"},
		{name: "int rejects NaN string", param: Param{Name: "n", Type: TypeInt}, in: "NaN", wantErr: "must be an integer"},
		{name: "int rejects Inf string", param: Param{Name: "n", Type: TypeInt}, in: "Inf", wantErr: "must be an integer"},
		{name: "int rejects hex", param: Param{Name: "n", Type: TypeInt}, in: "0x10", wantErr: "must be an integer"},
		{name: "int error does not echo a long value", param: Param{Name: "n", Type: TypeInt}, in: strings.Repeat("x", 41), wantErr: "got a string of 41 characters"},

		// float
		{name: "float from JSON number", param: Param{Name: "f", Type: TypeFloat}, in: 1.5, want: 1.5},
		{name: "float from integer JSON number", param: Param{Name: "f", Type: TypeFloat}, in: float64(2), want: float64(2)},
		{name: "float from numeric string", param: Param{Name: "f", Type: TypeFloat}, in: "1.5", want: 1.5},
		{name: "float from integer string", param: Param{Name: "f", Type: TypeFloat}, in: "2", want: float64(2)},
		{name: "float from padded string", param: Param{Name: "f", Type: TypeFloat}, in: " 0.25\n", want: 0.25},
		{name: "float rejects word", param: Param{Name: "f", Type: TypeFloat}, in: "abc", wantErr: `parameter f: must be a number, got "abc"`},
		{name: "float rejects NaN", param: Param{Name: "f", Type: TypeFloat}, in: "NaN", wantErr: "must be a number"},
		{name: "float rejects Inf", param: Param{Name: "f", Type: TypeFloat}, in: "+Inf", wantErr: "must be a number"},
		{name: "float rejects bool", param: Param{Name: "f", Type: TypeFloat}, in: false, wantErr: "must be a number, got false"},
		{name: "float rejects dict", param: Param{Name: "f", Type: TypeFloat}, in: map[string]any{}, wantErr: "got a dictionary"},

		// str and path
		{name: "str as given", param: Param{Name: "s", Type: TypeStr}, in: "hello", want: "hello"},
		{name: "str keeps spaces", param: Param{Name: "s", Type: TypeStr}, in: " a ", want: " a "},
		{name: "str from whole number", param: Param{Name: "s", Type: TypeStr}, in: float64(5), want: "5"},
		{name: "str from fraction", param: Param{Name: "s", Type: TypeStr}, in: 1.25, want: "1.25"},
		{name: "str from true", param: Param{Name: "s", Type: TypeStr}, in: true, want: "True"},
		{name: "str from false", param: Param{Name: "s", Type: TypeStr}, in: false, want: "False"},
		{name: "str rejects list", param: Param{Name: "s", Type: TypeStr}, in: []any{"a"}, wantErr: "parameter s: must be a string, got a list"},
		{name: "str rejects dict", param: Param{Name: "s", Type: TypeStr}, in: map[string]any{"a": "b"}, wantErr: "must be a string, got a dictionary"},
		{name: "path kept as given", param: Param{Name: "p", Type: TypePath}, in: "~/x/../y", want: "~/x/../y"},

		// choices
		{name: "choice accepted", param: Param{Name: "c", Choices: []string{"present", "absent"}}, in: "absent", want: "absent"},
		{name: "choice is case sensitive", param: Param{Name: "c", Choices: []string{"present", "absent"}}, in: "Absent", wantErr: `parameter c: must be one of present, absent, got "Absent"`},
		{name: "choice rejects other", param: Param{Name: "c", Choices: []string{"present", "absent"}}, in: "gone", wantErr: `must be one of present, absent, got "gone"`},
		{name: "choice checked after number coercion", param: Param{Name: "c", Choices: []string{"1", "2"}}, in: float64(2), want: "2"},

		// list
		{name: "list of strings", param: Param{Name: "l", Type: TypeList}, in: []any{"a", "b"}, want: []any{"a", "b"}},
		{name: "list from comma string", param: Param{Name: "l", Type: TypeList}, in: "a, b,,c ", want: []any{"a", "b", "c"}},
		{name: "list from empty string", param: Param{Name: "l", Type: TypeList}, in: "", want: []any{}},
		{name: "list empty", param: Param{Name: "l", Type: TypeList}, in: []any{}, want: []any{}},
		{name: "list coerces string elements", param: Param{Name: "l", Type: TypeList}, in: []any{float64(1), true}, want: []any{"1", "True"}},
		{name: "list of ints", param: Param{Name: "l", Type: TypeList, Elements: TypeInt}, in: []any{"1", float64(2), "3.0"}, want: []any{int64(1), int64(2), int64(3)}},
		{name: "list of ints from comma string", param: Param{Name: "l", Type: TypeList, Elements: TypeInt}, in: "1,2", want: []any{int64(1), int64(2)}},
		{name: "list element error names the index", param: Param{Name: "l", Type: TypeList, Elements: TypeInt}, in: []any{float64(1), "x"}, wantErr: `parameter l[1]: must be an integer, got "x"`},
		{name: "list element choices", param: Param{Name: "l", Type: TypeList, Choices: []string{"a", "b"}}, in: []any{"a", "z"}, wantErr: `parameter l[1]: must be one of a, b, got "z"`},
		{name: "list element range", param: Param{Name: "l", Type: TypeList, Elements: TypeInt, Min: AtLeast(1)}, in: []any{float64(0)}, wantErr: "parameter l[0]: must be at least 1, got 0"},
		{name: "list of bools", param: Param{Name: "l", Type: TypeList, Elements: TypeBool}, in: []any{"yes", float64(0)}, want: []any{true, false}},
		{name: "list rejects number", param: Param{Name: "l", Type: TypeList}, in: float64(5), wantErr: "parameter l: must be a list, got 5"},
		{name: "list rejects dict", param: Param{Name: "l", Type: TypeList}, in: map[string]any{}, wantErr: "must be a list, got a dictionary"},

		// dict
		{name: "dict as given", param: Param{Name: "d", Type: TypeDict}, in: map[string]any{"a": float64(1)}, want: map[string]any{"a": float64(1)}},
		{name: "dict rejects string", param: Param{Name: "d", Type: TypeDict}, in: "a=1", wantErr: `parameter d: must be a dictionary, got "a=1"`},
		{name: "dict rejects list", param: Param{Name: "d", Type: TypeDict}, in: []any{}, wantErr: "must be a dictionary, got a list"},

		// raw
		{name: "raw passes anything", param: Param{Name: "r", Type: TypeRaw}, in: []any{float64(1), "a"}, want: []any{float64(1), "a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Spec{tt.param}.Decode(map[string]any{tt.param.Name: tt.in})
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("Decode(%#v) = %#v, want error containing %q", tt.in, got, tt.wantErr)
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("error = %q, want it to contain %q", err, tt.wantErr)
				}
				var pe *field.Error
				if !errors.As(err, &pe) {
					t.Errorf("error %T is not a *field.Error", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Decode(%#v): %v", tt.in, err)
			}
			if diff := cmp.Diff(tt.want, got[tt.param.Name]); diff != "" {
				t.Errorf("Decode(%#v) mismatch (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestCoerceBool(t *testing.T) {
	t.Parallel()
	truthy := []any{true, float64(1), "yes", "YES", "Yes", "y", "Y", "true", "TRUE", "True", "t", "T", "on", "ON", "On", "1", " yes ", "tRuE"}
	falsy := []any{false, float64(0), "no", "NO", "No", "n", "N", "false", "FALSE", "False", "f", "F", "off", "OFF", "Off", "0", "\tno\n", "fAlSe"}
	bad := []any{float64(2), float64(-1), 0.5, "maybe", "", "2", "yess", "enable", []any{}, map[string]any{}}
	spec := Spec{{Name: "b", Type: TypeBool}}
	check := func(in any, want bool) {
		t.Helper()
		got, err := spec.Decode(map[string]any{"b": in})
		if err != nil {
			t.Errorf("Decode(%#v): %v", in, err)
			return
		}
		if got.Bool("b") != want {
			t.Errorf("Decode(%#v) = %v, want %v", in, got.Bool("b"), want)
		}
	}
	for _, in := range truthy {
		check(in, true)
	}
	for _, in := range falsy {
		check(in, false)
	}
	for _, in := range bad {
		_, err := spec.Decode(map[string]any{"b": in})
		if err == nil {
			t.Errorf("Decode(%#v) succeeded, want an error", in)
			continue
		}
		if want := "parameter b: must be a boolean (true/false, yes/no, on/off, 1/0)"; !strings.Contains(err.Error(), want) {
			t.Errorf("Decode(%#v) error = %q, want it to contain %q", in, err, want)
		}
	}
}

func TestRange(t *testing.T) {
	t.Parallel()
	lo, hi := Range(1, 10)
	flo, fhi := Range(0.5, 1.5)
	tlo, thi := Range(0.001, 86400)
	timeout := Param{Name: "t", Type: TypeFloat, Min: tlo, Max: thi, ZeroOff: true}
	tests := []struct {
		name    string
		param   Param
		in      any
		want    any
		wantErr string
	}{
		{name: "int at min", param: Param{Name: "n", Type: TypeInt, Min: lo, Max: hi}, in: float64(1), want: int64(1)},
		{name: "int at max", param: Param{Name: "n", Type: TypeInt, Min: lo, Max: hi}, in: "10", want: int64(10)},
		{name: "int below", param: Param{Name: "n", Type: TypeInt, Min: lo, Max: hi}, in: float64(0), wantErr: "parameter n: must be between 1 and 10, got 0"},
		{name: "int above", param: Param{Name: "n", Type: TypeInt, Min: lo, Max: hi}, in: "11", wantErr: "parameter n: must be between 1 and 10, got 11"},
		{name: "int type error names range", param: Param{Name: "n", Type: TypeInt, Min: lo, Max: hi}, in: "abc", wantErr: `parameter n: must be an integer between 1 and 10, got "abc"`},
		{name: "at least", param: Param{Name: "n", Type: TypeInt, Min: AtLeast(3)}, in: float64(2), wantErr: "parameter n: must be at least 3, got 2"},
		{name: "at least large ok", param: Param{Name: "n", Type: TypeInt, Min: AtLeast(3)}, in: float64(1e9), want: int64(1e9)},
		{name: "at most", param: Param{Name: "n", Type: TypeInt, Max: hi}, in: float64(12), wantErr: "parameter n: must be at most 10, got 12"},
		{name: "at most negative ok", param: Param{Name: "n", Type: TypeInt, Max: hi}, in: float64(-12), want: int64(-12)},
		{name: "float inside", param: Param{Name: "f", Type: TypeFloat, Min: flo, Max: fhi}, in: "1.5", want: 1.5},
		{name: "float above", param: Param{Name: "f", Type: TypeFloat, Min: flo, Max: fhi}, in: 1.6, wantErr: "parameter f: must be between 0.5 and 1.5, got 1.6"},
		{name: "float below", param: Param{Name: "f", Type: TypeFloat, Min: flo, Max: fhi}, in: "0.25", wantErr: "parameter f: must be between 0.5 and 1.5, got 0.25"},
		{name: "float type error names range", param: Param{Name: "f", Type: TypeFloat, Min: flo, Max: fhi}, in: "x", wantErr: `parameter f: must be a number between 0.5 and 1.5, got "x"`},
		// ZeroOff: 0 turns the setting off; a positive value too small to mean anything is refused
		// (attempt_timeout 1e-10 used to round to 0, no timeout).
		{name: "zero off", param: timeout, in: 0.0, want: 0.0},
		{name: "zero off at min", param: timeout, in: "0.001", want: 0.001},
		{name: "zero off at max", param: timeout, in: 86400.0, want: 86400.0},
		{name: "zero off tiny", param: timeout, in: 1e-10, wantErr: "parameter t: must be 0 (off) or between 0.001 and 86400, got 0.0000000001"},
		{name: "zero off huge", param: timeout, in: "1e308", wantErr: "parameter t: must be 0 (off) or between 0.001 and 86400, got 1e+308"},
		{name: "zero off negative", param: timeout, in: -1.0, wantErr: "parameter t: must be 0 (off) or between 0.001 and 86400, got -1"},
		// Limit bounds an open-ended range on its own; the messages about the range stay as they were.
		{name: "limit", param: Param{Name: "d", Type: TypeFloat, Min: AtLeast(0), Limit: thi}, in: 1e10, wantErr: "parameter d: must be at most 86400, got 10000000000"},
		{name: "limit inside", param: Param{Name: "d", Type: TypeFloat, Min: AtLeast(0), Limit: thi}, in: 86400.0, want: 86400.0},
		{name: "limit below min", param: Param{Name: "d", Type: TypeFloat, Min: AtLeast(0), Limit: thi}, in: -1.0, wantErr: "parameter d: must be at least 0, got -1"},
		{name: "zero off type error", param: timeout, in: "soon", wantErr: `parameter t: must be a number of 0 (off) or between 0.001 and 86400, got "soon"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Spec{tt.param}.Decode(map[string]any{tt.param.Name: tt.in})
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("Decode(%#v) error = %v, want %q", tt.in, err, tt.wantErr)
				}
				var pe *field.Error
				if !errors.As(err, &pe) || pe.Path != tt.param.Name {
					t.Errorf("error %#v does not name parameter %s", err, tt.param.Name)
				}
				return
			}
			if err != nil {
				t.Fatalf("Decode(%#v): %v", tt.in, err)
			}
			if diff := cmp.Diff(tt.want, got[tt.param.Name]); diff != "" {
				t.Errorf("mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecode(t *testing.T) {
	t.Parallel()
	spec := Spec{
		{Name: "name", Type: TypeStr, Required: true, Aliases: []string{"id", "ident"}},
		{Name: "count", Type: TypeInt, Default: int64(3)},
		{Name: "enabled", Type: TypeBool, Default: true},
		{Name: "mode", Type: TypeStr, Choices: []string{"fast", "slow"}, Default: "slow"},
		{Name: "tags", Type: TypeList},
		{Name: "extra", Type: TypeDict},
	}
	tests := []struct {
		name    string
		raw     map[string]any
		want    Params
		wantErr string
	}{
		{
			name: "defaults fill what is absent",
			raw:  map[string]any{"name": "a"},
			want: Params{"name": "a", "count": int64(3), "enabled": true, "mode": "slow"},
		},
		{
			name: "given values win over defaults",
			raw:  map[string]any{"name": "a", "count": "7", "enabled": "no", "mode": "fast", "tags": "x,y", "extra": map[string]any{"k": "v"}},
			want: Params{"name": "a", "count": int64(7), "enabled": false, "mode": "fast", "tags": []any{"x", "y"}, "extra": map[string]any{"k": "v"}},
		},
		{
			name: "null is absent and gets the default",
			raw:  map[string]any{"name": "a", "count": nil, "enabled": nil, "tags": nil},
			want: Params{"name": "a", "count": int64(3), "enabled": true, "mode": "slow"},
		},
		{
			name: "alias is stored under the canonical name",
			raw:  map[string]any{"ident": "b"},
			want: Params{"name": "b", "count": int64(3), "enabled": true, "mode": "slow"},
		},
		{
			name:    "required missing",
			raw:     map[string]any{"count": float64(1)},
			wantErr: "parameter name: is required",
		},
		{
			name:    "required null",
			raw:     map[string]any{"name": nil},
			wantErr: "parameter name: is required",
		},
		{
			name:    "name and alias given",
			raw:     map[string]any{"name": "a", "id": "b"},
			wantErr: "parameter name: given twice (as id and name)",
		},
		{
			name:    "two aliases given",
			raw:     map[string]any{"ident": "a", "id": "b"},
			wantErr: "parameter name: given twice (as id and ident)",
		},
		{
			name:    "unknown parameter names it and lists the supported ones",
			raw:     map[string]any{"name": "a", "bogus": float64(1)},
			wantErr: "parameter bogus: unsupported parameter; supported parameters are: count, enabled, extra, mode, name, tags",
		},
		{
			name:    "several unknown parameters: the first in sorted order is named",
			raw:     map[string]any{"zeta": float64(1), "alpha": float64(1), "name": "a"},
			wantErr: "parameter alpha: unsupported parameter",
		},
		{
			name:    "unknown parameter is reported before a missing required one",
			raw:     map[string]any{"nmae": "a"},
			wantErr: "parameter nmae: unsupported parameter",
		},
		{
			name:    "given value outside the choices",
			raw:     map[string]any{"name": "a", "mode": "medium"},
			wantErr: `parameter mode: must be one of fast, slow, got "medium"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := spec.Decode(tt.raw)
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("Decode = %#v, want error %q", got, tt.wantErr)
				}
				if !strings.HasPrefix(err.Error(), tt.wantErr) {
					t.Errorf("error = %q, want prefix %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParamsAccessors(t *testing.T) {
	t.Parallel()
	p := Params{
		"s": "x", "i": int64(4), "f": 2.5, "b": true,
		"l": []any{"a", "b"}, "d": map[string]any{"k": "v"}, "nil": nil,
	}
	if got, want := p.Str("s"), "x"; got != want {
		t.Errorf("Str = %q, want %q", got, want)
	}
	if got, want := p.Int("i"), int64(4); got != want {
		t.Errorf("Int = %d, want %d", got, want)
	}
	if got, want := p.Float("f"), 2.5; got != want {
		t.Errorf("Float = %v, want %v", got, want)
	}
	if got, want := p.Bool("b"), true; got != want {
		t.Errorf("Bool = %v, want %v", got, want)
	}
	if diff := cmp.Diff([]string{"a", "b"}, p.Strings("l")); diff != "" {
		t.Errorf("Strings mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]any{"a", "b"}, p.List("l")); diff != "" {
		t.Errorf("List mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]any{"k": "v"}, p.Dict("d")); diff != "" {
		t.Errorf("Dict mismatch (-want +got):\n%s", diff)
	}
	// Absent or mistyped values give zero values, never a panic.
	if p.Str("missing") != "" || p.Int("s") != 0 || p.Float("missing") != 0 || p.Bool("s") || p.Dict("s") != nil || p.List("s") != nil {
		t.Error("absent or mistyped parameters must give zero values")
	}
	if got := p.Strings("missing"); got == nil || len(got) != 0 {
		t.Errorf("Strings(missing) = %#v, want an empty non-nil slice", got)
	}
	for name, want := range map[string]bool{"s": true, "nil": false, "missing": false, "b": true} {
		if got := p.Has(name); got != want {
			t.Errorf("Has(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestSpecNames(t *testing.T) {
	t.Parallel()
	spec := Spec{{Name: "zeta", Aliases: []string{"a_alias"}}, {Name: "alpha"}, {Name: "mid"}}
	if diff := cmp.Diff([]string{"alpha", "mid", "zeta"}, spec.Names()); diff != "" {
		t.Errorf("Names mismatch (-want +got):\n%s", diff)
	}
}

func TestTypeString(t *testing.T) {
	t.Parallel()
	want := map[Type]string{
		TypeStr: "str", TypeInt: "int", TypeFloat: "float", TypeBool: "bool",
		TypeList: "list", TypeDict: "dict", TypePath: "path", TypeRaw: "raw",
	}
	for typ, w := range want {
		if got := typ.String(); got != w {
			t.Errorf("Type(%d).String() = %q, want %q", typ, got, w)
		}
	}
}

func TestDecodeDoesNotMutateRaw(t *testing.T) {
	t.Parallel()
	raw := map[string]any{"n": "5", "l": "a,b"}
	spec := Spec{{Name: "n", Type: TypeInt}, {Name: "l", Type: TypeList}}
	if _, err := spec.Decode(raw); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]any{"n": "5", "l": "a,b"}, raw); diff != "" {
		t.Errorf("Decode changed its input (-want +got):\n%s", diff)
	}
}

// TestParamValue decodes one value outside an argument file (a command-line argument) with the
// same checks and messages as Decode.
func TestParamValue(t *testing.T) {
	t.Parallel()
	lo, hi := Range(0, 86400)
	p := Param{Name: "base_seconds", Type: TypeFloat, Min: lo, Max: hi}
	if v, err := p.Value("2.5"); err != nil || v != 2.5 {
		t.Errorf("Value(2.5) = %v, %v", v, err)
	}
	if _, err := p.Value("1e308"); err == nil || !strings.Contains(err.Error(), "parameter base_seconds: must be between 0 and 86400") {
		t.Errorf("Value(1e308) error = %v", err)
	}
}
