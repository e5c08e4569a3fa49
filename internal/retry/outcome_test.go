package retry

import (
	"context"
	"encoding/json"
	"regexp"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

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
	p := noJitter()
	p.MaxAttempts = 5
	clk := newFakeClock()
	e := newTestEngine(t, p, clk)
	out := e.Do(context.Background(), scripted(t, clk, []time.Duration{secs(30), secs(45), secs(45)},
		failMsg("Connection timeout to vCenter"), failMsg("VM creation timeout"), ok()))

	id := NewOperationID("vmware_vm_create", out.Start, fixed(0.789012))
	rec := NewOperationRecord(id, "vmware_vm_create", "retry_1640995200_123456", out)
	for i := range rec.Attempts {
		rec.Attempts[i].Evidence = nil // debug_mode off
	}
	if out.Attempts[0].Evidence == nil {
		t.Error("clearing the record's evidence cleared the outcome's")
	}
	assertSameJSON(t, rec, referenceRecord)

	// With debug_mode the evidence is there; context when set.
	rec = NewOperationRecord(id, "vmware_vm_create", "s", out)
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
	e := newTestEngine(t, noJitter(), newFakeClock())
	out := e.Do(ctx, func(context.Context, int) Result { return ok() })
	rec := NewOperationRecord("op_1_000001", "op", "s", out)
	assertSameJSON(t, rec, `{
		"operation_id": "op_1_000001", "operation_name": "op", "session_id": "s",
		"start_time": "2023-12-01T10:00:00Z", "end_time": "2023-12-01T10:00:00Z",
		"status": "failed", "attempt_count": 0, "max_attempts": 3, "execution_time": 0,
		"attempts": [], "stop_reason": "cancelled"}`)
}

func TestAttemptJSONTimes(t *testing.T) {
	t.Parallel()
	paris := time.FixedZone("CET", 3600)
	a := Attempt{
		Number: 1, Start: time.Date(2023, 12, 1, 11, 0, 0, 400_000_000, paris),
		End:       time.Date(2023, 12, 1, 11, 0, 1, 900_000_000, paris),
		ErrorType: Timeout, ErrorMessage: "slow", ShouldRetry: true, DelayBeforeRetry: 5250 * time.Millisecond,
	}
	assertSameJSON(t, a, `{"attempt_number": 1, "start_time": "2023-12-01T10:00:00Z", "end_time": "2023-12-01T10:00:01Z",
		"status": "failed", "error_type": "timeout", "error_message": "slow", "should_retry": true,
		"delay_before_retry": 5.25, "execution_time": 1.5}`)
}

func TestNewOperationID(t *testing.T) {
	t.Parallel()
	now := time.Unix(1640995200, 0)
	tests := []struct {
		name string
		rnd  func() float64
		want string
	}{
		{"reference", fixed(0.789012), "vmware_vm_create_1640995200_789012"},
		{"padded", fixed(0.000042), "vmware_vm_create_1640995200_000042"},
		{"zero", fixed(0), "vmware_vm_create_1640995200_000000"},
		{"upper bound stays six digits", fixed(1), "vmware_vm_create_1640995200_999999"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := NewOperationID("vmware_vm_create", now, tt.rnd); got != tt.want {
				t.Errorf("NewOperationID() = %q, want %q", got, tt.want)
			}
		})
	}
	if got := NewOperationID("retry", now, nil); !regexp.MustCompile(`^retry_1640995200_\d{6}$`).MatchString(got) {
		t.Errorf("NewOperationID with the default source = %q", got)
	}
}

func TestStopReasons(t *testing.T) {
	t.Parallel()
	want := []StopReason{"succeeded", "already_done", "non_retryable_error", "attempts_exhausted", "deadline_exceeded", "cancelled", "rejected"}
	if diff := cmp.Diff(want, StopReasons()); diff != "" {
		t.Errorf("StopReasons() mismatch (-want +got):\n%s", diff)
	}
	for _, r := range StopReasons() {
		if got, want := r.Succeeded(), r == StopSucceeded || r == StopAlreadyDone; got != want {
			t.Errorf("%s.Succeeded() = %v, want %v", r, got, want)
		}
	}
}
