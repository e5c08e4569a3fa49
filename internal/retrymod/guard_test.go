package retrymod

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"resilience.ops/internal/resilience"
	"resilience.ops/internal/retry"
)

// flakyServer answers 503 until healthy is set, and counts the requests.
type flakyServer struct {
	*httptest.Server
	requests atomic.Int64
	healthy  atomic.Bool
}

func newFlakyServer(t *testing.T) *flakyServer {
	t.Helper()
	s := &flakyServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		s.requests.Add(1)
		if !s.healthy.Load() {
			http.Error(w, "service unavailable", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok"))
	}))
	t.Cleanup(s.Close)
	return s
}

// sub returns the dictionary at key of a result.
func sub(t *testing.T, res map[string]any, key string) map[string]any {
	t.Helper()
	m, ok := res[key].(map[string]any)
	if !ok {
		t.Fatalf("result has no dictionary %s: %v", key, res)
	}
	return m
}

// The circuit breaker in action run: failures open it, the retry that follows and the next runs
// fail at once with circuit_open without calling the server, check mode reads the state without
// changing it, and once open_duration has passed a trial call closes it again.
func TestRunCircuitBreaker(t *testing.T) {
	t.Parallel()
	srv := newFlakyServer(t)
	dir := filepath.Join(t.TempDir(), "state")
	clk := newFakeClock()
	d := deps{rnd: zero, clock: clk}
	args := map[string]any{"operation": "api_call", "url": srv.URL, "state_dir": dir, "max_attempts": 3,
		"base_delay": 1, "jitter_enabled": false,
		"circuit_breaker": map[string]any{"enabled": true, "failure_threshold": 2, "open_duration": 30}}

	res, code := runWith(t, d, args)
	if code != 1 || res["error_type"] != "circuit_open" || res["stop_reason"] != "rejected" || res["attempt_count"] != 2.0 {
		t.Fatalf("first run: exit %d, %v / %v / %v: %v", code, res["error_type"], res["stop_reason"], res["attempt_count"], res["msg"])
	}
	if srv.requests.Load() != 2 {
		t.Errorf("requests = %d, want 2: the third attempt must not call the server", srv.requests.Load())
	}
	cb := sub(t, res, "circuit_breaker")
	if cb["state"] != "open" || cb["admitted_state"] != "open" || res["circuit_key"] != "api_call" {
		t.Errorf("circuit_breaker = %v", cb)
	}
	if in, _ := res["retry_in"].(float64); in <= 25 || in > 30 {
		t.Errorf("retry_in = %v, want just under 30", res["retry_in"])
	}
	msg := res["msg"].(string)
	if !strings.Contains(msg, "failed with circuit_open before attempt 3 of 3 (last error service_unavailable)") ||
		!strings.Contains(msg, "the next trial call is allowed in") {
		t.Errorf("msg = %s", msg)
	}
	for _, k := range []string{"bulkhead", "retry_budget", "adaptation"} {
		if sub(t, res, k)["enabled"] != false {
			t.Errorf("%s = %v, want disabled", k, res[k])
		}
	}

	// Recorded from its registered result (the role's way), the run keeps the refusal's type.
	rec := mustRun(t, d, map[string]any{"action": "record", "state_dir": dir, "session_id": "retry_1_000002", "operation_result": res})
	if rec["error_type"] != "circuit_open" || rec["stop_reason"] != "rejected" {
		t.Errorf("recorded run: error_type %v, stop_reason %v", rec["error_type"], rec["stop_reason"])
	}

	// Open: fails at once, without a request; recorded in its session with the refusal's type.
	res, code = runWith(t, d, with(args, map[string]any{"track_session": true, "session_id": "retry_1_000001"}))
	if code != 1 || res["error_type"] != "circuit_open" || res["attempt_count"] != 0.0 || srv.requests.Load() != 2 {
		t.Fatalf("second run: exit %d, %v, %v attempts, %d requests: %v", code, res["error_type"], res["attempt_count"], srv.requests.Load(), res["msg"])
	}
	if !strings.Contains(res["msg"].(string), "api_call failed at once with circuit_open: circuit breaker \"api_call\" is open") {
		t.Errorf("msg = %v", res["msg"])
	}
	if ops := loadSession(t, dir, "retry_1_000001").Operations; len(ops) != 1 || ops[0].ErrorType != "circuit_open" || ops[0].StopReason != "rejected" {
		t.Errorf("tracked operation = %+v", ops)
	}

	// Check mode reads the state: it says the run would fail, and writes nothing.
	before := treeOf(t, dir)
	res = mustRun(t, d, with(args, map[string]any{"_ansible_check_mode": true}))
	if res["status"] != "planned" || res["error_type"] != "circuit_open" || !strings.Contains(res["msg"].(string), "would fail at once with circuit_open") {
		t.Errorf("check mode: %v / %v", res["error_type"], res["msg"])
	}
	clk.Advance(31 * time.Second)
	res = mustRun(t, d, with(args, map[string]any{"_ansible_check_mode": true}))
	if cb := sub(t, res, "circuit_breaker"); cb["state"] != "half_open" || res["error_type"] != "" {
		t.Errorf("check mode after open_duration: %v, %v", cb, res["error_type"])
	}
	if diff := treeDiff(before, treeOf(t, dir)); diff != "" {
		t.Errorf("check mode changed the state: %s", diff)
	}

	// After open_duration, with the server back: a trial call closes the breaker.
	srv.healthy.Store(true)
	res = mustRun(t, d, args)
	cb = sub(t, res, "circuit_breaker")
	if res["status"] != "completed" || cb["state"] != "closed" || cb["admitted_state"] != "half_open" || srv.requests.Load() != 3 {
		t.Fatalf("trial: %v, %v, %d requests", res["status"], cb, srv.requests.Load())
	}
	var moves []string
	for _, tr := range cb["transitions"].([]any) {
		m := tr.(map[string]any)
		moves = append(moves, m["from"].(string)+">"+m["to"].(string))
	}
	if strings.Join(moves, ",") != "open>half_open,half_open>closed" {
		t.Errorf("transitions = %v", moves)
	}
}

// with returns a copy of args with extra keys.
func with(args, extra map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range args {
		out[k] = v
	}
	for k, v := range extra {
		out[k] = v
	}
	return out
}

func treeDiff(a, b map[string]string) string {
	var out []string
	for k, v := range a {
		if b[k] != v {
			out = append(out, "changed "+k)
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			out = append(out, "created "+k)
		}
	}
	return strings.Join(out, ", ")
}

// The retry budget stops retrying with retry_budget_exhausted once it is spent, and says so.
func TestRunRetryBudget(t *testing.T) {
	t.Parallel()
	srv := newFlakyServer(t)
	dir := filepath.Join(t.TempDir(), "state")
	clk := newFakeClock()
	d := deps{rnd: zero, clock: clk}
	args := map[string]any{"operation": "api_call", "url": srv.URL, "state_dir": dir, "max_attempts": 5, "base_delay": 1,
		"retry_budget": map[string]any{"enabled": true, "ratio": 0, "min_retries": 1}}
	res, code := runWith(t, d, args)
	if code != 1 || res["error_type"] != "retry_budget_exhausted" || res["stop_reason"] != "rejected" || res["attempt_count"] != 2.0 {
		t.Fatalf("exit %d: %v / %v / %v: %v", code, res["error_type"], res["stop_reason"], res["attempt_count"], res["msg"])
	}
	if srv.requests.Load() != 2 {
		t.Errorf("requests = %d, want 2", srv.requests.Load())
	}
	rb := sub(t, res, "retry_budget")
	if rb["allowed"] != false || rb["retries"] != 1.0 || !strings.Contains(rb["reason"].(string), "retry budget exhausted") {
		t.Errorf("retry_budget = %v", rb)
	}
	if msg := res["msg"].(string); !strings.Contains(msg, `failed with service_unavailable on attempt 2 of 5 and was not retried (retry_budget_exhausted): the retry budget of "api_call" is exhausted: 1 retries`) {
		t.Errorf("msg = %s", msg)
	}
}

// A full bulkhead refuses the attempt with bulkhead_full once max_wait has passed.
func TestRunBulkheadFull(t *testing.T) {
	t.Parallel()
	srv := newFlakyServer(t)
	srv.healthy.Store(true)
	dir := filepath.Join(t.TempDir(), "state")
	s := resilience.DefaultSettings()
	s.Dir, s.Bulkhead.Enabled, s.Bulkhead.MaxConcurrent, s.Bulkhead.MaxWait = dir, true, 1, 0
	g, err := resilience.New(s)
	if err != nil {
		t.Fatal(err)
	}
	held, err := g.Before(context.Background(), "vcenter01")
	if err != nil || !held.Admitted {
		t.Fatalf("hold the only slot: %v, %+v", err, held)
	}
	args := map[string]any{"operation": "vm_create", "url": srv.URL, "state_dir": dir, "circuit_key": "vcenter01",
		"bulkhead": map[string]any{"enabled": true, "max_concurrent": 1, "max_wait": 0}}
	res, code := runWith(t, deps{rnd: zero}, args)
	if code != 1 || res["error_type"] != "bulkhead_full" || res["attempt_count"] != 0.0 || srv.requests.Load() != 0 {
		t.Fatalf("exit %d, %v, %v: %v", code, res["error_type"], res["attempt_count"], res["msg"])
	}
	if bh := sub(t, res, "bulkhead"); bh["acquired"] != false || bh["max_concurrent"] != 1.0 {
		t.Errorf("bulkhead = %v", bh)
	}
	held.Release()
	res = mustRun(t, deps{rnd: zero}, args)
	if bh := sub(t, res, "bulkhead"); bh["acquired"] != true || res["circuit_key"] != "vcenter01" {
		t.Errorf("bulkhead after release = %v", bh)
	}
}

// Adaptive retry lowers max_attempts and lengthens the delays while the success rate is low.
func TestRunAdaptive(t *testing.T) {
	t.Parallel()
	srv := newFlakyServer(t)
	dir := filepath.Join(t.TempDir(), "state")
	s := resilience.DefaultSettings()
	s.Dir, s.Adaptive.Enabled = dir, true
	g, err := resilience.New(s)
	if err != nil {
		t.Fatal(err)
	}
	for range 10 {
		if _, err := g.Record("api_call", retry.ServiceUnavailable, true); err != nil {
			t.Fatal(err)
		}
	}
	clk := newFakeClock()
	clk.Set(time.Now()) // the history was recorded on the real clock
	args := map[string]any{"operation": "api_call", "url": srv.URL, "state_dir": dir, "max_attempts": 5, "base_delay": 1,
		"jitter_enabled": false, "settings": map[string]any{"adaptive": map[string]any{"enabled": true}}}
	res, _ := runWith(t, deps{rnd: zero, clock: clk}, args)
	ad := sub(t, res, "adaptation")
	if ad["adapted"] != true || res["max_attempts"] != 2.0 || res["attempt_count"] != 2.0 {
		t.Fatalf("adaptation = %v, max_attempts %v, attempts %v", ad, res["max_attempts"], res["attempt_count"])
	}
	if diff := slept(clk); len(diff) != 1 || diff[0] != 4 {
		t.Errorf("sleeps = %v, want [4] (base_delay 1 times max_delay_factor 4)", slept(clk))
	}
}

// Guardrail settings are validated with messages that name the parameter; they are accepted as
// task parameters, in settings and per operation.
func TestGuardrailSettings(t *testing.T) {
	t.Parallel()
	base := map[string]any{"operation": "vm_create", "cmd": "true", "_ansible_check_mode": true}
	bad := []struct {
		extra map[string]any
		want  string
	}{
		{map[string]any{"circuit_breaker": map[string]any{"enabled": true, "failure_threshold": 0}},
			"circuit_breaker.failure_threshold must be between 1 and 1000, got 0"},
		{map[string]any{"circuit_breaker": map[string]any{"failure_threshold": "many"}},
			"parameter circuit_breaker.failure_threshold: must be an integer"},
		{map[string]any{"bulkhead": map[string]any{"slots": 3}},
			"parameter bulkhead.slots: unsupported parameter; supported parameters are: enabled, max_concurrent, max_wait"},
		{map[string]any{"adaptive": map[string]any{"target_success_rate": 2}},
			"adaptive.target_success_rate must be a number from above 0 to 1, got 2"},
		{map[string]any{"settings": map[string]any{"retry_budget": map[string]any{"ratio": 1.5}}},
			"retry_budget.ratio must be a number from 0 to 1, got 1.5"},
		{map[string]any{"operation_configs": map[string]any{"vm_create": map[string]any{"circuit_breaker": map[string]any{"open_duration": -1}}}},
			"circuit_breaker.open_duration must be above 0 seconds"},
		{map[string]any{"operation_configs": map[string]any{"vm_create": map[string]any{"bulkhead": map[string]any{"max_wait": "x"}}}},
			"parameter operation_configs.vm_create.bulkhead.max_wait: must be a number"},
		{map[string]any{"circuit_key": "a\x01b", "circuit_breaker": map[string]any{"enabled": true}},
			"circuit_key must not hold control characters"},
	}
	for _, tt := range bad {
		res, code := runWith(t, deps{rnd: zero}, with(base, tt.extra))
		if code != 1 || !strings.Contains(res["msg"].(string), tt.want) {
			t.Errorf("%v: exit %d, msg %v; want %q", tt.extra, code, res["msg"], tt.want)
		}
	}
	// Layers: the task's circuit_breaker, settings' over it, operation_configs' keys over both.
	dir := t.TempDir()
	res := mustRun(t, deps{rnd: zero}, with(base, map[string]any{"state_dir": dir,
		"settings": map[string]any{"circuit_breaker": map[string]any{"enabled": true, "failure_threshold": 3}},
		"operation_configs": map[string]any{"vm_create": map[string]any{"circuit_key": "vcenter01",
			"retry_budget": map[string]any{"enabled": true}, "adaptive_retry": map[string]any{"enabled": true}}}}))
	if res["circuit_key"] != "vcenter01" || sub(t, res, "circuit_breaker")["state"] != "closed" ||
		sub(t, res, "retry_budget")["enabled"] != true || sub(t, res, "adaptation")["enabled"] != true {
		t.Errorf("layered guardrails: %v", res)
	}
	// Nothing enabled: no guardrail keys.
	res = mustRun(t, deps{rnd: zero}, base)
	for _, k := range []string{"circuit_breaker", "bulkhead", "retry_budget", "adaptation", "circuit_key"} {
		if _, ok := res[k]; ok {
			t.Errorf("%s present without guardrails", k)
		}
	}
}

// The role's path: attempts that run elsewhere are recorded (Record), and action admit refuses
// the next attempt while the breaker is open, ending the operation with circuit_open without an
// attempt; a new operation on the same key is refused at once. The retry budget stops a recorded
// operation with retry_budget_exhausted.
func TestAdmitAndRecordDriveTheBreaker(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "state")
	clk := newFakeClock()
	d := deps{rnd: zero, clock: clk}
	settings := map[string]any{"max_attempts": 5, "base_delay": 1, "state_dir": dir,
		"circuit_breaker": map[string]any{"enabled": true, "failure_threshold": 2, "open_duration": 60},
		"bulkhead":        map[string]any{"enabled": true}}
	start := mustRun(t, d, map[string]any{"action": "start", "operation": "vmware_vm_create", "settings": settings})
	if start["admission"] != true || start["circuit_key"] != "vmware_vm_create" {
		t.Fatalf("start = %v", start)
	}
	id := start["session_id"].(string)
	common := map[string]any{"session_id": id, "operation": "vmware_vm_create", "host": "web01", "settings": settings}
	failed := map[string]any{"failed": true, "result": map[string]any{"msg": vcenter}}

	adm, _ := runWith(t, d, with(common, map[string]any{"action": "admit", "attempt": 1}))
	if adm["admitted"] != true || len(adm["warnings"].([]any)) != 1 || sub(t, adm, "bulkhead")["not_applied"] == nil {
		t.Fatalf("admit 1 = %v", adm)
	}
	r1 := mustRun(t, d, with(common, map[string]any{"action": "record", "attempt": 1, "outcome": failed}))
	opID := r1["operation_id"].(string)
	if r1["should_retry"] != true || sub(t, r1, "circuit_breaker")["consecutive_failures"] != 1.0 {
		t.Fatalf("record 1 = %v", r1)
	}
	mustRun(t, d, with(common, map[string]any{"action": "admit", "attempt": 2, "operation_id": opID}))
	r2 := mustRun(t, d, with(common, map[string]any{"action": "record", "attempt": 2, "operation_id": opID, "outcome": failed}))
	if r2["should_retry"] != true || sub(t, r2, "circuit_breaker")["state"] != "open" {
		t.Fatalf("record 2 = %v", r2)
	}
	// Check mode: the refusal is reported, nothing is written.
	before := treeOf(t, dir)
	chk := mustRun(t, d, with(common, map[string]any{"action": "admit", "attempt": 3, "operation_id": opID, "_ansible_check_mode": true}))
	if chk["admitted"] != false || chk["error_type"] != "circuit_open" {
		t.Errorf("check-mode admit = %v", chk)
	}
	if diff := treeDiff(before, treeOf(t, dir)); diff != "" {
		t.Errorf("check mode changed files: %s", diff)
	}
	a3 := mustRun(t, d, with(common, map[string]any{"action": "admit", "attempt": 3, "operation_id": opID}))
	if a3["admitted"] != false || a3["error_type"] != "circuit_open" || a3["status"] != "failed" || a3["stop_reason"] != "rejected" ||
		a3["attempt_count"] != 2.0 || a3["should_retry"] != false {
		t.Fatalf("admit 3 = %v", a3)
	}
	if in, _ := a3["retry_in"].(float64); in <= 0 {
		t.Errorf("retry_in = %v", a3["retry_in"])
	}
	// A new operation on the key is refused before its first attempt.
	a1 := mustRun(t, d, with(common, map[string]any{"action": "admit", "attempt": 1, "host": "web02"}))
	if a1["admitted"] != false || a1["attempt_count"] != 0.0 || !strings.Contains(a1["msg"].(string), "failed at once with circuit_open") {
		t.Fatalf("admit of a new operation = %v", a1)
	}
	sess := loadSession(t, dir, id)
	if len(sess.Operations) != 2 || sess.Operations[1].ErrorType != "circuit_open" || sess.Operations[0].ErrorType != "circuit_open" {
		t.Errorf("session operations = %+v", sess.Operations)
	}

	// The retry budget, on another operation.
	budget := with(settings, map[string]any{"circuit_breaker": map[string]any{"enabled": false},
		"retry_budget": map[string]any{"enabled": true, "ratio": 0, "min_retries": 0}})
	rb := mustRun(t, d, map[string]any{"action": "record", "session_id": id, "operation": "api_call", "attempt": 1,
		"outcome": failed, "settings": budget})
	if rb["should_retry"] != false || rb["error_type"] != "retry_budget_exhausted" || rb["stop_reason"] != "rejected" ||
		!strings.Contains(rb["msg"].(string), `was not retried (retry_budget_exhausted): the retry budget of "api_call" is exhausted`) {
		t.Errorf("record with a spent budget = %v", rb)
	}
	if rb["attempts"].([]any)[0].(map[string]any)["error_type"] != "connection_error" {
		t.Errorf("the attempt keeps its own error type: %v", rb["attempts"])
	}
}
