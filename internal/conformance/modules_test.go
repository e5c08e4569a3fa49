package conformance

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"resilience.ops/internal/module"
	"resilience.ops/internal/qosguard"
	"resilience.ops/internal/release"
	"resilience.ops/internal/retrymod"
)

// mod is a module under test with the smallest valid arguments for a run in dir.
type mod struct {
	name    string
	spec    module.Spec
	handler module.Handler
	valid   func(dir string) map[string]any
}

var modules = []mod{
	{"qos_guard", qosguard.Spec, qosguard.Handle, func(dir string) map[string]any {
		return map[string]any{"path": filepath.Join(dir, "state", "guard")}
	}},
	{"retry_manager", retrymod.Spec, retrymod.Handle, func(dir string) map[string]any {
		return map[string]any{"operation": "op", "argv": []any{"true"}, "state_dir": filepath.Join(dir, "state")}
	}},
	{"qos_guard_release", release.Spec, release.Handle, func(dir string) map[string]any {
		return map[string]any{"path": filepath.Join(dir, "state", "guard"), "prom_url": "http://127.0.0.1:9", "loki_url": "http://127.0.0.1:9"}
	}},
}

// run runs m on args as ansible-core does and returns the exit status, the decoded result and
// the raw output.
func run(t *testing.T, m mod, dir string, args map[string]any) (int, map[string]any, string) {
	t.Helper()
	b, err := json.Marshal(args)
	if err != nil {
		t.Fatal(err)
	}
	return runRaw(t, m, dir, b)
}

func runRaw(t *testing.T, m mod, dir string, content []byte) (int, map[string]any, string) {
	t.Helper()
	f := filepath.Join(dir, "args.json")
	if err := os.WriteFile(f, content, 0o600); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(f)
	var out bytes.Buffer
	code := module.Run(f, &out, m.spec, m.handler)
	var res map[string]any
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("%s: not one JSON object: %v: %q", m.name, err, out.String())
	}
	if strings.Count(strings.TrimSpace(out.String()), "\n") != 0 {
		t.Errorf("%s: more than one line of output: %q", m.name, out.String())
	}
	return code, res, out.String()
}

// tree lists the files under dir (the state a run would leave).
func tree(t *testing.T, dir string) []string {
	t.Helper()
	var files []string
	_ = filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			files = append(files, p)
		}
		return nil
	})
	return files
}
