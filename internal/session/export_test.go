package session

import (
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"resilience.ops/internal/export"
	"resilience.ops/internal/record"
)

// Snapshot groups the finished operations by name and status, counts failed attempts by type
// (and a guardrail's refusal under its reserved type), and breaches the thresholds as Finalize
// does.
func TestSnapshot(t *testing.T) {
	t.Parallel()
	typ := func(s string) *string { return &s }
	failed := record.Attempt{Status: "failed", ErrorType: typ("connection_error")}
	s := &Session{SessionID: "retry_1_000001", SessionStart: "2026-01-02T03:00:00Z", SessionStatus: StatusActive,
		Operations: []record.Operation{
			{OperationName: "vm_create", Status: record.Completed, AttemptCount: 3, ExecutionTime: 2.5,
				Attempts: []record.Attempt{failed, failed, {Status: "success"}}},
			{OperationName: "vm_create", Status: record.Failed, AttemptCount: 0, ExecutionTime: 0, StopReason: "rejected",
				ErrorType: "circuit_open", Attempts: []record.Attempt{}},
			{OperationName: "vm_create", Status: record.Failed, AttemptCount: 2, ExecutionTime: 1, StopReason: "rejected",
				ErrorType: "retry_budget_exhausted", Attempts: []record.Attempt{failed, failed}},
			{OperationName: "login", Status: record.Running, AttemptCount: 1, Attempts: []record.Attempt{failed}},
		}}
	now := time.Date(2026, 1, 2, 3, 1, 0, 0, time.UTC)
	th := DefaultThresholds()
	snap, alerts := Snapshot(s, now, &th)
	want := []export.OperationStats{
		{Operation: "vm_create", Status: "completed", Operations: 1, Attempts: 3, Retries: 2, ExecutionSeconds: 2.5,
			Failures: map[string]int{"connection_error": 2}},
		{Operation: "vm_create", Status: "failed", Operations: 2, Attempts: 2, Retries: 1, ExecutionSeconds: 1,
			Failures: map[string]int{"connection_error": 2, "circuit_open": 1, "retry_budget_exhausted": 1}},
	}
	if diff := cmp.Diff(want, snap.Operations); diff != "" {
		t.Errorf("operations (-want +got):\n%s", diff)
	}
	if snap.SessionID != s.SessionID || snap.Duration != 60 || !snap.Time.Equal(now) || snap.Statistics.TotalOperations != 3 ||
		snap.Statistics.SuccessRate != 33.33 {
		t.Errorf("snapshot = %+v", snap)
	}
	var names []string
	for _, a := range snap.Alerts {
		names = append(names, a.Name)
	}
	if diff := cmp.Diff([]string{"min_success_rate", "max_error_rate"}, names); diff != "" || len(alerts) != 2 {
		t.Errorf("alerts (-want +got):\n%s", diff)
	}
	if err := snap.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
	// Without thresholds nothing is breached; a finalized session keeps its duration.
	s.SessionStatus, s.SessionEnd, s.SessionDuration = StatusCompleted, "2026-01-02T03:00:30Z", 30
	snap, alerts = Snapshot(s, now, nil)
	if len(snap.Alerts) != 0 || len(alerts) != 0 || alerts == nil || snap.Duration != 30 {
		t.Errorf("no thresholds: alerts %v, duration %v", snap.Alerts, snap.Duration)
	}
}

// Claim lets exactly one of many concurrent claimers of a breach group through, and a new
// group through again; it never creates a session, and writes nothing in DryRun.
func TestClaim(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	st := &Store{Dir: dir}
	id := NewID(time.Now())
	if _, err := st.Claim(id, "alert_1"); err == nil {
		t.Fatal("a claim created a session")
	}
	if _, _, _, err := st.Start(id, nil); err != nil {
		t.Fatal(err)
	}
	var firsts atomic.Int32
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			first, err := (&Store{Dir: dir}).Claim(id, "alert_1")
			if err != nil {
				t.Error(err)
			}
			if first {
				firsts.Add(1)
			}
		}()
	}
	wg.Wait()
	if firsts.Load() != 1 {
		t.Errorf("%d claimers were first, want 1", firsts.Load())
	}
	dry := &Store{Dir: dir, DryRun: true}
	if first, err := dry.Claim(id, "alert_2"); err != nil || !first {
		t.Errorf("dry run claim of a new group = %v, %v", first, err)
	}
	if first, _ := st.Claim(id, "alert_1"); first {
		t.Error("claimed twice")
	}
	if first, _ := st.Claim(id, "alert_2"); !first {
		t.Error("the dry run claim was written, or a new group is refused")
	}
	s, err := st.Load(id)
	if err != nil || !cmp.Equal(s.Delivered, []string{"alert_1", "alert_2"}) {
		t.Errorf("delivered = %v, %v", s.Delivered, err)
	}
	if _, err := st.Claim(filepath.Join("..", id), "x"); err == nil {
		t.Error("a bad id was accepted")
	}
}
