package coerce

import (
	"math"
	"testing"
)

func TestNumber(t *testing.T) {
	t.Parallel()
	for in, want := range map[float64]string{5: "5", 1.5: "1.5", -0.25: "-0.25", 1e21: "1000000000000000000000", math.MaxInt32: "2147483647",
		1e22: "1e+22", -1e308: "-1e+308", 1e-10: "0.0000000001"} {
		if got := Number(in); got != want {
			t.Errorf("Number(%v) = %q, want %q", in, got, want)
		}
	}
}

func TestReaders(t *testing.T) {
	t.Parallel()
	if s, ok := Str(2.5); !ok || s != "2.5" {
		t.Errorf("Str(2.5) = %q, %v", s, ok)
	}
	if s, ok := Str(true); !ok || s != "True" {
		t.Errorf("Str(true) = %q, %v", s, ok)
	}
	if _, ok := Str([]any{}); ok {
		t.Error("Str read a list")
	}
	for in, want := range map[any]int64{"5": 5, " 7 ": 7, "5.0": 5, 3.0: 3, "9007199254740993": 9007199254740993} {
		if got, ok := Int(in); !ok || got != want {
			t.Errorf("Int(%#v) = %d, %v", in, got, ok)
		}
	}
	for _, in := range []any{"5.5", 1.5, 1e300, "x", true} {
		if _, ok := Int(in); ok {
			t.Errorf("Int(%#v) read an integer", in)
		}
	}
	for _, in := range []any{"NaN", "inf", "x", false} {
		if _, ok := Float(in); ok {
			t.Errorf("Float(%#v) read a number", in)
		}
	}
	for in, want := range map[any]bool{"Yes": true, " off ": false, 1.0: true, 0.0: false, "t": true} {
		if got, ok := Bool(in); !ok || got != want {
			t.Errorf("Bool(%#v) = %v, %v", in, got, ok)
		}
	}
	for _, in := range []any{2.0, "maybe", "", nil} {
		if _, ok := Bool(in); ok {
			t.Errorf("Bool(%#v) read a boolean", in)
		}
	}
}
