package retry

import (
	"encoding/json"
	"regexp"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

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
