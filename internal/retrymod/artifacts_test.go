package retrymod

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"

	"resilience.ops/internal/fakeclock"
	"resilience.ops/internal/manager"
	"resilience.ops/internal/modtest"
	"resilience.ops/internal/module"
	"resilience.ops/internal/record"
	"resilience.ops/internal/session"
)

// publishedAt is the clock reading at which the tests' artifacts are published.
var publishedAt = time.Date(2026, 3, 4, 5, 6, 7, 890, time.UTC)

// runModuleAt runs the module like runModule, with now fixed at publishedAt.
func runModuleAt(t *testing.T, args map[string]any) (map[string]any, int) {
	t.Helper()
	b, err := json.Marshal(args)
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "args")
	if err := os.WriteFile(f, b, 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	clk := fakeclock.New(publishedAt) // every reading a millisecond later: still publishedAt's second
	clk.SetTick(time.Millisecond)
	d := deps{rnd: zero, clock: clk}
	code := module.Run(f, &out, Spec, func(c *module.Ctx) (module.Result, error) { return handle(c, d) })
	var res map[string]any
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("output is not one JSON object: %v: %q", err, out.String())
	}
	return res, code
}

// statsOf returns the data of the result's ansible_stats after checking that ansible-core will
// publish them as AAP artifacts (per_host false, not aggregated); nil when there are none.
func statsOf(t *testing.T, res map[string]any) map[string]any {
	t.Helper()
	raw, ok := res["ansible_stats"]
	if !ok {
		return nil
	}
	st, _ := raw.(map[string]any)
	if st["per_host"] != false || st["aggregate"] != false {
		t.Errorf("ansible_stats = %v, want per_host and aggregate false", st)
	}
	data, _ := st["data"].(map[string]any)
	if len(data) == 0 {
		t.Errorf("ansible_stats without data: %v", st)
	}
	return data
}

func TestRunArtifacts(t *testing.T) {
	t.Parallel()
	state := t.TempDir()
	tests := []struct {
		name     string
		args     map[string]any
		wantCode int
		// want are the artifacts besides retry_operation_id and retry_execution_time, which are
		// compared with the result's own values.
		want map[string]any
	}{
		{"success", map[string]any{"operation": "vmware_vm_create", "argv": []string{"true"}}, 0, map[string]any{
			"retry_current_operation": "vmware_vm_create", "retry_operation_status": "completed", "retry_attempt_count": 1.0,
			"retry_operation_success": true, "retry_timestamp": "2026-03-04T05:06:07Z"}},
		{"failure carries them too", map[string]any{"operation": "vmware_login", "argv": []string{"false"}, "max_attempts": 2, "base_delay": 0}, 1,
			map[string]any{"retry_current_operation": "vmware_login", "retry_operation_status": "failed", "retry_attempt_count": 2.0,
				"retry_operation_success": false, "retry_timestamp": "2026-03-04T05:06:07Z"}},
		{"a tracked session is named", map[string]any{"operation": "op", "argv": []string{"true"}, "track_session": true,
			"session_id": "retry_1764000000_123456", "state_dir": state}, 0, map[string]any{
			"retry_current_operation": "op", "retry_operation_status": "completed", "retry_attempt_count": 1.0,
			"retry_operation_success": true, "retry_timestamp": "2026-03-04T05:06:07Z", "retry_session_id": "retry_1764000000_123456"}},
		{"a given session id is named", map[string]any{"operation": "op", "argv": []string{"true"}, "session_id": "retry_1764000000_654321"}, 0,
			map[string]any{"retry_current_operation": "op", "retry_operation_status": "completed", "retry_attempt_count": 1.0,
				"retry_operation_success": true, "retry_timestamp": "2026-03-04T05:06:07Z", "retry_session_id": "retry_1764000000_654321"}},
		{"check mode publishes the plan", map[string]any{"operation": "op", "argv": []string{"false"}, "_ansible_check_mode": true}, 0,
			map[string]any{"retry_current_operation": "op", "retry_operation_status": "planned", "retry_attempt_count": 0.0,
				"retry_operation_success": false, "retry_timestamp": "2026-03-04T05:06:07Z"}},
		{"turned off", map[string]any{"operation": "op", "argv": []string{"true"}, "publish_artifacts": false}, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, code := runModuleAt(t, tt.args)
			if code != tt.wantCode {
				t.Fatalf("exit status %d, want %d: %v", code, tt.wantCode, res["msg"])
			}
			got := statsOf(t, res)
			if tt.want == nil {
				if got != nil {
					t.Errorf("artifacts = %v, want none", got)
				}
				return
			}
			if got["retry_operation_id"] != res["operation_id"] || got["retry_execution_time"] != res["execution_time"] {
				t.Errorf("retry_operation_id %v and retry_execution_time %v, want the result's %v and %v",
					got["retry_operation_id"], got["retry_execution_time"], res["operation_id"], res["execution_time"])
			}
			delete(got, "retry_operation_id")
			delete(got, "retry_execution_time")
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("artifacts (-want +got):\n%s", diff)
			}
		})
	}
}

// The artifacts stay small whatever the task gives: a long operation name is cut, and the
// attempts and the output are never among them.
func TestRunArtifactsBounded(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("é", 5000)
	res, _ := runModuleAt(t, map[string]any{"operation": long, "max_attempts": 10, "base_delay": 0,
		"argv": []string{"sh", "-c", "head -c 200000 /dev/zero | tr '\\0' x; exit 1"}, "session_id": "retry_1_1" + long})
	got := statsOf(t, res)
	if len(got) != len(manager.ArtifactKeys) {
		t.Errorf("artifacts %v, want the %d keys %v", got, len(manager.ArtifactKeys), manager.ArtifactKeys)
	}
	b, _ := json.Marshal(got)
	if len(b) > 1024 {
		t.Errorf("artifacts take %d bytes, want at most 1024: %s", len(b), b)
	}
	for _, k := range []string{"retry_current_operation", "retry_session_id"} {
		if s, _ := got[k].(string); len(s) > manager.MaxArtifactText || !strings.HasSuffix(s, "…") {
			t.Errorf("%s is %d bytes, want at most %d ending in …", k, len(s), manager.MaxArtifactText)
		}
	}
	if got["retry_attempt_count"] != 10.0 {
		t.Errorf("retry_attempt_count = %v, want 10", got["retry_attempt_count"])
	}
}

// The notes of plugins/modules/retry_manager.py name exactly the artifacts the module publishes.
func TestDocsArtifacts(t *testing.T) {
	t.Parallel()
	src, err := os.ReadFile("../../plugins/modules/retry_manager.py")
	if err != nil {
		t.Fatal(err)
	}
	text, err := modtest.DocBlock(string(src), "DOCUMENTATION")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Notes []string `yaml:"notes"`
	}
	if err := yaml.Unmarshal([]byte(text), &doc); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, n := range doc.Notes {
		if strings.Contains(n, "AAP job artifacts") {
			for _, m := range regexp.MustCompile(`C\((retry_[a-z_]+)\)`).FindAllStringSubmatch(n, -1) {
				got = append(got, m[1])
			}
		}
	}
	if diff := cmp.Diff(manager.ArtifactKeys, got); diff != "" {
		t.Errorf("artifacts documented in the notes (-go +docs):\n%s", diff)
	}
}

// What finalize returns for the AAP artifacts (the role publishes its summary and
// retry_session_data from it) is bounded whatever the session holds: 600 failed operations of 600
// hosts with long messages and names give the statistics, the counts and the 10 oldest failures,
// each text cut to 256 bytes, in at most 16 KiB; the summary alone does not grow with the session.
func TestFinalizeArtifactsBounded(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	st := &session.Store{Dir: dir}
	const id = "retry_1764000000_000600"
	long := strings.Repeat("é", 3000)
	small := -1
	for i := range 600 {
		msg := fmt.Sprintf("%s failure %d", long, i)
		typ := "connection_error"
		op := record.Operation{OperationID: fmt.Sprintf("op_%d_%06d", i, i), OperationName: "deploy_" + long, Host: fmt.Sprintf("host%04d.%s", i, long),
			Status: record.Failed, AttemptCount: 1, StopReason: "attempts_exhausted", ErrorType: typ,
			Attempts: []record.Attempt{{AttemptNumber: 1, Status: "failed", ErrorType: &typ, ErrorMessage: &msg}}}
		e := session.ErrorEntryOf(&op, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i)*time.Second))
		if _, err := st.RecordOperation(id, op, e); err != nil {
			t.Fatal(err)
		}
		if i == 9 {
			res := mustRun(t, deps{rnd: zero}, map[string]any{"action": "finalize", "state_dir": dir, "session_id": id})
			small = len(summaryJSON(t, res))
		}
	}
	res := mustRun(t, deps{rnd: zero}, map[string]any{"action": "finalize", "state_dir": dir, "session_id": id})
	if res["failure_count"] != 600.0 || res["hosts"] != 600.0 {
		t.Errorf("failure_count %v, hosts %v", res["failure_count"], res["hosts"])
	}
	failures := res["failures"].([]any)
	if len(failures) != session.MaxReportedFailures {
		t.Fatalf("%d failures reported, want %d", len(failures), session.MaxReportedFailures)
	}
	for i, f := range failures {
		e := f.(map[string]any)
		if !strings.HasSuffix(e["operation_id"].(string), fmt.Sprintf("_%06d", i)) {
			t.Errorf("failure %d is %v: the oldest first", i, e["operation_id"])
		}
		for _, k := range []string{"error_message", "operation_name", "host"} {
			if s := e[k].(string); len(s) > 256 || !strings.HasSuffix(s, "…") {
				t.Errorf("failure %d: %s of %d bytes", i, k, len(s))
			}
		}
	}
	artifact, _ := json.Marshal(map[string]any{"summary": summaryJSON(t, res), "failures": failures, "failure_count": res["failure_count"], "hosts": res["hosts"]})
	if len(artifact) > 16<<10 {
		t.Errorf("the artifacts of a finalize take %d bytes, want at most 16 KiB", len(artifact))
	}
	if got := len(summaryJSON(t, res)); got > small+32 { // only the numbers' digits may grow
		t.Errorf("the session summary grew with the session: %d bytes at 10 operations, %d at 600", small, got)
	}
}

// summaryJSON is the session summary of a finalize result, as the role publishes it
// (retry_session_statistics).
func summaryJSON(t *testing.T, res map[string]any) string {
	t.Helper()
	keep := map[string]any{}
	for _, k := range []string{"session_id", "session_start", "session_end", "session_duration", "session_status",
		"call_stack_session_id", "final_statistics", "alerts"} {
		keep[k] = res[k]
	}
	b, _ := json.Marshal(keep)
	return string(b)
}
