package retrymod

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"resilience.ops/internal/fakeclock"
	"resilience.ops/internal/modtest"
	"resilience.ops/internal/module"
	"resilience.ops/internal/operation"
)

// fakeClock is the test clock (package fakeclock): nothing sleeps for real.
type fakeClock = fakeclock.Clock

// newFakeClock returns a clock on which every reading is a millisecond after the one before:
// attempts take a little time.
func newFakeClock() *fakeClock {
	c := fakeclock.New(time.Date(2026, 1, 2, 3, 4, 5, int(time.Millisecond), time.UTC))
	c.SetTick(time.Millisecond)
	return c
}

// slept returns the waits of clk in seconds.
func slept(clk *fakeClock) []float64 {
	var out []float64
	for _, d := range clk.Sleeps() {
		out = append(out, d.Seconds())
	}
	return out
}

func zero() float64 { return 0 }

// runModule runs the module on args as ansible-core would, with the fake clock, and returns the
// decoded result and the exit status.
func runModule(t *testing.T, clk *fakeClock, args map[string]any) (map[string]any, int) {
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
	d := deps{rnd: zero}
	if clk != nil {
		d.clock = clk
	}
	code := module.Run(f, &out, Spec, func(c *module.Ctx) (module.Result, error) { return handle(c, d) })
	var res map[string]any
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("output is not one JSON object: %v: %q", err, out.String())
	}
	return res, code
}

func attemptsOf(t *testing.T, res map[string]any) []map[string]any {
	t.Helper()
	raw, _ := res["attempts"].([]any)
	var out []map[string]any
	for _, a := range raw {
		out = append(out, a.(map[string]any))
	}
	return out
}

// flaky is a shell command that fails with msg until it has run n times.
func flaky(t *testing.T, n int, msg string) string {
	counter := filepath.Join(t.TempDir(), "count")
	return fmt.Sprintf(`c=$(cat %[1]s 2>/dev/null || echo 0); c=$((c+1)); echo $c > %[1]s; `+
		`if [ $c -ge %[2]d ]; then echo done at $c; else echo '%[3]s' >&2; exit 1; fi`, counter, n, msg)
}

func TestCommandRetriedUntilSuccess(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	res, code := runModule(t, clk, map[string]any{
		"operation": "vmware_vm_create", "cmd": flaky(t, 3, "Connection timeout to vCenter"), "use_shell": true,
		"context": map[string]any{"vm_name": "web01"}, "session_id": "retry_1_000001",
	})
	if code != 0 || res["failed"] == true {
		t.Fatalf("exit %d: %v", code, res["msg"])
	}
	if diff := cmp.Diff([]float64{5, 10}, slept(clk)); diff != "" {
		t.Errorf("waits (-want +got):\n%s", diff)
	}
	att := attemptsOf(t, res)
	if len(att) != 3 {
		t.Fatalf("attempts = %d, want 3", len(att))
	}
	for i, want := range []struct {
		status, errType string
		retry           bool
		delay           float64
	}{{"failed", "connection_error", true, 5}, {"failed", "connection_error", true, 10}, {"success", "", false, 0}} {
		a := att[i]
		gotType, _ := a["error_type"].(string)
		if a["status"] != want.status || gotType != want.errType || a["should_retry"] != want.retry || a["delay_before_retry"] != want.delay {
			t.Errorf("attempt %d = %v; want %+v", i+1, a, want)
		}
	}
	if res["stop_reason"] != "succeeded" || res["status"] != "completed" || res["changed"] != true ||
		res["attempt_count"] != 3.0 || res["rc"] != 0.0 || !strings.Contains(res["stdout"].(string), "done at 3") {
		t.Errorf("result = %v", res)
	}
	if id, _ := res["operation_id"].(string); !strings.HasPrefix(id, "vmware_vm_create_") {
		t.Errorf("operation_id = %q", id)
	}
	if res["session_id"] != "retry_1_000001" || res["context"].(map[string]any)["vm_name"] != "web01" {
		t.Errorf("session or context lost: %v %v", res["session_id"], res["context"])
	}
}

func TestNonRetryableFailsFast(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	res, code := runModule(t, clk, map[string]any{
		"operation": "vmware_vm_create", "cmd": flaky(t, 3, "Authentication failed: invalid credentials"), "use_shell": true,
	})
	if code != 1 || res["failed"] != true {
		t.Fatalf("exit %d, result %v; want failure", code, res)
	}
	if len(attemptsOf(t, res)) != 1 || len(slept(clk)) != 0 {
		t.Errorf("attempts %d, waits %v; want one attempt and no wait", len(attemptsOf(t, res)), slept(clk))
	}
	msg := res["msg"].(string)
	for _, want := range []string{"authentication_error", "not retried", "attempt 1 of 3"} {
		if !strings.Contains(msg, want) {
			t.Errorf("msg %q lacks %q", msg, want)
		}
	}
	if res["stop_reason"] != "non_retryable_error" || res["error_type"] != "authentication_error" || res["rc"] != 1.0 {
		t.Errorf("result = %v", res)
	}
}

func TestHungCommandKilledByAttemptTimeout(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	dir := t.TempDir()
	marker, pids := filepath.Join(dir, "child-survived"), filepath.Join(dir, "pids")
	// The shell starts a child: killing only the shell would leave the child holding the pipes.
	// (A command that was not killed would finish after 30 s and succeed: no clock is read here.)
	res, code := runModule(t, clk, map[string]any{
		"operation": "hang", "use_shell": true, "cmd": "sleep 30 & echo $! >> " + pids + "; wait; touch " + marker,
		"attempt_timeout": 0.3, "max_attempts": 2, "base_delay": 1,
	})
	b, _ := os.ReadFile(pids)
	for _, line := range strings.Fields(string(b)) {
		if pid, err := strconv.Atoi(line); err != nil || !modtest.Ended(t, pid) {
			t.Errorf("the child %s outlived its attempt", line)
		}
	}
	if code != 1 || res["error_type"] != "timeout" || res["stop_reason"] != "attempts_exhausted" || len(attemptsOf(t, res)) != 2 {
		t.Errorf("result = %v", res)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("the shell survived the timeout")
	}
}

func TestHTTPRetries(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		switch r.URL.Path {
		case "/flaky":
			if n == 1 {
				http.Error(w, "try later", http.StatusServiceUnavailable)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"ok": true, "auth": %q}`, r.Header.Get("Authorization"))
		case "/limited":
			if n <= 1 {
				w.Header().Set("Retry-After", "7")
				http.Error(w, "slow down", http.StatusTooManyRequests)
				return
			}
			fmt.Fprint(w, "fine")
		case "/denied":
			http.Error(w, "bad token "+r.Header.Get("Authorization"), http.StatusUnauthorized)
		}
	}))
	defer srv.Close()

	t.Run("503 then 200", func(t *testing.T) {
		calls.Store(0)
		clk := newFakeClock()
		res, code := runModule(t, clk, map[string]any{"operation": "api", "url": srv.URL + "/flaky",
			"bearer_token": "s3cr3t-t0ken", "base_delay": 2})
		if code != 0 || len(attemptsOf(t, res)) != 2 || attemptsOf(t, res)[0]["error_type"] != "service_unavailable" {
			t.Fatalf("exit %d, result %v", code, res)
		}
		resp := res["response"].(map[string]any)
		if resp["status"] != 200.0 || resp["json"].(map[string]any)["ok"] != true {
			t.Errorf("response = %v", resp)
		}
		if b, _ := json.Marshal(res); bytes.Contains(b, []byte("s3cr3t-t0ken")) {
			t.Errorf("the bearer token leaked: %s", b)
		}
		if res["changed"] != false {
			t.Errorf("a GET reported a change")
		}
	})
	t.Run("429 with Retry-After", func(t *testing.T) {
		calls.Store(0)
		clk := newFakeClock()
		res, code := runModule(t, clk, map[string]any{"operation": "api", "url": srv.URL + "/limited", "base_delay": 1})
		if code != 0 || attemptsOf(t, res)[0]["error_type"] != "rate_limit_exceeded" {
			t.Fatalf("exit %d, result %v", code, res)
		}
		if diff := cmp.Diff([]float64{7}, slept(clk)); diff != "" {
			t.Errorf("Retry-After not honoured (-want +got):\n%s", diff)
		}
	})
	t.Run("401 is not retried", func(t *testing.T) {
		calls.Store(0)
		clk := newFakeClock()
		res, code := runModule(t, clk, map[string]any{"operation": "api", "url": srv.URL + "/denied",
			"url_username": "admin", "url_password": "hunter2-pass"})
		if code != 1 || len(attemptsOf(t, res)) != 1 || res["error_type"] != "authentication_error" || calls.Load() != 1 {
			t.Fatalf("exit %d, calls %d, result %v", code, calls.Load(), res)
		}
		// The server echoes the Authorization header: neither the password nor its base64 form may show.
		if b, _ := json.Marshal(res); bytes.Contains(b, []byte("hunter2-pass")) || bytes.Contains(b, []byte("YWRtaW46aHVudGVy")) {
			t.Errorf("the password leaked: %s", b)
		}
		if !strings.Contains(res["msg"].(string), "HTTP 401") {
			t.Errorf("msg = %v", res["msg"])
		}
	})
}

func TestCheckModeSchedule(t *testing.T) {
	t.Parallel()
	marker := filepath.Join(t.TempDir(), "ran")
	res, code := runModule(t, nil, map[string]any{"operation": "vm", "argv": []any{"touch", marker},
		"max_attempts": 5, "jitter_enabled": false, "_ansible_check_mode": true})
	if code != 0 {
		t.Fatalf("exit %d: %v", code, res["msg"])
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("check mode ran the command")
	}
	sched := res["schedule"].(map[string]any)
	var delays []float64
	for _, a := range sched["attempts"].([]any) {
		delays = append(delays, a.(map[string]any)["delay"].(float64))
	}
	if diff := cmp.Diff([]float64{0, 5, 10, 20, 40}, delays); diff != "" {
		t.Errorf("planned delays (-want +got):\n%s", diff)
	}
	if sched["worst_case_wait"] != 75.0 || sched["bounded"] != false || res["changed"] != false || res["status"] != "planned" {
		t.Errorf("schedule = %v, result = %v", sched, res)
	}
}

// An HTTP operation without attempt_timeout still has one (operation.DefaultTimeout): a silent
// server cannot hang the module. The plan says so; an explicit attempt_timeout wins.
func TestHTTPHasADefaultTimeout(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		args        map[string]any
		wantBounded bool
		wantTotal   float64
	}{
		{map[string]any{"url": "http://127.0.0.1:9/"}, true, 3 * operation.DefaultTimeout.Seconds()},
		{map[string]any{"url": "http://127.0.0.1:9/", "attempt_timeout": 2}, true, 6},
		{map[string]any{"argv": []any{"true"}}, false, 0}, // a command keeps "no timeout" by default
	} {
		args := map[string]any{"operation": "api", "max_attempts": 3, "base_delay": 0, "jitter_enabled": false,
			"_ansible_check_mode": true}
		for k, v := range tt.args {
			args[k] = v
		}
		res, code := runModule(t, nil, args)
		sched, _ := res["schedule"].(map[string]any)
		if code != 0 || sched == nil || sched["bounded"] != tt.wantBounded || sched["worst_case_total"] != tt.wantTotal {
			t.Errorf("%v: exit %d, schedule %v; want bounded %v, worst case %v", tt.args, code, sched, tt.wantBounded, tt.wantTotal)
		}
	}
}

func TestOperationConfigsOverride(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	res, code := runModule(t, clk, map[string]any{"operation": "network_configuration", "argv": []any{"false"},
		"max_attempts": 5, "operation_configs": map[string]any{
			"network_configuration": map[string]any{"max_attempts": "2", "retry_policy": "linear_backoff", "base_delay": 8},
			"other":                 map[string]any{"max_attempts": 9},
		}})
	if code != 1 || len(attemptsOf(t, res)) != 2 || res["max_attempts"] != 2.0 {
		t.Fatalf("exit %d, result %v", code, res)
	}
	if diff := cmp.Diff([]float64{8}, slept(clk)); diff != "" {
		t.Errorf("waits (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]any{"defaults", "task", "operation_configs.network_configuration"}, res["policy_sources"]); diff != "" {
		t.Errorf("policy_sources: %s", diff)
	}
}

func TestIdempotencyCheck(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	vm := filepath.Join(dir, "vm")
	clk := newFakeClock()
	// The create times out after creating the VM; the check finds it before the retry.
	res, code := runModule(t, clk, map[string]any{"operation": "vm_create", "use_shell": true,
		"cmd":               "touch " + vm + "; echo 'VM creation timeout' >&2; exit 1",
		"idempotency_check": map[string]any{"argv": []any{"test", "-f", vm}}})
	if code != 0 || res["stop_reason"] != "already_done" || len(attemptsOf(t, res)) != 1 {
		t.Fatalf("exit %d, result %v", code, res)
	}
	if _, has := res["rc"]; has {
		t.Errorf("rc of the failed attempt is returned and would fail the task: %v", res["rc"])
	}
}

func TestDebugModeEvidence(t *testing.T) {
	t.Parallel()
	for _, debug := range []bool{false, true} {
		res, _ := runModule(t, newFakeClock(), map[string]any{"operation": "x", "use_shell": true, "max_attempts": 1,
			"cmd": "echo 'pool is busy right now' >&2; exit 3", "debug_mode": debug,
			"error_rules": []any{map[string]any{"error_type": "quota_exceeded", "pattern": "pool is", "field": "stderr"}}})
		a := attemptsOf(t, res)[0]
		_, has := a["evidence"]
		if has != debug || a["error_type"] != "quota_exceeded" {
			t.Errorf("debug_mode %v: attempt %v", debug, a)
		}
	}
}

func TestBadParameters(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args map[string]any
		want string
	}{
		{map[string]any{"argv": []any{"true"}}, "parameter operation: is required"},
		{map[string]any{"operation": "x", "argv": []any{"true"}, "max_attempts": 0}, "parameter max_attempts: must be between 1 and 10, got 0"},
		{map[string]any{"operation": "x", "argv": []any{"true"}, "max_attempts": 11}, "max_attempts: must be between 1 and 10, got 11"},
		{map[string]any{"operation": "x", "argv": []any{"true"}, "max_attempts": -1}, "max_attempts: must be between 1 and 10, got -1"},
		{map[string]any{"operation": "x", "argv": []any{"true"}, "max_attempts": "abc"}, `max_attempts: must be an integer between 1 and 10, got "abc"`},
		{map[string]any{"operation": "x", "argv": []any{"true"}, "base_delay": -1}, "base_delay: must be at least 0"},
		{map[string]any{"operation": "x", "argv": []any{"true"}, "base_delay": 10, "max_delay": 5}, "max_delay must be at least base_delay"},
		{map[string]any{"operation": "x", "argv": []any{"true"}, "url": "http://x"}, "mutually exclusive"},
		{map[string]any{"operation": "x"}, "one of argv, cmd or url is required"},
		{map[string]any{"operation": "x", "url": "ftp://host/x"}, "url must be an absolute http:// or https:// URL"},
		{map[string]any{"operation": "x", "url": "https://user:pw-secret@/x"}, "url must be an absolute"},
		{map[string]any{"operation": "x", "argv": []any{"true"}, "retry_conditions": []any{"circuit_open"}}, "retry_conditions[0]: must be one of"},
		{map[string]any{"operation": "x", "argv": []any{"true"}, "error_rules": []any{map[string]any{"error_type": "timeout", "pattern": "("}}}, "error_rules"},
		{map[string]any{"operation": "x", "argv": []any{"true"}, "operation_configs": map[string]any{"x": map[string]any{"max_attempts": 0}}}, "operation_configs.x: parameter max_attempts"},
		{map[string]any{"operation": "x", "cmd": "echo 'unterminated"}, "parameter cmd: unterminated quote"},
	} {
		res, code := runModule(t, newFakeClock(), tc.args)
		msg, _ := res["msg"].(string)
		if code != 1 || res["failed"] != true || !strings.Contains(msg, tc.want) {
			t.Errorf("%v: exit %d, msg %q; want failure with %q", tc.args, code, msg, tc.want)
		}
		if strings.Contains(msg, "pw-secret") {
			t.Errorf("a URL password leaked: %q", msg)
		}
	}
}

func TestSplitWords(t *testing.T) {
	t.Parallel()
	for in, want := range map[string][]string{
		`a b  c`:                {"a", "b", "c"},
		`echo "a b" 'c d' e\ f`: {"echo", "a b", "c d", "e f"},
		`x "q\"uote" '$HOME'`:   {"x", `q"uote`, "$HOME"},
		`""`:                    {""},
	} {
		got, err := splitWords(in)
		if err != nil || !cmp.Equal(got, want) {
			t.Errorf("splitWords(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}
