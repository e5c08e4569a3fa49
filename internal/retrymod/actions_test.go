package retrymod

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"resilience.ops/internal/fakeclock"
	"resilience.ops/internal/modtest"
	"resilience.ops/internal/module"
	"resilience.ops/internal/record"
	"resilience.ops/internal/retry"
	"resilience.ops/internal/session"
)

// runWith runs the module on args with deps d and returns the decoded result and exit status.
func runWith(t *testing.T, d deps, args map[string]any) (map[string]any, int) {
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
	code := module.Run(f, &out, Spec, func(c *module.Ctx) (module.Result, error) { return handle(c, d) })
	var res map[string]any
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("output is not one JSON object: %v: %q", err, out.String())
	}
	return res, code
}

// mustRun runs the module like runWith and fails t unless it succeeded.
func mustRun(t *testing.T, d deps, args map[string]any) map[string]any {
	t.Helper()
	res, code := runWith(t, d, args)
	if code != 0 || res["failed"] == true {
		t.Fatalf("exit %d: %v", code, res["msg"])
	}
	return res
}

func loadSession(t *testing.T, dir, id string) *session.Session {
	t.Helper()
	s, err := (&session.Store{Dir: dir}).Load(id)
	if err != nil || s == nil {
		t.Fatalf("session %s: %v", id, err)
	}
	return s
}

// treeOf lists every file under dir with its content, to prove that check mode changed nothing.
func treeOf(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	_ = filepath.Walk(dir, func(path string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			b, _ := os.ReadFile(path)
			out[path] = string(b) + fi.ModTime().String()
		}
		return nil
	})
	return out
}

const vcenter = "Connection timeout to vCenter"

// The role's loop: an operation that fails twice with a connection timeout and then succeeds,
// recorded attempt by attempt. The waits are the engine's for the same settings.
func TestRecordDrivesRetries(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "state")
	clk := newFakeClock()
	d := deps{rnd: zero, clock: clk}
	start := mustRun(t, d, map[string]any{"action": "start", "state_dir": dir, "operation": "vmware_vm_create",
		"context":  map[string]any{"vm_name": "web01", "call_stack_session_id": "cs_1"},
		"settings": map[string]any{"max_attempts": 5}})
	id := start["session_id"].(string)
	if start["created"] != true || start["max_attempts"] != 5.0 || start["changed"] != true || start["call_stack_session_id"] != "cs_1" {
		t.Fatalf("start = %v", start)
	}
	base := map[string]any{"action": "record", "state_dir": dir, "session_id": id, "operation": "vmware_vm_create",
		"host": "web01", "context": map[string]any{"vm_name": "web01"}, "settings": map[string]any{"max_attempts": 5},
		"log_individual_attempts": true}
	with := func(extra map[string]any) map[string]any {
		m := map[string]any{}
		for k, v := range base {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	failed := map[string]any{"failed": true, "task": "Create the VM", "result": map[string]any{"failed": true, "msg": vcenter}}
	r1 := mustRun(t, d, with(map[string]any{"attempt": 1, "outcome": failed}))
	opID := r1["operation_id"].(string)
	r2 := mustRun(t, d, with(map[string]any{"attempt": 2, "operation_id": opID, "outcome": failed}))
	r3 := mustRun(t, d, with(map[string]any{"attempt": 3, "operation_id": opID, "outcome": map[string]any{"failed": false}}))
	var got [][]any
	for _, r := range []map[string]any{r1, r2, r3} {
		got = append(got, []any{r["error_type"], r["should_retry"], r["delay"], r["next_attempt"], r["status"]})
	}
	want := [][]any{
		{"connection_error", true, 5.0, 2.0, "running"},
		{"connection_error", true, 10.0, 3.0, "running"},
		{"", false, 0.0, 0.0, "completed"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("decisions (-want +got):\n%s", diff)
	}
	if !strings.Contains(r1["msg"].(string), "attempt 1 of 5 failed with connection_error; attempt 2 follows in 5 s") {
		t.Errorf("msg = %v", r1["msg"])
	}
	if r3["stop_reason"] != "succeeded" || r3["attempt_count"] != 3.0 || r3["host"] != "web01" {
		t.Errorf("final record = %v", r3)
	}
	sess := loadSession(t, dir, id)
	if len(sess.Operations) != 1 || sess.Operations[0].AttemptCount != 3 || sess.Operations[0].Attempts[0].FailedTask != "Create the VM" {
		t.Errorf("session = %+v", sess.Operations)
	}
	for n := 1; n <= 3; n++ {
		if _, err := os.Stat(session.Files{Dir: dir}.Attempt(opID, n)); err != nil {
			t.Errorf("attempt log %d: %v", n, err)
		}
	}
	// Recording twice, or out of order, or after the end, is refused.
	for _, extra := range []map[string]any{
		{"attempt": 3, "operation_id": opID, "outcome": failed},
		{"attempt": 4, "operation_id": opID, "outcome": failed},
		{"attempt": 2, "outcome": failed},
	} {
		res, code := runWith(t, d, with(extra))
		if code != 1 {
			t.Errorf("%v: accepted: %v", extra, res)
		}
	}

	fin := mustRun(t, d, map[string]any{"action": "finalize", "state_dir": dir, "session_id": id})
	stats := fin["final_statistics"].(map[string]any)
	if stats["total_operations"] != 1.0 || stats["retried_operations"] != 1.0 || stats["total_retry_attempts"] != 2.0 ||
		fin["session_status"] != "completed" || fin["call_stack_session_id"] != "cs_1" {
		t.Errorf("finalize = %v", fin)
	}
	if _, err := os.Stat(session.Files{Dir: dir}.Performance(id)); err != nil {
		t.Errorf("performance file: %v", err)
	}
}

// stepper returns successive values of seq, then the last one forever.
func stepper(seq ...float64) func() float64 {
	var mu sync.Mutex
	i := 0
	return func() float64 {
		mu.Lock()
		defer mu.Unlock()
		v := seq[min(i, len(seq)-1)]
		i++
		return v
	}
}

// For every policy and jitter mode, the waits that record returns attempt by attempt are the
// engine's waits for the same settings and random draws: the role and run decide alike.
func TestRecordDecidesLikeTheEngine(t *testing.T) {
	t.Parallel()
	draws := []float64{0.3, 0.9, 0.1, 0.7, 0.5, 0.2}
	for _, settings := range []map[string]any{
		{"max_attempts": 5},
		{"max_attempts": 6, "retry_policy": "linear_backoff", "base_delay": 2, "max_delay": 7},
		{"max_attempts": 4, "retry_policy": "fixed_delay", "base_delay": 3},
		{"max_attempts": 6, "jitter_mode": "full", "base_delay": 1, "backoff_multiplier": 3},
		{"max_attempts": 6, "jitter_mode": "equal"},
		{"max_attempts": 6, "jitter_mode": "decorrelated", "base_delay": 1, "max_delay": 20},
	} {
		t.Run(fmt.Sprint(settings), func(t *testing.T) {
			t.Parallel()
			// The engine, through action run.
			clk := newFakeClock()
			args := map[string]any{"operation": "op", "argv": []any{"false"}, "settings": settings}
			_, _ = runWith(t, deps{rnd: stepper(draws...), clock: clk}, args)
			engine := slept(clk)

			// The same through record, one attempt at a time, one process each.
			dir := t.TempDir()
			rnd := stepper(draws...)
			rclk := newFakeClock()
			id := "retry_1_000001"
			var recorded []float64
			opID := ""
			for n := 1; ; n++ {
				a := map[string]any{"action": "record", "state_dir": dir, "session_id": id, "operation": "op",
					"settings": settings, "attempt": n, "outcome": map[string]any{"failed": true, "rc": 1, "msg": "non-zero return code"}}
				if opID != "" {
					a["operation_id"] = opID
				}
				res := mustRun(t, deps{rnd: rnd, clock: rclk}, a)
				opID = res["operation_id"].(string)
				if res["should_retry"] != true {
					break
				}
				recorded = append(recorded, res["delay"].(float64))
			}
			if diff := cmp.Diff(engine, recorded); diff != "" {
				t.Errorf("waits (-engine +record):\n%s", diff)
			}
		})
	}
}

func TestRecordNonRetryableFailsFast(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	d := deps{rnd: zero, clock: newFakeClock()}
	id := "retry_1_000002"
	res := mustRun(t, d, map[string]any{"action": "record", "state_dir": dir, "session_id": id, "operation": "vmware_vm_create",
		"settings": map[string]any{"max_attempts": 5},
		"outcome":  map[string]any{"failed": true, "result": map[string]any{"msg": "Authentication failed: invalid credentials for administrator"}}})
	if res["should_retry"] != false || res["status"] != "failed" || res["stop_reason"] != "non_retryable_error" ||
		res["error_type"] != "authentication_error" || res["attempt_count"] != 1.0 {
		t.Errorf("record = %v", res)
	}
	for _, want := range []string{"authentication_error", "not retried", "attempt 1 of 5"} {
		if !strings.Contains(res["msg"].(string), want) {
			t.Errorf("msg %q lacks %q", res["msg"], want)
		}
	}
	mustRun(t, d, map[string]any{"action": "finalize", "state_dir": dir, "session_id": id}) // composes the error log
	var log session.ErrorLog
	b, err := os.ReadFile(session.Files{Dir: dir}.ErrorLog(id))
	if err != nil || json.Unmarshal(b, &log) != nil || len(log.Errors) != 1 || log.Errors[0].ErrorType != "authentication_error" {
		t.Errorf("error log: %v %s", err, b)
	}
}

// Settings (the role's retry_manager dictionary) replace the task's parameters, and its
// operation_configs win for their operation.
func TestSettingsAndOperationConfigs(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	res, code := runWith(t, deps{rnd: zero, clock: clk}, map[string]any{
		"operation": "network_configuration", "argv": []any{"false"}, "max_attempts": 9, "base_delay": 1,
		"settings": map[string]any{"max_attempts": 5, "base_delay": 2, "jitter_enabled": false,
			"operation_configs":    map[string]any{"network_configuration": map[string]any{"max_attempts": 3, "retry_policy": "linear_backoff"}},
			"external_integration": true, "external_systems": []any{map[string]any{"name": "slack", "auth_header": "Bearer hush-hush-1"}}}})
	if code != 1 || res["attempt_count"] != 3.0 {
		t.Fatalf("exit %d, %v", code, res)
	}
	if diff := cmp.Diff([]float64{2, 4}, slept(clk)); diff != "" {
		t.Errorf("waits (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]any{"defaults", "task", "settings", "operation_configs.network_configuration"}, res["policy_sources"]); diff != "" {
		t.Errorf("policy_sources: %s", diff)
	}
	if b, _ := json.Marshal(res); bytes.Contains(b, []byte("hush-hush-1")) {
		t.Errorf("an external system's auth header leaked: %s", b)
	}
	res, code = runWith(t, deps{rnd: zero}, map[string]any{"action": "start", "state_dir": t.TempDir(), "operation": "x",
		"settings": map[string]any{"max_attemps": 5}})
	if code != 1 || !strings.Contains(res["msg"].(string), "settings: parameter max_attemps: unsupported parameter") {
		t.Errorf("a misspelled setting: %v", res["msg"])
	}
}

// Check mode: every action reads what it needs and writes nothing.
func TestCheckModeWritesNothing(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "state")
	clk := newFakeClock()
	d := deps{rnd: zero, clock: clk}
	id := "retry_1_000003"
	// A real session to finalize, clean up and compress in check mode.
	mustRun(t, d, map[string]any{"action": "record", "state_dir": dir, "session_id": id, "operation": "a",
		"outcome": map[string]any{"failed": false}})
	old := "retry_2_000004"
	mustRun(t, d, map[string]any{"action": "record", "state_dir": dir, "session_id": old, "operation": "a",
		"outcome": map[string]any{"failed": false}})
	mustRun(t, d, map[string]any{"action": "finalize", "state_dir": dir, "session_id": old})
	past := time.Now().Add(-60 * session.Day)
	for _, f := range []string{session.Files{Dir: dir}.Session(old), session.Files{Dir: dir}.Performance(old)} {
		if err := os.Chtimes(f, past, past); err != nil {
			t.Fatal(err)
		}
	}
	before := treeOf(t, dir)
	marker := filepath.Join(t.TempDir(), "ran")
	// Retention compares the files' times with the host's: the clock starts now.
	now := fakeclock.New(time.Now())
	check := func(args map[string]any) map[string]any {
		t.Helper()
		args["_ansible_check_mode"] = true
		args["state_dir"] = dir
		return mustRun(t, deps{rnd: zero, clock: now}, args)
	}
	if r := check(map[string]any{"action": "start"}); r["created"] != true || !strings.HasPrefix(r["msg"].(string), "check mode") {
		t.Errorf("start: %v", r)
	}
	r1 := check(map[string]any{"action": "record", "session_id": "retry_3_000005", "operation": "b", "attempt": 1,
		"outcome": map[string]any{"failed": true, "msg": vcenter}})
	r2 := check(map[string]any{"action": "record", "session_id": "retry_3_000005", "operation": "b", "attempt": 2,
		"operation_id": r1["operation_id"], "outcome": map[string]any{"failed": true, "msg": vcenter}})
	if r1["should_retry"] != true || r2["should_retry"] != true || r2["delay"] != 10.0 || r2["attempt_count"] != 2.0 {
		t.Errorf("record in check mode: %v / %v", r1, r2)
	}
	if r := check(map[string]any{"action": "finalize", "session_id": id}); r["final_statistics"].(map[string]any)["total_operations"] != 1.0 {
		t.Errorf("finalize: %v", r)
	}
	if r := check(map[string]any{"action": "cleanup", "session_id": id}); len(r["removed"].([]any)) == 0 || r["changed"] != true {
		t.Errorf("cleanup: %v", r)
	}
	if r := check(map[string]any{"action": "compress", "session_id": id}); len(r["compressed"].([]any)) == 0 {
		t.Errorf("compress: %v", r)
	}
	sleeps := len(slept(clk))
	if r := check(map[string]any{"action": "wait", "seconds": 3}); r["waited"] != 0.0 || len(slept(clk)) != sleeps {
		t.Errorf("wait: %v", r)
	}
	check(map[string]any{"operation": "c", "argv": []any{"touch", marker}, "track_session": true, "session_id": id})
	if diff := cmp.Diff(before, treeOf(t, dir)); diff != "" {
		t.Errorf("check mode changed the state directory:\n%s", diff)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("check mode ran the command")
	}
}

// A session id with ../ (or anything but retry_<unix>_<digits>) is rejected by every action
// before any file is touched.
func TestTraversalSessionIDRejected(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	dir := filepath.Join(root, "state")
	marker := filepath.Join(root, "ran")
	for _, args := range []map[string]any{
		{"action": "start", "session_id": "../../tmp/evil"},
		{"action": "record", "session_id": "retry_1_2/../../../x", "operation": "a", "outcome": map[string]any{"failed": false}},
		{"action": "record", "session_id": "retry_1_2", "operation": "a", "operation_id": "../../x", "outcome": map[string]any{"failed": false}},
		{"action": "finalize", "session_id": ".."},
		{"action": "cleanup", "session_id": "../retry_1_2"},
		{"operation": "a", "argv": []any{"touch", marker}, "track_session": true, "session_id": "../retry_1_2"},
	} {
		args["state_dir"] = dir
		res, code := runWith(t, deps{rnd: zero}, args)
		if code != 1 || !strings.Contains(res["msg"].(string), "_id") {
			t.Errorf("%v: exit %d, %v", args, code, res["msg"])
		}
	}
	entries, _ := os.ReadDir(root)
	if len(entries) != 0 {
		t.Errorf("files were written: %v", entries)
	}
}

func TestRunTracksSession(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	clk := newFakeClock()
	id := "retry_1_000006"
	res := mustRun(t, deps{rnd: zero, clock: clk}, map[string]any{"operation": "vmware_vm_create",
		"cmd": flaky(t, 2, vcenter), "use_shell": true, "session_id": id, "track_session": true, "state_dir": dir,
		"log_individual_attempts": true, "host": "web01"})
	if want := (session.Files{Dir: dir}).Session(id); res["session_file"] != want {
		t.Errorf("session_file = %v", res["session_file"])
	}
	sess := loadSession(t, dir, id)
	if len(sess.Operations) != 1 || sess.Operations[0].AttemptCount != 2 || sess.Operations[0].Host != "web01" ||
		sess.Operations[0].OperationID != res["operation_id"] {
		t.Errorf("operations = %+v", sess.Operations)
	}
	for n := 1; n <= 2; n++ {
		if _, err := os.Stat(session.Files{Dir: dir}.Attempt(res["operation_id"].(string), n)); err != nil {
			t.Error(err)
		}
	}
	// The registered result of a run elsewhere is recorded as it is.
	mustRun(t, deps{rnd: zero}, map[string]any{"action": "record", "state_dir": dir, "session_id": id,
		"operation_result": res, "host": "web02"})
	if sess := loadSession(t, dir, id); len(sess.Operations) != 1 {
		t.Errorf("recording the same operation again added one: %d", len(sess.Operations))
	}
	res["operation_id"] = "other_1_000001"
	res["host"] = nil
	mustRun(t, deps{rnd: zero}, map[string]any{"action": "record", "state_dir": dir, "session_id": id,
		"operation_result": res, "host": "web02"})
	if sess := loadSession(t, dir, id); len(sess.Operations) != 2 || sess.Operations[1].Host != "web02" {
		t.Errorf("ingested: %+v", sess.Operations)
	}
	plan, _ := runWith(t, deps{rnd: zero}, map[string]any{"operation": "x", "argv": []any{"true"}, "_ansible_check_mode": true})
	if r, code := runWith(t, deps{rnd: zero}, map[string]any{"action": "record", "state_dir": dir, "session_id": id,
		"operation_result": plan}); code != 1 || !strings.Contains(r["msg"].(string), "check-mode result") {
		t.Errorf("a check-mode result was recorded: %v", r["msg"])
	}
}

func TestFinalizeAlertsAndStatus(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	d := deps{rnd: zero}
	id := "retry_1_000007"
	for i, failed := range []bool{false, false, true} {
		mustRun(t, d, map[string]any{"action": "record", "state_dir": dir, "session_id": id, "operation": fmt.Sprint("op", i),
			"outcome": map[string]any{"failed": failed, "msg": "permission denied"}})
	}
	fin := mustRun(t, d, map[string]any{"action": "finalize", "state_dir": dir, "session_id": id, "session_status": "failed",
		"monitoring": map[string]any{"alerts": map[string]any{"min_success_rate": "90"}}})
	var alerts []string
	for _, a := range fin["alerts"].([]any) {
		alerts = append(alerts, a.(map[string]any)["alert"].(string))
	}
	if diff := cmp.Diff([]string{"min_success_rate", "max_error_rate"}, alerts); diff != "" {
		t.Errorf("alerts (-want +got):\n%s", diff)
	}
	if fin["session_status"] != "failed" || !strings.Contains(fin["msg"].(string), "success_rate 66.67 is below min_success_rate 90") {
		t.Errorf("finalize = %v", fin)
	}
	off := mustRun(t, d, map[string]any{"action": "finalize", "state_dir": dir, "session_id": id,
		"settings": map[string]any{"monitoring": map[string]any{"enabled": false}}})
	if len(off["alerts"].([]any)) != 0 {
		t.Errorf("alerts with monitoring disabled: %v", off["alerts"])
	}
	if r, code := runWith(t, d, map[string]any{"action": "finalize", "state_dir": dir, "session_id": "retry_9_000009"}); code != 1 ||
		!strings.Contains(r["msg"].(string), "no such retry session") {
		t.Errorf("finalize of an unknown session: %v", r["msg"])
	}
}

func TestWaitUsesTheClock(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	res := mustRun(t, deps{clock: clk}, map[string]any{"action": "wait", "seconds": "0.25"})
	if diff := cmp.Diff([]float64{0.25}, slept(clk)); diff != "" || res["waited"] != 0.25 || res["changed"] != false {
		t.Errorf("waits %v, result %v", slept(clk), res)
	}
	if r, code := runWith(t, deps{clock: clk}, map[string]any{"action": "wait"}); code != 1 || !strings.Contains(r["msg"].(string), "seconds") {
		t.Errorf("wait without seconds: %v", r["msg"])
	}
}

func TestFailureFromResult(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		result map[string]any
		want   retry.ErrorType
	}{
		{"fail module", map[string]any{"failed": true, "msg": vcenter}, retry.ConnectionError},
		{"uri without response", map[string]any{"failed": true, "status": -1.0, "msg": "Status code was -1 and not [200]: Request failed: <urlopen error [Errno 111] Connection refused>"}, retry.ConnectionError},
		{"uri 503", map[string]any{"failed": true, "status": 503.0, "msg": "Status code was 503 and not [200]"}, retry.ServiceUnavailable},
		{"command rc 127", map[string]any{"failed": true, "rc": 127.0, "msg": "non-zero return code", "stderr": "govc: not found"}, retry.ConfigurationError},
		{"loop", map[string]any{"failed": true, "msg": "One or more items failed", "results": []any{
			map[string]any{"failed": false, "msg": "ok"},
			map[string]any{"failed": true, "msg": "Cannot complete login due to an incorrect user name or password", "rc": 1.0}}}, retry.AuthenticationError},
		{"loop with a known error", map[string]any{"failed": true, "msg": "One or more items failed", "results": []any{
			map[string]any{"failed": true, "msg": "resource is locked by another task"}}}, retry.ResourceBusy},
		{"list message", map[string]any{"failed": true, "msg": []any{"first", "Authentication failed"}}, retry.AuthenticationError},
		{"no_log", map[string]any{"censored": "the output has been hidden due to the fact that 'no_log: true' was specified for this result"}, retry.UnknownError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o, err := outcomeOf(map[string]any{"failed": true, "result": tc.result}, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if got, _ := (*retry.Classifier)(nil).Classify(o.Failure); got != tc.want {
				t.Errorf("type %s, want %s (failure %+v)", got, tc.want, o.Failure)
			}
		})
	}
	o, _ := outcomeOf(map[string]any{"failed": true, "result": map[string]any{"status": 429.0, "retry_after": "7"}}, time.Now())
	if o.RetryAfter != 7*time.Second || o.Failure.HTTPStatus != 429 {
		t.Errorf("retry_after: %+v", o)
	}
}

// buildModule compiles retry_manager once for tests that need real processes.
func buildModule(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "retry_manager")
	cmd := exec.Command("go", "build", "-o", bin, "resilience.ops/internal/cmd/retry_manager")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestConcurrentSessionWriters runs 50 module processes at once that each record an operation of
// three attempts (two connection timeouts, then success) into one session, as 50 hosts and forks
// of the role do. No update may be lost.
func TestConcurrentSessionWriters(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the module and runs 150 processes")
	}
	bin := buildModule(t)
	dir := filepath.Join(t.TempDir(), "state")
	const procs, id = 50, "retry_1764000000_000042"
	invoke := func(name string, args map[string]any) (map[string]any, error) {
		b, _ := json.Marshal(args)
		out, err := modtest.ModuleCommand(t, bin, b).Output()
		var res map[string]any
		if jerr := json.Unmarshal(out, &res); jerr != nil {
			return nil, fmt.Errorf("%s: %v: not one JSON object: %q", name, err, out)
		}
		if res["failed"] == true {
			return res, fmt.Errorf("%s failed: %v", name, res["msg"])
		}
		return res, nil
	}
	var wg sync.WaitGroup
	errs := make(chan error, procs*3)
	for i := 0; i < procs; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			host := fmt.Sprintf("host%02d", i)
			opID := ""
			for n := 1; n <= 3; n++ {
				args := map[string]any{"action": "record", "state_dir": dir, "session_id": id, "operation": "vmware_vm_create",
					"host": host, "attempt": n, "outcome": map[string]any{"failed": n < 3, "msg": vcenter},
					"settings": map[string]any{"max_attempts": 5, "base_delay": 0.1}, "log_individual_attempts": true}
				if opID != "" {
					args["operation_id"] = opID
				}
				res, err := invoke(fmt.Sprintf("%s-%d", host, n), args)
				if err != nil {
					errs <- err
					return
				}
				opID = res["operation_id"].(string)
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	sess := loadSession(t, dir, id)
	if len(sess.Operations) != procs {
		t.Fatalf("%d operations in the session, want %d: updates were lost", len(sess.Operations), procs)
	}
	hosts := map[string]bool{}
	for _, op := range sess.Operations {
		hosts[op.Host] = true
		if op.AttemptCount != 3 || len(op.Attempts) != 3 || op.Status != record.Completed {
			t.Errorf("%s: %d attempts, status %s", op.OperationID, op.AttemptCount, op.Status)
		}
	}
	if len(hosts) != procs {
		t.Errorf("%d hosts", len(hosts))
	}
	res, err := invoke("finalize", map[string]any{"action": "finalize", "state_dir": dir, "session_id": id})
	if err != nil {
		t.Fatal(err)
	}
	stats := res["final_statistics"].(map[string]any)
	want := map[string]any{"total_operations": 50.0, "successful_operations": 50.0, "retried_operations": 50.0,
		"total_retry_attempts": 100.0, "average_retry_count": 2.0, "max_retry_count": 2.0, "success_rate": 100.0}
	for k, v := range want {
		if stats[k] != v {
			t.Errorf("%s = %v, want %v", k, stats[k], v)
		}
	}
	attemptLogs, _ := filepath.Glob(filepath.Join(dir, "attempt_*.json"))
	leftovers, _ := filepath.Glob(filepath.Join(dir, ".*.tmp-*"))
	sort.Strings(leftovers)
	if len(attemptLogs) != procs*3 || len(leftovers) != 0 {
		t.Errorf("%d attempt logs (want %d), temporary files left: %v", len(attemptLogs), procs*3, leftovers)
	}
}

// The role records the runs of a play batch in one call: each under its own host, a run already
// recorded as it is is not written again, and what is not a finished run is counted, not
// recorded.
func TestRecordOperationResults(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	clk := newFakeClock()
	id := "retry_1_000066"
	var results []any
	for _, host := range []string{"web01", "web02"} {
		results = append(results, mustRun(t, deps{rnd: zero, clock: clk}, map[string]any{"operation": "deploy",
			"cmd": flaky(t, 2, vcenter), "use_shell": true, "session_id": id, "host": host}))
	}
	plan, _ := runWith(t, deps{rnd: zero}, map[string]any{"operation": "deploy", "argv": []any{"true"}, "_ansible_check_mode": true})
	results = append(results, plan, map[string]any{"skipped": true})
	args := map[string]any{"action": "record", "state_dir": dir, "session_id": id, "operation_results": results}
	res := mustRun(t, deps{rnd: zero}, args)
	if res["recorded"] != 2.0 || res["unchanged"] != 0.0 || res["not_recorded_count"] != 2.0 || res["changed"] != true {
		t.Errorf("first record: %v", res)
	}
	if nr := res["not_recorded"].([]any); len(nr) != 2 || nr[0].(map[string]any)["index"] != 2.0 ||
		!strings.Contains(nr[0].(map[string]any)["reason"].(string), "check-mode") {
		t.Errorf("not_recorded: %v", nr)
	}
	res = mustRun(t, deps{rnd: zero}, args)
	if res["recorded"] != 0.0 || res["unchanged"] != 2.0 || res["changed"] != false {
		t.Errorf("the same batch again: %v", res)
	}
	sess := loadSession(t, dir, id)
	if len(sess.Operations) != 2 || sess.Operations[0].Host != "web01" || sess.Operations[1].Host != "web02" || sess.Operations[0].AttemptCount != 2 {
		t.Errorf("operations: %+v", sess.Operations)
	}
	for _, host := range []string{"web01", "web02"} {
		b, err := os.ReadFile(filepath.Join(session.Files{Dir: dir}.Parts(id), session.HostKey(host)+".0.jsonl"))
		if err != nil || bytes.Count(b, []byte("\n")) != 1 {
			t.Errorf("%s: %d records, want 1 (%v)", host, bytes.Count(b, []byte("\n")), err)
		}
	}
}
