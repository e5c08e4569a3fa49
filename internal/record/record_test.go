package record

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"resilience.ops/internal/fakeclock"
	"resilience.ops/internal/retry"
)

var t0 = time.Date(2023, 12, 1, 10, 0, 0, 0, time.UTC)

func fixed(r float64) func() float64 { return func() float64 { return r } }

func secs(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// run runs an engine without jitter whose attempt n takes took[n-1] and returns results[n-1].
func run(t *testing.T, ctx context.Context, maxAttempts int, took []time.Duration, results ...retry.Result) retry.Outcome {
	t.Helper()
	p := retry.DefaultPolicy()
	p.JitterEnabled, p.MaxAttempts = false, maxAttempts
	clk := fakeclock.New(t0)
	e, err := retry.NewEngine(p, retry.WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	return e.Do(ctx, func(_ context.Context, n int) retry.Result {
		clk.Advance(took[n-1])
		return results[n-1]
	})
}

func failMsg(s string) retry.Result { return retry.Result{Failure: &retry.Failure{Message: s}} }

// referenceRecord is the operation record of the reference documentation,
// plus stop_reason.
const referenceRecord = `{
  "operation_id": "vmware_vm_create_1701424800_789012",
  "operation_name": "vmware_vm_create",
  "session_id": "retry_1640995200_123456",
  "start_time": "2023-12-01T10:00:00Z",
  "end_time": "2023-12-01T10:02:15Z",
  "status": "completed",
  "attempt_count": 3,
  "max_attempts": 5,
  "execution_time": 135,
  "attempts": [
    {
      "attempt_number": 1,
      "start_time": "2023-12-01T10:00:00Z",
      "end_time": "2023-12-01T10:00:30Z",
      "status": "failed",
      "error_type": "connection_error",
      "error_message": "Connection timeout to vCenter",
      "should_retry": true,
      "delay_before_retry": 5,
      "execution_time": 30
    },
    {
      "attempt_number": 2,
      "start_time": "2023-12-01T10:00:35Z",
      "end_time": "2023-12-01T10:01:20Z",
      "status": "failed",
      "error_type": "timeout",
      "error_message": "VM creation timeout",
      "should_retry": true,
      "delay_before_retry": 10,
      "execution_time": 45
    },
    {
      "attempt_number": 3,
      "start_time": "2023-12-01T10:01:30Z",
      "end_time": "2023-12-01T10:02:15Z",
      "status": "success",
      "error_type": null,
      "error_message": null,
      "should_retry": false,
      "delay_before_retry": 0,
      "execution_time": 45
    }
  ],
  "stop_reason": "succeeded"
}`

func TestOperationRecordMatchesReference(t *testing.T) {
	t.Parallel()
	out := run(t, context.Background(), 5, []time.Duration{secs(30), secs(45), secs(45)},
		failMsg("Connection timeout to vCenter"), failMsg("VM creation timeout"), retry.Result{})

	id := retry.NewOperationID("vmware_vm_create", out.Start, fixed(0.789012))
	rec := FromOutcome(id, "vmware_vm_create", "retry_1640995200_123456", out)
	for i := range rec.Attempts {
		rec.Attempts[i].Evidence = nil // debug_mode off
	}
	if out.Attempts[0].Evidence == nil {
		t.Error("clearing the record's evidence cleared the outcome's")
	}
	assertSameJSON(t, rec, referenceRecord)

	// With debug_mode the evidence is there; context when set.
	rec = FromOutcome(id, "vmware_vm_create", "s", out)
	rec.Context = map[string]any{"vm_name": "web01"}
	raw, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Attempts []map[string]any `json:"attempts"`
		Context  map[string]any   `json:"context"`
	}
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	wantEv := map[string]any{"rule": "builtin.message", "field": "message", "match": "Connection timeout"}
	if diff := cmp.Diff(wantEv, got.Attempts[0]["evidence"]); diff != "" {
		t.Errorf("evidence mismatch (-want +got):\n%s", diff)
	}
	if _, ok := got.Attempts[2]["evidence"]; ok {
		t.Error("a successful attempt has evidence")
	}
	if got.Context["vm_name"] != "web01" {
		t.Errorf("context = %v", got.Context)
	}
}

func assertSameJSON(t *testing.T, v any, want string) {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	var gotV, wantV any
	if err := json.Unmarshal(raw, &gotV); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(want), &wantV); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(wantV, gotV); diff != "" {
		t.Errorf("JSON mismatch (-want +got):\n%s\ngot: %s", diff, raw)
	}
}

func TestOperationRecordFailedRun(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	out := run(t, ctx, 3, nil)
	rec := FromOutcome("op_1_000001", "op", "s", out)
	assertSameJSON(t, rec, `{
		"operation_id": "op_1_000001", "operation_name": "op", "session_id": "s",
		"start_time": "2023-12-01T10:00:00Z", "end_time": "2023-12-01T10:00:00Z",
		"status": "failed", "attempt_count": 0, "max_attempts": 3, "execution_time": 0,
		"attempts": [], "stop_reason": "cancelled"}`)
}

func TestAttemptJSONTimes(t *testing.T) {
	t.Parallel()
	paris := time.FixedZone("CET", 3600)
	a := retry.Attempt{
		Number: 1, Start: time.Date(2023, 12, 1, 11, 0, 0, 400_000_000, paris),
		End:       time.Date(2023, 12, 1, 11, 0, 1, 900_000_000, paris),
		ErrorType: retry.Timeout, ErrorMessage: "slow", ShouldRetry: true, DelayBeforeRetry: 5250 * time.Millisecond,
	}
	assertSameJSON(t, FromAttempt(a), `{"attempt_number": 1, "start_time": "2023-12-01T10:00:00Z", "end_time": "2023-12-01T10:00:01Z",
		"status": "failed", "error_type": "timeout", "error_message": "slow", "should_retry": true,
		"delay_before_retry": 5.25, "execution_time": 1.5}`)
}

// A record read back from its JSON is the record that was written: the session files and the
// registered results that action record ingests hold every field.
func TestRoundTrip(t *testing.T) {
	t.Parallel()
	out := run(t, context.Background(), 2, []time.Duration{secs(1), secs(2)}, failMsg("Connection refused"), retry.Result{})
	rec := FromOutcome("op_1_000001", "op", "retry_1_000001", out)
	rec.Host, rec.ErrorType, rec.Context = "web01", string(retry.CircuitOpen), map[string]any{"vm": "a"}
	rec.Attempts[0].FailedTask = "Create the VM"
	raw, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	var back Operation
	if err := json.Unmarshal(raw, &back); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(rec, back); diff != "" {
		t.Errorf("round trip (-written +read):\n%s", diff)
	}
	if got := back.LastErrorType(); got != string(retry.CircuitOpen) {
		t.Errorf("LastErrorType = %q", got)
	}
	back.ErrorType = ""
	if got := back.LastErrorType(); got != "" {
		t.Errorf("LastErrorType of a success = %q", got)
	}
}

func TestTimestamp(t *testing.T) {
	t.Parallel()
	for in, want := range map[time.Time]string{
		time.Date(2023, 12, 1, 10, 5, 30, 0, time.UTC):                         "2023-12-01T10:05:30Z",
		time.Date(2023, 12, 1, 10, 5, 30, 900_000_000, time.UTC):               "2023-12-01T10:05:30.900Z",
		time.Date(2023, 12, 1, 11, 5, 30, 1_999_999, time.FixedZone("", 3600)): "2023-12-01T10:05:30.001Z",
	} {
		if got := Timestamp(in); got != want {
			t.Errorf("Timestamp(%v) = %q, want %q", in, got, want)
		}
		if back, err := ParseTimestamp(want); err != nil || !back.Equal(in.Truncate(time.Millisecond)) {
			t.Errorf("ParseTimestamp(%q) = %v, %v", want, back, err)
		}
	}
}

func TestFileSafeName(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"vmware_vm_create": "vmware_vm_create",
		"../etc/passwd":    "_etc_passwd",
		"create VM: web01": "create_VM__web01",
		"":                 "operation",
		"...":              "operation",
	} {
		if got := FileSafeName(in); got != want {
			t.Errorf("FileSafeName(%q) = %q, want %q", in, got, want)
		}
	}
	if got := FileSafeName(strings.Repeat("x", 300)); len(got) != maxNameInID {
		t.Errorf("long name kept %d bytes", len(got))
	}
	if id := NewOperationID("a/b", time.Unix(7, 0), func() float64 { return 0.5 }); id != "a_b_7_500000" {
		t.Errorf("NewOperationID = %q", id)
	}
}
