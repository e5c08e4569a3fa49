package session

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

// liteKeys are the keys parseLite reads, at the top level and in an attempt.
var liteKeys = []string{"operation_name", "host", "status", "error_type", "attempt_count", "execution_time", "attempts"}

// parseLite must agree with json.Unmarshal into an opLite on whether a line is a record and on
// what it holds. Where the two may differ by design (a key in another case, which
// encoding/json matches and parseLite does not; invalid UTF-8, which they replace differently),
// only validity is compared.
func FuzzParseLite(f *testing.F) {
	st, id := workedSession(f)
	var buf bytes.Buffer
	_ = st.Compose(id, &buf)
	var composed struct {
		Operations []json.RawMessage `json:"operations"`
	}
	_ = json.Unmarshal(buf.Bytes(), &composed)
	for _, op := range composed.Operations {
		var c bytes.Buffer
		_ = json.Compact(&c, op)
		f.Add(c.Bytes())
		f.Add(c.Bytes()[:c.Len()/2]) // torn
	}
	for _, seed := range []string{`{}`, `{"status":null,"attempts":null}`, `{"attempts":[null,{"error_type":null}]}`,
		`{"attempt_count":2.5}`, `{"attempt_count":1e2}`, `{"host":"a\u00e9\n"}`, `{"status":"x"} x`, `[]`, `{"a":[[[{}]]]}`,
		`{"execution_time":-0.5e-3,"x":true,"y":false}`, `{"status":1}`, `{"Status":"failed"}`, "{\"host\":\"\xff\"}",
		`{"attempts":[{"status":"failed","error_type":"timeout"}],"attempts":[]}`, `{"host":"a"`, `{"host":"a",}`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		var got, want opLite
		gerr := parseLite(line, &got)
		werr := json.Unmarshal(line, &want)
		if gerr == nil && !json.Valid(line) {
			t.Fatalf("parseLite accepted what is not JSON: %q", line)
		}
		var probe any
		if json.Unmarshal(line, &probe) == nil {
			if _, isObj := probe.(map[string]any); !isObj {
				if gerr == nil {
					t.Fatalf("parseLite accepted a JSON value that is not an object: %q", line)
				}
				return // json.Unmarshal takes null for an empty record: not a record
			}
		}
		if !exact(line) {
			return
		}
		if (gerr == nil) != (werr == nil) {
			t.Fatalf("parseLite: %v, json.Unmarshal: %v, on %q", gerr, werr, line)
		}
		if gerr == nil {
			if diff := cmp.Diff(want, got); diff != "" {
				t.Fatalf("on %q (-json +lite):\n%s", line, diff)
			}
		}
	})
}

// exact reports whether line is valid UTF-8 and has no key that differs from one of liteKeys in
// case only.
func exact(line []byte) bool {
	if !utf8.Valid(line) {
		return false
	}
	var walk func(v any) bool
	walk = func(v any) bool {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				for _, lk := range liteKeys {
					if k != lk && strings.EqualFold(k, lk) {
						return false
					}
				}
				if !walk(e) {
					return false
				}
			}
		case []any:
			for _, e := range x {
				if !walk(e) {
					return false
				}
			}
		}
		return true
	}
	var v any
	if json.Unmarshal(line, &v) != nil {
		return true // not JSON: both must refuse it
	}
	return walk(v)
}
