package module

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// FuzzRun feeds arbitrary argument files to the runtime with a spec of every type: the output is
// always exactly one JSON object and the exit status agrees with `failed`.
func FuzzRun(f *testing.F) {
	for _, seed := range []string{
		`{"name": "x", "count": "5", "ratio": 0.5, "on": "yes", "tags": "a,b", "opts": {"k": 1}, "_ansible_check_mode": true}`,
		`{"count": 11}`, `{"mode": "nope"}`, `{"token": "secret-value"}`, ``, `{`, `[1]`, `null`, `{"a":1}}`,
		`{"count": 1e400}`, `{"tags": [1, "two", null]}`, `{"_ansible_verbosity": "3"}`,
	} {
		f.Add([]byte(seed))
	}
	spec := Spec{
		{Name: "name", Type: TypeStr, Aliases: []string{"n"}},
		{Name: "count", Type: TypeInt, Min: AtLeast(0), Max: func() *float64 { v := 10.0; return &v }()},
		{Name: "ratio", Type: TypeFloat},
		{Name: "on", Type: TypeBool, Default: false},
		{Name: "tags", Type: TypeList},
		{Name: "opts", Type: TypeDict},
		{Name: "mode", Type: TypeStr, Choices: []string{"a", "b"}},
		{Name: "token", Type: TypeStr, Secret: true},
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, "args")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		code := Run(path, &out, spec, func(c *Ctx) (Result, error) {
			return Result{Msg: c.Params.Str("token"), Data: map[string]any{"count": c.Params.Int("count")}}, nil
		})
		var res map[string]any
		dec := json.NewDecoder(&out)
		if err := dec.Decode(&res); err != nil || dec.More() {
			t.Fatalf("not exactly one JSON object for %q: %v", data, err)
		}
		failed, _ := res["failed"].(bool)
		if failed != (code == 1) {
			t.Fatalf("exit %d with failed=%v for %q", code, failed, data)
		}
	})
}
