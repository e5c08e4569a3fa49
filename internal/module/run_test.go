package module

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// run writes content to a temporary argument file, runs h on it and returns the exit status,
// the decoded result and the raw output. It fails the test unless exactly one JSON object
// followed by a newline was written.
func run(t *testing.T, content string, spec Spec, h Handler) (int, map[string]any, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "args")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return runPath(t, path, spec, h)
}

func runPath(t *testing.T, path string, spec Spec, h Handler) (int, map[string]any, string) {
	t.Helper()
	var buf bytes.Buffer
	code := Run(path, &buf, spec, h)
	raw := buf.String()
	if !strings.HasSuffix(raw, "}\n") || strings.Count(raw, "\n") != 1 {
		t.Fatalf("output is not one JSON object and a newline: %q", raw)
	}
	dec := json.NewDecoder(strings.NewReader(raw))
	var out map[string]any
	if err := dec.Decode(&out); err != nil {
		t.Fatalf("output is not a JSON object: %v: %q", err, raw)
	}
	if dec.More() {
		t.Fatalf("output holds more than one JSON value: %q", raw)
	}
	return code, out, raw
}

// args builds an argument file from user parameters and control keys.
func args(t *testing.T, kv map[string]any) string {
	t.Helper()
	b, err := json.Marshal(kv)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func mustNotCall(t *testing.T) Handler {
	return func(*Ctx) (Result, error) {
		t.Error("handler called")
		return Result{}, nil
	}
}

func TestRunBadArgumentFile(t *testing.T) {
	t.Parallel()
	spec := Spec{{Name: "a", Type: TypeInt}}
	tests := []struct {
		name    string
		content string
		wantMsg string
	}{
		{name: "empty", content: "", wantMsg: "the argument file is empty"},
		{name: "blank", content: " \n\t\n", wantMsg: "the argument file is empty"},
		{name: "truncated", content: `{"a": 1, "b": `, wantMsg: "it is truncated"},
		{name: "truncated key", content: `{"a`, wantMsg: "the argument file is not a JSON object"},
		{name: "not JSON", content: "a=1 b=2", wantMsg: "syntax error at byte"},
		{name: "array", content: `[{"a": 1}]`, wantMsg: "found a JSON array"},
		{name: "string", content: `"a"`, wantMsg: "found a JSON string"},
		{name: "number", content: `5`, wantMsg: "found a JSON number"},
		{name: "null", content: `null`, wantMsg: "(null)"},
		{name: "two objects", content: `{"a": 1} {"a": 2}`, wantMsg: "more than one JSON value"},
		{name: "object then number", content: "{\"a\": 1}\n7", wantMsg: "more than one JSON value"},
		{name: "stray closing brace", content: `{"a": 1}}`, wantMsg: "trailing data"},
		{name: "stray closing bracket", content: "{\"a\": 1}\n]\n", wantMsg: "trailing data"},
		{name: "object then text", content: `{"a": 1} trailing`, wantMsg: "trailing data"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, out, _ := run(t, tt.content, spec, mustNotCall(t))
			if code != 1 {
				t.Errorf("exit status = %d, want 1", code)
			}
			if got, _ := out["failed"].(bool); !got {
				t.Errorf("failed = %v, want true", out["failed"])
			}
			if got, _ := out["changed"].(bool); got {
				t.Errorf("changed = true, want false")
			}
			msg, _ := out["msg"].(string)
			if !strings.Contains(msg, tt.wantMsg) {
				t.Errorf("msg = %q, want it to contain %q", msg, tt.wantMsg)
			}
			if diff := cmp.Diff(map[string]any{"module_args": map[string]any{}}, out["invocation"]); diff != "" {
				t.Errorf("invocation mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// Arguments on standard input (ArgsFile's second form) are read to their end and decoded as an
// argument file is; an empty or truncated input fails the task with a clear message.
func TestRunReader(t *testing.T) {
	t.Parallel()
	spec := Spec{{Name: "name", Type: TypeStr, Required: true}}
	tests := []struct {
		name, in, wantMsg string
		wantCode          int
	}{
		{name: "one JSON object", in: `{"name": "x", "_ansible_check_mode": true}` + "\n", wantMsg: "x check=true", wantCode: 0},
		{name: "empty", in: "", wantMsg: "the argument file is empty", wantCode: 1},
		{name: "truncated", in: `{"name": "x"`, wantMsg: "it is truncated", wantCode: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer
			code := RunReader(strings.NewReader(tt.in), &out, spec, func(c *Ctx) (Result, error) {
				return Result{Msg: fmt.Sprintf("%s check=%v", c.Params.Str("name"), c.CheckMode)}, nil
			})
			var res map[string]any
			if err := json.Unmarshal(out.Bytes(), &res); err != nil {
				t.Fatalf("not one JSON object: %q", out.String())
			}
			if msg, _ := res["msg"].(string); code != tt.wantCode || !strings.Contains(msg, tt.wantMsg) {
				t.Errorf("exit %d, msg %q; want %d, %q", code, msg, tt.wantCode, tt.wantMsg)
			}
		})
	}
}

func TestRunMissingArgumentFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "nope")
	code, out, _ := runPath(t, path, nil, mustNotCall(t))
	if code != 1 || out["failed"] != true {
		t.Errorf("exit %d, failed %v; want 1, true", code, out["failed"])
	}
	if msg, _ := out["msg"].(string); !strings.Contains(msg, "cannot read the argument file") || !strings.Contains(msg, path) {
		t.Errorf("msg = %q, want the cause and the path", msg)
	}
}

func TestParseArgs(t *testing.T) {
	t.Parallel()
	all, user, err := ParseArgs([]byte(`{"a": 1, "_ansible_check_mode": true, "_ansible_brand_new": [1]}`))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]any{"a": float64(1)}, user); diff != "" {
		t.Errorf("user mismatch (-want +got):\n%s", diff)
	}
	if got, want := len(all), 3; got != want {
		t.Errorf("len(all) = %d, want %d", got, want)
	}
	big := make([]byte, maxArgsSize+1)
	if _, _, err := ParseArgs(big); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("ParseArgs(too big) error = %v, want 'larger than'", err)
	}
}

func TestRunControlKeys(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		kv   map[string]any
		want Control
	}{
		{
			name: "defaults",
			kv:   map[string]any{},
			want: Control{},
		},
		{
			name: "all known keys",
			kv: map[string]any{
				"_ansible_check_mode": true, "_ansible_diff": true, "_ansible_no_log": true,
				"_ansible_verbosity": 4, "_ansible_version": "2.14.18",
				"_ansible_module_name": "resilience.ops.qos_guard", "_ansible_syslog_facility": "LOG_USER",
			},
			want: Control{CheckMode: true, Diff: true, NoLog: true, Verbosity: 4, Version: "2.14.18",
				ModuleName: "resilience.ops.qos_guard", SyslogFacility: "LOG_USER"},
		},
		{
			name: "unknown and null ansible keys are ignored",
			kv: map[string]any{
				"_ansible_check_mode": true, "_ansible_tmpdir": nil, "_ansible_remote_tmp": "~/.ansible/tmp",
				"_ansible_keep_remote_files": false, "_ansible_shell_executable": "/bin/sh",
				"_ansible_some_future_key": map[string]any{"x": []any{1, 2}},
			},
			want: Control{CheckMode: true},
		},
		{
			name: "a malformed control key keeps its zero value, the others decode",
			kv:   map[string]any{"_ansible_verbosity": "high", "_ansible_check_mode": true, "_ansible_diff": true},
			want: Control{CheckMode: true, Diff: true},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			kv := map[string]any{"a": "x"}
			for k, v := range tt.kv {
				kv[k] = v
			}
			var got Control
			var gotParams Params
			code, out, _ := run(t, args(t, kv), Spec{{Name: "a"}}, func(c *Ctx) (Result, error) {
				got, gotParams = c.Control, c.Params
				return Result{}, nil
			})
			if code != 0 {
				t.Fatalf("exit status = %d, want 0 (%v)", code, out["msg"])
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Control mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(Params{"a": "x"}, gotParams); diff != "" {
				t.Errorf("Params mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(map[string]any{"a": "x"}, out["invocation"].(map[string]any)["module_args"]); diff != "" {
				t.Errorf("module_args must hold no _ansible_ key (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRunUnknownParameter(t *testing.T) {
	t.Parallel()
	spec := Spec{{Name: "state", Choices: []string{"locked", "unlocked"}}, {Name: "minutes", Type: TypeInt}}
	code, out, _ := run(t, args(t, map[string]any{"state": "locked", "minuts": 5, "_ansible_verbosity": 1}), spec, mustNotCall(t))
	if code != 1 || out["failed"] != true {
		t.Fatalf("exit %d, failed %v; want 1, true", code, out["failed"])
	}
	if got, want := out["msg"], "parameter minuts: unsupported parameter; supported parameters are: minutes, state"; got != want {
		t.Errorf("msg = %q, want %q", got, want)
	}
	// The raw arguments are shown so that the user sees what was sent.
	if diff := cmp.Diff(map[string]any{"state": "locked", "minuts": float64(5)}, out["invocation"].(map[string]any)["module_args"]); diff != "" {
		t.Errorf("module_args mismatch (-want +got):\n%s", diff)
	}
}

func TestRunBadValue(t *testing.T) {
	t.Parallel()
	lo, hi := Range(1, 60)
	spec := Spec{{Name: "minutes", Type: TypeInt, Min: lo, Max: hi}}
	code, out, _ := run(t, `{"minutes": "90"}`, spec, mustNotCall(t))
	if code != 1 {
		t.Errorf("exit status = %d, want 1", code)
	}
	if got, want := out["msg"], "parameter minutes: must be between 1 and 60, got 90"; got != want {
		t.Errorf("msg = %q, want %q", got, want)
	}
}

type payload struct {
	Count  int      `json:"count"`
	Names  []string `json:"names"`
	Nested struct {
		OK bool `json:"ok"`
	} `json:"nested"`
}

func TestRunSuccess(t *testing.T) {
	t.Parallel()
	spec := Spec{{Name: "name", Required: true}, {Name: "count", Type: TypeInt, Default: int64(2)}}
	code, out, _ := run(t, `{"name": "x", "_ansible_module_name": "m"}`, spec, func(c *Ctx) (Result, error) {
		c.Warn("watch %s", "out")
		c.Deprecate(Deprecation{Msg: "old", Version: "2.0.0"})
		c.Deprecate(Deprecation{Msg: "older", Date: "2026-01-01", CollectionName: "other.col"})
		p := payload{Count: int(c.Params.Int("count")), Names: []string{c.Params.Str("name")}}
		p.Nested.OK = true
		return Result{Changed: true, Msg: "done", Data: p}, nil
	})
	if code != 0 {
		t.Fatalf("exit status = %d, want 0: %v", code, out)
	}
	want := map[string]any{
		"changed": true,
		"msg":     "done",
		"count":   float64(2),
		"names":   []any{"x"},
		"nested":  map[string]any{"ok": true},
		"warnings": []any{
			"watch out",
		},
		"deprecations": []any{
			map[string]any{"msg": "old", "version": "2.0.0", "collection_name": "resilience.ops"},
			map[string]any{"msg": "older", "date": "2026-01-01", "collection_name": "other.col"},
		},
		"invocation": map[string]any{"module_args": map[string]any{"name": "x", "count": float64(2)}},
	}
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("result mismatch (-want +got):\n%s", diff)
	}
}

func TestRunMinimalResult(t *testing.T) {
	t.Parallel()
	code, out, _ := run(t, `{}`, nil, func(*Ctx) (Result, error) { return Result{}, nil })
	if code != 0 {
		t.Errorf("exit status = %d, want 0", code)
	}
	want := map[string]any{"changed": false, "invocation": map[string]any{"module_args": map[string]any{}}}
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("result mismatch (-want +got):\n%s", diff)
	}
}

func TestRunResultControlKeysWin(t *testing.T) {
	t.Parallel()
	// Data may not override the runtime's changed flag.
	code, out, _ := run(t, `{}`, nil, func(*Ctx) (Result, error) {
		return Result{Changed: false, Data: map[string]any{"changed": true, "value": 1}}, nil
	})
	if code != 0 || out["changed"] != false || out["value"] != float64(1) {
		t.Errorf("exit %d, result %v: want exit 0, changed false, value 1", code, out)
	}
}

func TestRunBadData(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		data    any
		wantMsg string
	}{
		{name: "not an object", data: []int{1, 2}, wantMsg: "the module result is not a JSON object"},
		{name: "not encodable", data: map[string]any{"x": math.NaN()}, wantMsg: "cannot encode the module result"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, out, _ := run(t, `{}`, nil, func(*Ctx) (Result, error) {
				return Result{Changed: true, Data: tt.data}, nil
			})
			if code != 1 || out["failed"] != true {
				t.Errorf("exit %d, failed %v; want 1, true", code, out["failed"])
			}
			if msg, _ := out["msg"].(string); !strings.Contains(msg, tt.wantMsg) {
				t.Errorf("msg = %q, want it to contain %q", msg, tt.wantMsg)
			}
		})
	}
}

func TestRunDiff(t *testing.T) {
	t.Parallel()
	h := func(*Ctx) (Result, error) {
		return Result{Changed: true, Diff: &Diff{Before: "a\n", After: "b\n", BeforeHeader: "old"}}, nil
	}
	tests := []struct {
		name string
		args string
		want any
	}{
		{name: "with --diff", args: `{"_ansible_diff": true}`, want: map[string]any{"before": "a\n", "after": "b\n", "before_header": "old"}},
		{name: "without --diff", args: `{"_ansible_diff": false}`, want: nil},
		{name: "diff key absent", args: `{}`, want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, out, _ := run(t, tt.args, nil, h)
			if diff := cmp.Diff(tt.want, out["diff"]); diff != "" {
				t.Errorf("diff mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestArtifacts(t *testing.T) {
	t.Parallel()
	want := map[string]any{"data": map[string]any{"k": "v"}, "per_host": false, "aggregate": false}
	if diff := cmp.Diff(want, Artifacts(map[string]any{"k": "v"})); diff != "" {
		t.Errorf("Artifacts mismatch (-want +got):\n%s", diff)
	}
	code, out, _ := run(t, `{}`, nil, func(*Ctx) (Result, error) {
		return Result{Stats: map[string]any{"guard_locked": true, "n": 2}}, nil
	})
	if code != 0 {
		t.Fatalf("exit status = %d", code)
	}
	wantOut := map[string]any{"data": map[string]any{"guard_locked": true, "n": float64(2)}, "per_host": false, "aggregate": false}
	if diff := cmp.Diff(wantOut, out["ansible_stats"]); diff != "" {
		t.Errorf("ansible_stats mismatch (-want +got):\n%s", diff)
	}
	_, out, _ = run(t, `{}`, nil, func(*Ctx) (Result, error) { return Result{}, nil })
	if _, ok := out["ansible_stats"]; ok {
		t.Errorf("ansible_stats present without Stats: %v", out["ansible_stats"])
	}
}

func TestRunFailure(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
		want map[string]any
	}{
		{
			name: "Failure with data and stats",
			err: &Failure{Msg: "guard is locked", Changed: true, Data: map[string]any{"lock_id": "abc", "remaining_seconds": 60},
				Stats: map[string]any{"blocked": true}},
			want: map[string]any{
				"failed": true, "changed": true, "msg": "guard is locked", "lock_id": "abc", "remaining_seconds": float64(60),
				"ansible_stats": map[string]any{"data": map[string]any{"blocked": true}, "per_host": false, "aggregate": false},
			},
		},
		{
			name: "wrapped Failure keeps its data and the outer message",
			err:  fmt.Errorf("qos: %w", &Failure{Msg: "inner", Data: payload{Count: 1}}),
			want: map[string]any{
				"failed": true, "changed": false, "msg": "qos: inner",
				"count": float64(1), "names": nil, "nested": map[string]any{"ok": false},
			},
		},
		{
			name: "Failf",
			err:  Failf("bad %d", 7),
			want: map[string]any{"failed": true, "changed": false, "msg": "bad 7"},
		},
		{
			name: "Failure data cannot claim success",
			err:  &Failure{Msg: "no", Data: map[string]any{"failed": false, "msg": "fine"}},
			want: map[string]any{"failed": true, "changed": false, "msg": "no"},
		},
		{
			name: "plain error",
			err:  errors.New("boom"),
			want: map[string]any{"failed": true, "changed": false, "msg": "boom"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, out, _ := run(t, `{}`, nil, func(*Ctx) (Result, error) {
				// The Result is ignored when an error is returned.
				return Result{Changed: true, Msg: "ignored", Stats: map[string]any{"ignored": true}}, tt.err
			})
			if code != 1 {
				t.Errorf("exit status = %d, want 1", code)
			}
			delete(out, "invocation")
			if diff := cmp.Diff(tt.want, out); diff != "" {
				t.Errorf("result mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRunPanic(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		verbosity     int
		wantException bool
	}{
		{name: "verbosity 0", verbosity: 0},
		{name: "verbosity 2", verbosity: 2},
		{name: "verbosity 3", verbosity: 3, wantException: true},
		{name: "verbosity 5", verbosity: 5, wantException: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := args(t, map[string]any{"_ansible_verbosity": tt.verbosity, "_ansible_module_name": "resilience.ops.qos_guard"})
			code, out, _ := run(t, a, nil, func(c *Ctx) (Result, error) {
				c.Warn("before the panic")
				panic("first line\nsecond line")
			})
			if code != 1 || out["failed"] != true || out["changed"] != false {
				t.Errorf("exit %d, failed %v, changed %v; want 1, true, false", code, out["failed"], out["changed"])
			}
			if got, want := out["msg"], "internal error in module resilience.ops.qos_guard: first line"; got != want {
				t.Errorf("msg = %q, want %q", got, want)
			}
			exc, ok := out["exception"].(string)
			if ok != tt.wantException {
				t.Fatalf("exception present = %v, want %v", ok, tt.wantException)
			}
			if tt.wantException && (!strings.Contains(exc, "goroutine") || !strings.Contains(exc, "TestRunPanic")) {
				t.Errorf("exception does not hold the stack: %q", exc)
			}
			if diff := cmp.Diff([]any{"before the panic"}, out["warnings"]); diff != "" {
				t.Errorf("warnings mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRunPanicWithError(t *testing.T) {
	t.Parallel()
	code, out, _ := run(t, `{}`, nil, func(*Ctx) (Result, error) {
		var m map[string]int
		m["x"] = 1 // runtime error
		return Result{}, nil
	})
	if code != 1 {
		t.Errorf("exit status = %d, want 1", code)
	}
	if got, want := out["msg"], "internal error in module resilience.ops: assignment to entry in nil map"; got != want {
		t.Errorf("msg = %q, want %q", got, want)
	}
}

func TestRunMasksSecretsInInvocation(t *testing.T) {
	t.Parallel()
	spec := Spec{
		{Name: "password", Secret: true, Aliases: []string{"pass_alias"}},
		{Name: "api_token", Secret: true},
		{Name: "key_file", Type: TypePath}, // secret-looking name, declared not secret
		{Name: "url"},
		{Name: "headers", Type: TypeDict},
		{Name: "targets", Type: TypeRaw},
		{Name: "optional_secret", Secret: true},
	}
	tests := []struct {
		name       string
		kv         map[string]any
		wantFailed bool
		wantArgs   map[string]any
		secrets    []string // must appear nowhere in the output
	}{
		{
			name: "declared secrets and nested secret keys",
			kv: map[string]any{
				"password": "hunter22", "api_token": "tok-123456", "key_file": "/etc/k.pem", "url": "https://h",
				"headers": map[string]any{"auth_header": "Bearer abcdef", "X-Api-Key": "k-98765", "accept": "json",
					"nested": map[string]any{"client_secret": "s3cr3t!"}},
				"targets": []any{map[string]any{"host": "a", "password": "listpw99"}},
			},
			wantArgs: map[string]any{
				"password": Masked, "api_token": Masked, "key_file": "/etc/k.pem", "url": "https://h",
				"headers": map[string]any{"auth_header": Masked, "X-Api-Key": Masked, "accept": "json",
					"nested": map[string]any{"client_secret": Masked}},
				"targets": []any{map[string]any{"host": "a", "password": Masked}},
			},
			secrets: []string{"hunter22", "tok-123456", "Bearer abcdef", "k-98765", "s3cr3t!", "listpw99"},
		},
		{
			name:     "secret given by alias",
			kv:       map[string]any{"pass_alias": "hunter22"},
			wantArgs: map[string]any{"password": Masked},
			secrets:  []string{"hunter22"},
		},
		{
			name:       "secret given by alias on a rejected call",
			kv:         map[string]any{"pass_alias": "hunter22", "bogus": 1},
			wantFailed: true,
			wantArgs:   map[string]any{"pass_alias": Masked, "bogus": float64(1)},
			secrets:    []string{"hunter22"},
		},
		{
			name:       "misspelled secret parameter is masked although unknown",
			kv:         map[string]any{"pasword": "hunter22", "url": "https://h"},
			wantFailed: true,
			wantArgs:   map[string]any{"pasword": Masked, "url": "https://h"},
			secrets:    []string{"hunter22"},
		},
		{
			name: "misspelled secret-looking keys of all kinds",
			kv: map[string]any{"apitoken": "t0ken-1", "webhook_url": "https://hooks/x1y2", "credentials": map[string]any{"user": "u", "pw": "pw-9876"},
				"Auth": "zz-4321", "paswd": "pw-5555", "db_pwd": "pw-6666", "PASSWRD": "pw-7777", "sshkey": "pw-8888"},
			wantFailed: true,
			wantArgs: map[string]any{"apitoken": Masked, "webhook_url": Masked, "Auth": Masked,
				"credentials": Masked, "paswd": Masked, "db_pwd": Masked, "PASSWRD": Masked, "sshkey": Masked},
			secrets: []string{"t0ken-1", "https://hooks/x1y2", "pw-9876", "zz-4321", "pw-5555", "pw-6666", "pw-7777", "pw-8888"},
		},
		{
			name:     "null secret stays null",
			kv:       map[string]any{"password": "hunter22", "optional_secret": nil},
			wantArgs: map[string]any{"password": Masked},
			secrets:  []string{"hunter22"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := func(*Ctx) (Result, error) { return Result{Msg: "ok"}, nil }
			if tt.wantFailed {
				h = mustNotCall(t)
			}
			code, out, raw := run(t, args(t, tt.kv), spec, h)
			if got := out["failed"] == true; got != tt.wantFailed || (code == 1) != tt.wantFailed {
				t.Errorf("exit %d, failed %v; want failed %v", code, out["failed"], tt.wantFailed)
			}
			if diff := cmp.Diff(tt.wantArgs, out["invocation"].(map[string]any)["module_args"]); diff != "" {
				t.Errorf("module_args mismatch (-want +got):\n%s", diff)
			}
			for _, s := range tt.secrets {
				if strings.Contains(raw, s) {
					t.Errorf("output holds secret %q: %s", s, raw)
				}
			}
		})
	}
}

func TestRunScrubsSecretValues(t *testing.T) {
	t.Parallel()
	spec := Spec{
		{Name: "password", Secret: true},
		{Name: "webhook", Type: TypeDict},
		{Name: "name"},
	}
	a := `{"password": "hunter22", "name": "svc", "webhook": {"url": "https://h", "auth_header": "Bearer zyx987"}, "_ansible_verbosity": 3}`
	tests := []struct {
		name string
		h    Handler
		want map[string]any // keys checked; values compared exactly
	}{
		{
			name: "msg, data and warnings",
			h: func(c *Ctx) (Result, error) {
				c.Warn("login with %s failed once", c.Params.Str("password"))
				hdr := c.Params.Dict("webhook")["auth_header"].(string)
				return Result{
					Msg:  "used hunter22 and " + hdr,
					Data: map[string]any{"echo": []any{"x-hunter22-x", map[string]any{"h": hdr}}, "name": c.Params.Str("name")},
				}, nil
			},
			want: map[string]any{
				"msg":      "used ******** and ********",
				"echo":     []any{"x-********-x", map[string]any{"h": "********"}},
				"name":     "svc",
				"warnings": []any{"login with ******** failed once"},
			},
		},
		{
			name: "failure message and data",
			h: func(c *Ctx) (Result, error) {
				return Result{}, &Failure{Msg: "auth hunter22 rejected", Data: map[string]any{"sent": "Bearer zyx987"}}
			},
			want: map[string]any{"msg": "auth ******** rejected", "sent": "********"},
		},
		{
			name: "panic message and stack",
			h: func(c *Ctx) (Result, error) {
				panic("cannot use hunter22")
			},
			want: map[string]any{"msg": "internal error in module resilience.ops: cannot use ********"},
		},
		{
			name: "diff and stats",
			h: func(c *Ctx) (Result, error) {
				return Result{Diff: &Diff{Before: "pw=hunter22", After: ""}, Stats: map[string]any{"p": "hunter22"}}, nil
			},
			want: map[string]any{"ansible_stats": map[string]any{"data": map[string]any{"p": "********"}, "per_host": false, "aggregate": false}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, out, raw := run(t, a, spec, tt.h)
			for k, want := range tt.want {
				if diff := cmp.Diff(want, out[k]); diff != "" {
					t.Errorf("%s mismatch (-want +got):\n%s", k, diff)
				}
			}
			for _, s := range []string{"hunter22", "zyx987"} {
				if strings.Contains(raw, s) {
					t.Errorf("output holds secret %q: %s", s, raw)
				}
			}
			// Non-secret values stay readable.
			if !strings.Contains(raw, `"name":"svc"`) || !strings.Contains(raw, "https://h") {
				t.Errorf("non-secret values were scrubbed: %s", raw)
			}
		})
	}
}

// A server that echoes the request sends secrets back encoded: the Basic token of url_username and
// url_password or of the credentials in a URL, a password JSON-escaped or URL-encoded. Every form
// is scrubbed from msg, warnings, data and nested JSON.
func TestRunScrubsEchoedForms(t *testing.T) {
	t.Parallel()
	spec := Spec{
		{Name: "url_username"},
		{Name: "url_password", Secret: true},
		{Name: "url"},
		{Name: "etcd_password", Secret: true},
	}
	a := `{"url_username": "deploy", "url_password": "pw-ü/42+x", "url": "https://svc:c0rrect-h0rse@api.example/v1",` +
		` "etcd_password": "et\"cd-secret"}`
	basic := func(u, p string) string { return base64.StdEncoding.EncodeToString([]byte(u + ":" + p)) }
	quoted, _ := json.Marshal(`et"cd-secret`)
	echoes := []string{
		"Authorization: Basic " + basic("deploy", "pw-ü/42+x"),
		"Authorization: Basic " + basic("svc", "c0rrect-h0rse"),
		`{"name":"root","password":` + string(quoted) + `}`,
		"GET /?p=" + url.QueryEscape("pw-ü/42+x"),
	}
	h := func(c *Ctx) (Result, error) {
		for _, e := range echoes {
			c.Warn("server said: %s", e)
		}
		return Result{}, &Failure{Msg: "rejected: " + strings.Join(echoes, " | "),
			Data: map[string]any{"response": map[string]any{"body": strings.Join(echoes, "\n"), "json": map[string]any{"echo": echoes}}}}
	}
	_, out, raw := run(t, a, spec, h)
	if out["failed"] != true || len(out["warnings"].([]any)) != len(echoes) {
		t.Fatalf("unexpected result: %s", raw)
	}
	for _, leak := range []string{"pw-", "c0rrect", "cd-secret", basic("deploy", "pw-ü/42+x")[8:], basic("svc", "c0rrect-h0rse")[6:]} {
		if strings.Contains(raw, leak) {
			t.Errorf("output holds %q: %s", leak, raw)
		}
	}
}

func TestRunCheckModeReachesHandler(t *testing.T) {
	t.Parallel()
	for _, check := range []bool{false, true} {
		var got bool
		code, _, _ := run(t, args(t, map[string]any{"_ansible_check_mode": check}), nil, func(c *Ctx) (Result, error) {
			got = c.CheckMode
			return Result{Changed: true}, nil
		})
		if code != 0 || got != check {
			t.Errorf("check mode %v: exit %d, handler saw %v", check, code, got)
		}
	}
}

// TestArgsFile: module mode is entered only the way ansible-core runs a binary module
// (<tmpdir>/AnsiballZ_<name> <tmpdir>/args); every other command line stays a command line,
// whatever files the working directory holds.
func TestArgsFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	args := filepath.Join(dir, "args")
	prog := filepath.Join(dir, "AnsiballZ_qos_guard_linux_amd64")
	tests := []struct {
		name string
		argv []string
		want bool
	}{
		{name: "as ansible-core runs it", argv: []string{prog, args}, want: true},
		{name: "async_wrapper, the same two words", argv: []string{prog, args}, want: true},
		{name: "from the kept temporary directory", argv: []string{"./AnsiballZ_qos_guard", "args"}, want: true},
		{name: "relative, same directory", argv: []string{"AnsiballZ_qos_guard", "./args"}, want: true},
		{name: "no program name", argv: nil, want: false},
		{name: "no argument", argv: []string{prog}, want: false},
		{name: "an installed tool on a file named status", argv: []string{"/usr/local/sbin/qos_guard", "status"}, want: false},
		{name: "an installed tool on a file named args", argv: []string{"qos_guard", "args"}, want: false},
		{name: "a flag that names a file", argv: []string{"qos_guard_release", "--wait"}, want: false},
		{name: "an argument file of another name", argv: []string{prog, filepath.Join(dir, "lock")}, want: false},
		{name: "args in another directory", argv: []string{prog, filepath.Join(t.TempDir(), "args")}, want: false},
		{name: "args in the working directory", argv: []string{prog, "args"}, want: false},
		{name: "two arguments", argv: []string{prog, args, args}, want: false},
		{name: "the prefix inside the directory, not the name", argv: []string{filepath.Join(dir, "AnsiballZ_x", "qos_guard"), filepath.Join(dir, "AnsiballZ_x", "args")}, want: false},
		{name: "the action plugin's cached copy, arguments on stdin", argv: []string{"/home/u/.ansible/resilience.ops/0a1b/AnsiballZ_qos_guard", Stdin}, want: true},
		{name: "an installed tool with a dash", argv: []string{"/usr/local/sbin/qos_guard", Stdin}, want: false},
		{name: "the prefix on the directory, not the name, with a dash", argv: []string{filepath.Join(dir, "AnsiballZ_x", "qos_guard"), Stdin}, want: false},
		{name: "a dash and more", argv: []string{prog, Stdin, args}, want: false},
		{name: "a file named like the dash in another directory", argv: []string{prog, filepath.Join(t.TempDir(), Stdin)}, want: false},
		{name: "a file named like the dash beside it", argv: []string{prog, filepath.Join(dir, Stdin)}, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path, ok := ArgsFile(tt.argv)
			if ok != tt.want {
				t.Fatalf("ArgsFile(%q) = %q, %v, want %v", tt.argv, path, ok, tt.want)
			}
			if ok && path != tt.argv[1] {
				t.Errorf("ArgsFile(%q) = %q, want the argument %q", tt.argv, path, tt.argv[1])
			}
		})
	}
}

func TestRunScrubsURLPasswords(t *testing.T) {
	t.Parallel()
	spec := Spec{{Name: "url"}, {Name: "targets", Type: TypeList, Elements: TypeRaw}, {Name: "n", Type: TypeInt}}
	for _, tt := range []struct {
		name, args string
		h          Handler
	}{
		{"accepted", `{"url": "https://ops:pa55word@prom.example:9090", "targets": [{"u": "http://a:xyz%2Fw9@h"}]}`,
			func(c *Ctx) (Result, error) {
				return Result{Msg: "cannot reach " + c.Params.Str("url") + " as pa55word"}, nil
			}},
		{"rejected", `{"url": "https://ops:pa55word@prom.example:9090", "targets": [{"u": "http://a:xyz%2Fw9@h"}], "n": "x"}`, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := tt.h
			if h == nil {
				h = func(*Ctx) (Result, error) { t.Error("handler called"); return Result{}, nil }
			}
			_, _, raw := run(t, tt.args, spec, h)
			for _, s := range []string{"pa55word", "xyz%2Fw9", "xyz/w9"} {
				if strings.Contains(raw, s) {
					t.Errorf("output holds the URL password %q: %s", s, raw)
				}
			}
			if !strings.Contains(raw, "https://********@prom.example:9090") {
				t.Errorf("the URL is not readable without its password: %s", raw)
			}
		})
	}
}

// SecretKeys masks and scrubs the values of keys that do not look secret by their names, such as
// the url of a Slack webhook, inside one parameter only.
func TestRunSecretKeys(t *testing.T) {
	t.Parallel()
	spec := Spec{
		{Name: "systems", Type: TypeList, Elements: TypeDict, SecretKeys: []string{"url", "headers"}},
		{Name: "settings", Type: TypeDict, SecretKeys: []string{"url", "headers"}},
		{Name: "url"},
		{Name: "check", Type: TypeDict},
		{Name: "circuit_key"}, // a declared parameter that is not secret, whatever its name says
	}
	hook := "https://hooks.slack.com/services/T0/B0/s3cretPath"
	kv := map[string]any{
		"systems": []any{map[string]any{"name": "chat", "url": hook, "headers": map[string]any{"X-Team": "team-77"}}},
		"settings": map[string]any{"max_attempts": float64(3), "circuit_key": "vcenter01", "external_systems": []any{
			map[string]any{"name": "pg", "url": "http://pushgw.example:9091", "auth_header": "Bearer zz9"}}},
		"url":   "https://api.example.com/v1",
		"check": map[string]any{"url": "https://api.example.com/health"},
	}
	h := func(c *Ctx) (Result, error) {
		return Result{Msg: "posted to " + hook, Data: map[string]any{"echo": c.Params.List("systems")}}, nil
	}
	code, out, raw := run(t, args(t, kv), spec, h)
	if code != 0 {
		t.Fatalf("exit %d: %v", code, out["msg"])
	}
	want := map[string]any{
		"systems": []any{map[string]any{"name": "chat", "url": Masked, "headers": Masked}},
		"settings": map[string]any{"max_attempts": float64(3), "circuit_key": "vcenter01", "external_systems": []any{
			map[string]any{"name": "pg", "url": Masked, "auth_header": Masked}}},
		"url":   "https://api.example.com/v1",
		"check": map[string]any{"url": "https://api.example.com/health"},
	}
	if diff := cmp.Diff(want, out["invocation"].(map[string]any)["module_args"]); diff != "" {
		t.Errorf("module_args mismatch (-want +got):\n%s", diff)
	}
	for _, s := range []string{hook, "s3cretPath", "team-77", "pushgw.example:9091/", "Bearer zz9"} {
		if strings.Contains(raw, s) {
			t.Errorf("output holds secret %q: %s", s, raw)
		}
	}
	if out["msg"] != "posted to ********" {
		t.Errorf("msg = %v", out["msg"])
	}
	// Parameters without SecretKeys keep their URLs.
	if !strings.Contains(raw, "https://api.example.com/health") || !strings.Contains(raw, "https://api.example.com/v1") {
		t.Errorf("non-secret URLs were masked: %s", raw)
	}
}

// TestRunControlBooleans: the boolean control keys are read as ansible-core's Python modules read
// them (convert_bool.boolean), and a value that is not a boolean fails the task before the handler
// runs. `_ansible_check_mode: "yes"` was read as false before, so check mode wrote for real.
func TestRunControlBooleans(t *testing.T) {
	t.Parallel()
	truthy := []any{true, "yes", "YES", " on ", "1", "true", "True", "t", "y", 1.0}
	falsy := []any{false, "no", "No", "off", "0", "false", "f", "n", 0.0, nil}
	keys := map[string]func(Control) bool{
		"_ansible_check_mode": func(c Control) bool { return c.CheckMode },
		"_ansible_diff":       func(c Control) bool { return c.Diff },
		"_ansible_no_log":     func(c Control) bool { return c.NoLog },
	}
	for key, field := range keys {
		for _, vals := range []struct {
			want bool
			list []any
		}{{true, truthy}, {false, falsy}} {
			for _, v := range vals.list {
				var got Control
				code, out, _ := run(t, args(t, map[string]any{key: v}), nil, func(c *Ctx) (Result, error) {
					got = c.Control
					return Result{}, nil
				})
				if code != 0 || field(got) != vals.want {
					t.Errorf("%s: %#v: exit %d (%v), read as %v, want %v", key, v, code, out["msg"], field(got), vals.want)
				}
			}
		}
	}
	for _, key := range []string{"_ansible_check_mode", "_ansible_diff", "_ansible_no_log", "_ansible_debug", "_ansible_keep_remote_files"} {
		for _, v := range []any{"maybe", "", "2", "1.0", "yes please", 2.0, -1.0, 0.5, []any{true}, map[string]any{"a": true}} {
			code, out, _ := run(t, args(t, map[string]any{key: v, "_ansible_check_mode_is_not_this": true}), nil, mustNotCall(t))
			msg, _ := out["msg"].(string)
			if code != 1 || out["failed"] != true || !strings.Contains(msg, key+": ") || !strings.Contains(msg, "not a valid boolean") {
				t.Errorf("%s: %#v: exit %d, result %v; want a failure naming the key", key, v, code, out)
			}
		}
	}
}

// TestDecodeControlFailsClosed: when a boolean control key cannot be read, the control settings
// returned with the error are in check mode and no_log, so that nothing is written or logged.
func TestDecodeControlFailsClosed(t *testing.T) {
	t.Parallel()
	c, err := decodeControl(map[string]any{"_ansible_diff": "perhaps", "_ansible_check_mode": false, "_ansible_no_log": false,
		"_ansible_verbosity": 3, "_ansible_module_name": "m"})
	if err == nil || !c.CheckMode || !c.NoLog || c.Verbosity != 3 || c.ModuleName != "m" {
		t.Errorf("decodeControl = %+v, %v; want check mode and no_log with an error", c, err)
	}
}
