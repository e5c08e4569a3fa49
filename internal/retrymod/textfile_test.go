package retrymod

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"resilience.ops/internal/textfile"
)

// With textfile_dir, action run writes the breaker state of the circuit key for node_exporter:
// a failing command opens the breaker, and the file says so.
func TestRunWritesBreakerTextfile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tf := filepath.Join(dir, "textfile")
	if err := os.Mkdir(tf, 0o755); err != nil {
		t.Fatal(err)
	}
	clk := newFakeClock()
	d := deps{rnd: zero, clock: clk}
	key := "vcenter01.example.com"
	args := map[string]any{"operation": "deploy", "argv": []string{"false"}, "state_dir": filepath.Join(dir, "state"),
		"max_attempts": 1, "jitter_enabled": false, "circuit_key": key, "textfile_dir": tf,
		"error_rules":     []any{map[string]any{"error_type": "connection_error", "exit_code": 1}},
		"circuit_breaker": map[string]any{"enabled": true, "failure_threshold": 1, "open_duration": 60}}

	res, code := runWith(t, d, args)
	if code != 1 || sub(t, res, "circuit_breaker")["state"] != "open" {
		t.Fatalf("exit %d, circuit_breaker %v: %v", code, res["circuit_breaker"], res["msg"])
	}
	if w, ok := res["warnings"]; ok {
		t.Errorf("warnings: %v", w)
	}
	until, _ := sub(t, res, "circuit_breaker")["open_until"].(string)
	data, err := os.ReadFile(filepath.Join(tf, textfile.FileName("resilience_circuit_breaker", key)))
	if err != nil {
		t.Fatal(err)
	}
	var samples []string
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if !strings.HasPrefix(l, "#") {
			samples = append(samples, l)
		}
	}
	openUntil := parseUnix(t, until)
	want := []string{
		`resilience_circuit_breaker_state{key="vcenter01.example.com",state="closed"} 0`,
		`resilience_circuit_breaker_state{key="vcenter01.example.com",state="open"} 1`,
		`resilience_circuit_breaker_state{key="vcenter01.example.com",state="half_open"} 0`,
		`resilience_circuit_breaker_open_until_timestamp_seconds{key="vcenter01.example.com"} ` + openUntil,
		`resilience_circuit_breaker_opens_total{key="vcenter01.example.com"} 1`,
	}
	if diff := cmp.Diff(want, samples); diff != "" {
		t.Errorf("samples (-want +got):\n%s\nfile:\n%s", diff, data)
	}
	if !strings.Contains(string(data), "# TYPE resilience_circuit_breaker_opens_total counter\n") {
		t.Errorf("opens_total is not a counter:\n%s", data)
	}

	// Check mode writes nothing.
	if err := os.Remove(filepath.Join(tf, textfile.FileName("resilience_circuit_breaker", key))); err != nil {
		t.Fatal(err)
	}
	args["_ansible_check_mode"] = true
	if _, code := runWith(t, d, args); code != 0 {
		t.Fatalf("check mode: exit %d", code)
	}
	if ents, _ := os.ReadDir(tf); len(ents) != 0 {
		t.Errorf("check mode wrote %v", ents)
	}

	// A missing directory is a warning, not a failure of its own.
	delete(args, "_ansible_check_mode")
	args["textfile_dir"] = filepath.Join(dir, "missing")
	res, _ = runWith(t, d, args)
	if w, _ := res["warnings"].([]any); len(w) != 1 || !strings.Contains(w[0].(string), "circuit breaker metrics") {
		t.Errorf("warnings = %v", res["warnings"])
	}
}

// parseUnix turns an RFC 3339 time of a result into the Unix seconds of the metric.
func parseUnix(t *testing.T, s string) string {
	t.Helper()
	ts, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatalf("open_until %q: %v", s, err)
	}
	return strconv.FormatInt(ts.Unix(), 10)
}
