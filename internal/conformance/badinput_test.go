package conformance

import (
	"fmt"
	"strings"
	"testing"

	"resilience.ops/internal/module"
)

// badValues are values of the wrong type or out of range for p, each with what its message must
// say besides the parameter's name.
func badValues(p module.Param) []any {
	var vals []any
	switch p.Type {
	case module.TypeInt:
		vals = append(vals, "abc", 1.5, []any{1}, map[string]any{"a": 1})
		if p.Min != nil {
			vals = append(vals, *p.Min-1)
		}
		if p.Max != nil {
			vals = append(vals, *p.Max+1)
		}
		if p.Limit != nil {
			vals = append(vals, *p.Limit+1)
		}
	case module.TypeFloat:
		vals = append(vals, "abc", "15x", []any{1}, map[string]any{"a": 1})
		if p.Min != nil {
			vals = append(vals, *p.Min-1)
		}
		if p.Max != nil {
			vals = append(vals, *p.Max+1)
		}
		if p.Limit != nil {
			vals = append(vals, *p.Limit+1)
		}
		if p.ZeroOff && p.Min != nil && *p.Min > 0 {
			vals = append(vals, *p.Min/10) // would round to 0, which means off
		}
		vals = append(vals, 1e308, "-1e308") // every number has a maximum; none overflows
	case module.TypeBool:
		vals = append(vals, "maybe", 2.0, []any{true}, map[string]any{"a": true})
	case module.TypeStr, module.TypePath:
		vals = append(vals, []any{"a"}, map[string]any{"a": "b"})
		if len(p.Choices) > 0 {
			vals = append(vals, "not-a-choice")
		}
	case module.TypeList:
		vals = append(vals, map[string]any{"a": 1}, 5.0, true)
		switch {
		case len(p.Choices) > 0:
			vals = append(vals, []any{"not-a-choice"})
		case p.Elements == module.TypeInt:
			vals = append(vals, []any{"abc"})
		case p.Elements == module.TypeDict:
			vals = append(vals, []any{"not a dict"})
		}
	case module.TypeDict:
		vals = append(vals, "x", []any{1}, 5.0)
	}
	return vals
}

// TestBadInputFailsCleanly gives every parameter of every module values of the wrong type and out
// of range: each fails with exit status 1, `failed: true` and a message naming the parameter, never
// a panic, and changes nothing.
func TestBadInputFailsCleanly(t *testing.T) {
	for _, m := range modules {
		for _, p := range m.spec {
			for i, bad := range badValues(p) {
				t.Run(fmt.Sprintf("%s/%s/%d", m.name, p.Name, i), func(t *testing.T) {
					t.Parallel()
					dir := t.TempDir()
					args := m.valid(dir)
					args[p.Name] = bad
					code, res, raw := run(t, m, dir, args)
					msg, _ := res["msg"].(string)
					if code != 1 || res["failed"] != true {
						t.Fatalf("%s=%v: exit %d; want a failure: %s", p.Name, bad, code, raw)
					}
					if !strings.Contains(msg, p.Name) {
						t.Errorf("%s=%v: the message does not name the parameter: %q", p.Name, bad, msg)
					}
					if strings.Contains(msg, "internal error") || strings.Contains(raw, "goroutine ") {
						t.Errorf("%s=%v: a panic: %s", p.Name, bad, raw)
					}
					if files := tree(t, dir); len(files) > 0 {
						t.Errorf("%s=%v: bad input changed the state: %v", p.Name, bad, files)
					}
				})
			}
		}
	}
}

// TestBrokenArgumentFiles: unknown parameters, and argument files that are empty, truncated, not
// JSON or not an object.
func TestBrokenArgumentFiles(t *testing.T) {
	for _, m := range modules {
		for name, content := range map[string]string{
			"empty":      "",
			"blank":      "  \n",
			"truncated":  `{"path": "x", "state":`,
			"not json":   "path=x state=locked",
			"array":      `["path"]`,
			"null":       "null",
			"two values": `{"a": 1} {"b": 2}`,
		} {
			t.Run(m.name+"/"+name, func(t *testing.T) {
				t.Parallel()
				dir := t.TempDir()
				code, res, raw := runRaw(t, m, dir, []byte(content))
				if code != 1 || res["failed"] != true || !strings.Contains(res["msg"].(string), "argument file") {
					t.Errorf("exit %d: %s", code, raw)
				}
			})
		}
		t.Run(m.name+"/unknown parameter", func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			args := m.valid(dir)
			args["no_such_option"] = 1
			code, res, raw := run(t, m, dir, args)
			if code != 1 || !strings.Contains(res["msg"].(string), "no_such_option") || !strings.Contains(res["msg"].(string), "supported parameters are") {
				t.Errorf("exit %d: %s", code, raw)
			}
		})
	}
}

// TestValidArgumentsDecode guards the other tests: the arguments they start from are valid, so a
// failure there comes from the bad value alone.
func TestValidArgumentsDecode(t *testing.T) {
	for _, m := range modules {
		dir := t.TempDir()
		_, res, raw := run(t, m, dir, m.valid(dir))
		if msg, _ := res["msg"].(string); strings.Contains(msg, "parameter ") || strings.Contains(msg, "argument file") {
			t.Errorf("%s: the valid arguments were rejected: %s", m.name, raw)
		}
	}
}
