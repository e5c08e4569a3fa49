package module_test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"resilience.ops/internal/modtest"
	"resilience.ops/internal/module"
)

// pyBoolean reads each JSON value of values with ansible-core's own
// module_utils.parsing.convert_bool.boolean, as AnsibleModule reads the `_ansible_*` booleans, and
// returns "true", "false" or "error" for each.
const pyBoolean = `
import json, sys
from ansible.module_utils.parsing.convert_bool import boolean
out = []
for v in json.load(sys.stdin):
    try:
        out.append("true" if boolean(v) else "false")
    except TypeError:
        out.append("error")
print(json.dumps(out))
`

// TestControlBooleansAsAnsibleCore compares the runtime with ansible-core itself: for every
// value, `_ansible_check_mode` means check mode exactly when ansible-core's boolean() says true,
// and fails the task exactly when boolean() raises (AnsibleModule then fails the task too).
func TestControlBooleansAsAnsibleCore(t *testing.T) {
	python := modtest.DebianBinary(t, "python3", "ansible-core")
	values := []any{true, false, "yes", "YES", "Yes", " yes ", "no", "on", "off", "ON", "1", "0", "true", "false",
		"True", "FALSE", "t", "f", "T", "y", "n", "Y", "N", "\tyes\n", 1, 0, 1.0, 0.0, 2, -1, 0.5, 1.5, "2", "1.0",
		"0.0", "", " ", "maybe", "yes please", "nein", "none", "null", "oui", "enabled", []any{}, []any{true},
		map[string]any{}, map[string]any{"a": 1}}
	in, _ := json.Marshal(values)
	cmd := exec.Command(python, "-c", pyBoolean)
	cmd.Stdin = bytes.NewReader(in)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ansible-core's boolean(): %v (is Debian's ansible-core installed for %s?)", err, python)
	}
	var want []string
	if err := json.Unmarshal(out, &want); err != nil || len(want) != len(values) {
		t.Fatalf("python answered %q: %v", out, err)
	}
	for i, v := range values {
		b, _ := json.Marshal(map[string]any{"_ansible_check_mode": v})
		path := filepath.Join(t.TempDir(), "args")
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		got := "error"
		var res bytes.Buffer
		module.Run(path, &res, nil, func(c *module.Ctx) (module.Result, error) {
			got = map[bool]string{true: "true", false: "false"}[c.CheckMode]
			return module.Result{}, nil
		})
		if got != want[i] {
			t.Errorf("_ansible_check_mode %s: the module reads %s, ansible-core reads %s (result %s)", b, got, want[i], res.String())
		}
	}
}
