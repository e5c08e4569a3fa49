// Package coerce reads the values of a JSON argument file the way ansible-core's Python modules
// read their parameters: numbers given as strings, booleans as yes/no/on/off/1/0, numbers where a
// string is expected. ansible-core does no coercion for binary modules (a templated "5" arrives as
// the string "5"), so every module parameter, and every key of a dictionary parameter, is read
// through this package: package module for the declared parameters, package export for the keys
// of external_systems. The functions report whether the value could be read; the callers word the
// message, naming the parameter.
package coerce

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// BoolText lists what Bool accepts, for messages.
const BoolText = "true/false, yes/no, on/off, y/n, t/f, 1/0"

// maxExact is the largest integer a float64 holds exactly: larger ones are not read as integers.
const maxExact = 1 << 53

// Str reads a string. Numbers and booleans become strings, as Python modules turn them into
// strings for str parameters ("5", "2.5", "True").
func Str(v any) (string, bool) {
	switch t := v.(type) {
	case string:
		return t, true
	case float64:
		return Number(t), true
	case int:
		return strconv.Itoa(t), true
	case int64:
		return strconv.FormatInt(t, 10), true
	case bool:
		if t {
			return "True", true
		}
		return "False", true
	}
	return "", false
}

// Int reads an integer: a whole JSON number, or a string holding one. ansible-core's
// check_type_int also takes floats that are whole numbers, so "5.0" is 5; nothing fractional is.
func Int(v any) (int64, bool) {
	switch t := v.(type) {
	case float64:
		if !Whole(t) {
			return 0, false
		}
		return int64(t), true
	case int:
		return int64(t), true
	case int64:
		return t, true
	case string:
		s := strings.TrimSpace(t)
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return i, true
		}
		if f, err := strconv.ParseFloat(s, 64); err == nil && Whole(f) {
			return int64(f), true
		}
	}
	return 0, false
}

// Whole reports whether f is an integer that a float64 holds exactly.
func Whole(f float64) bool {
	return f == math.Trunc(f) && !math.IsInf(f, 0) && math.Abs(f) <= maxExact
}

// Float reads a finite number: a JSON number, or a string holding one.
func Float(v any) (float64, bool) {
	switch t := v.(type) {
	case float64:
		return t, true
	case int:
		return float64(t), true
	case int64:
		return float64(t), true
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(t), 64)
		if err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
			return f, true
		}
	}
	return 0, false
}

// Bool reads a boolean the way ansible-core's boolean() does (BOOLEANS_TRUE and BOOLEANS_FALSE of
// module_utils/parsing/convert_bool.py): a JSON boolean; the numbers 1 and 0; or, ignoring case
// and surrounding blanks, the strings y, yes, on, 1, true, t and n, no, off, 0, false, f.
func Bool(v any) (b, ok bool) {
	switch t := v.(type) {
	case bool:
		return t, true
	case float64:
		return t == 1, t == 1 || t == 0
	case int:
		return t == 1, t == 1 || t == 0
	case int64:
		return t == 1, t == 1 || t == 0
	case string:
		switch strings.ToLower(strings.TrimSpace(t)) {
		case "y", "yes", "on", "1", "true", "t":
			return true, true
		case "n", "no", "off", "0", "false", "f":
			return false, true
		}
	}
	return false, false
}

// Number formats a number for a message: in full ("86400", "0.001", "1000000000000000000000"),
// and with an exponent from 1e22 on, so that 1e308 does not fill a line with zeros.
func Number(f float64) string {
	if math.Abs(f) >= 1e22 {
		return strconv.FormatFloat(f, 'g', -1, 64)
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

// Describe names a JSON value for an error message without echoing long content: a short string
// quoted, a long one by its length, a list or dictionary by its kind.
func Describe(v any) string {
	switch t := v.(type) {
	case nil:
		return "null"
	case string:
		if len(t) > 40 {
			return fmt.Sprintf("a string of %d characters", len(t))
		}
		return strconv.Quote(t)
	case bool:
		return strconv.FormatBool(t)
	case float64:
		return Number(t)
	case []any:
		return "a list"
	case map[string]any:
		return "a dictionary"
	}
	return fmt.Sprintf("%T", v)
}
