package session

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"resilience.ops/internal/clock"
	"resilience.ops/internal/fakeclock"
	"resilience.ops/internal/record"
)

func strp(s string) *string { return &s }

// op builds a finished operation with n attempts (the last one decides the status).
func op(id string, n int, ok bool, execSeconds float64) record.Operation {
	o := record.Operation{OperationID: id, OperationName: "vmware_vm_create", Status: record.Failed, AttemptCount: n,
		MaxAttempts: 5, ExecutionTime: execSeconds, StopReason: "non_retryable_error"}
	if ok {
		o.Status, o.StopReason = record.Completed, "succeeded"
	}
	for i := 1; i <= n; i++ {
		a := record.Attempt{AttemptNumber: i, Status: "failed", ErrorType: strp("connection_error"), ErrorMessage: strp("Connection timeout to vCenter")}
		if i == n && ok {
			a = record.Attempt{AttemptNumber: i, Status: "success"}
		}
		o.Attempts = append(o.Attempts, a)
	}
	return o
}

// workedOps is the documented example: 5 operations, 4 successful, 2 of them retried with 3
// retries in all, 330 s of execution.
func workedOps() []record.Operation {
	return []record.Operation{
		op("a_1_000001", 3, true, 135),
		op("b_1_000002", 2, true, 60),
		op("c_1_000003", 1, true, 45),
		op("d_1_000004", 1, true, 40),
		op("e_1_000005", 1, false, 50),
	}
}

func TestComputeWorkedExample(t *testing.T) {
	t.Parallel()
	got := Compute(workedOps(), 330*time.Second)
	want := Statistics{
		TotalOperations: 5, SuccessfulOperations: 4, FailedOperations: 1, RetriedOperations: 2,
		TotalRetryAttempts: 3, AverageRetryCount: 0.6, MaxRetryCount: 2, TotalExecutionTime: 330,
		AverageExecutionTime: 66, SuccessRate: 80.0, FailureRate: 20.0, RetryRate: 40.0, OperationsPerMinute: 0.91,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("statistics (-want +got):\n%s", diff)
	}
}

func TestComputeEdgeCases(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		ops  []record.Operation
		dur  time.Duration
		want Statistics
	}{
		{"empty session", nil, time.Minute, Statistics{}},
		{"zero duration", []record.Operation{op("a_1_1", 1, true, 0.2)}, 0, Statistics{TotalOperations: 1, SuccessfulOperations: 1,
			TotalExecutionTime: 0.2, AverageExecutionTime: 0.2, SuccessRate: 100}},
		{"running operations are left out", []record.Operation{op("a_1_1", 2, true, 10), {OperationID: "b_1_2", Status: record.Running, AttemptCount: 4}},
			time.Minute, Statistics{TotalOperations: 1, SuccessfulOperations: 1, RunningOperations: 1, RetriedOperations: 1,
				TotalRetryAttempts: 1, AverageRetryCount: 1, MaxRetryCount: 1, TotalExecutionTime: 10, AverageExecutionTime: 10,
				SuccessRate: 100, RetryRate: 100, OperationsPerMinute: 1}},
		{"thirds round to 2 decimals", []record.Operation{op("a_1_1", 1, true, 1), op("b_1_2", 1, true, 1), op("c_1_3", 2, false, 1)},
			90 * time.Second, Statistics{TotalOperations: 3, SuccessfulOperations: 2, FailedOperations: 1, RetriedOperations: 1,
				TotalRetryAttempts: 1, AverageRetryCount: 0.33, MaxRetryCount: 1, TotalExecutionTime: 3, AverageExecutionTime: 1,
				SuccessRate: 66.67, FailureRate: 33.33, RetryRate: 33.33, OperationsPerMinute: 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tc.want, Compute(tc.ops, tc.dur)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestCheckAlerts(t *testing.T) {
	t.Parallel()
	worked := Compute(workedOps(), 330*time.Second)
	got := CheckAlerts(worked, DefaultThresholds())
	want := []Alert{
		{Alert: "min_success_rate", Metric: "success_rate", Value: 80, Threshold: 85, Message: "success_rate 80 is below min_success_rate 85"},
		{Alert: "max_error_rate", Metric: "failure_rate", Value: 20, Threshold: 15, Message: "failure_rate 20 is above max_error_rate 15"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("alerts (-want +got):\n%s", diff)
	}
	all := CheckAlerts(Statistics{TotalOperations: 2, SuccessRate: 50, FailureRate: 50, AverageRetryCount: 3, TotalExecutionTime: 2000},
		DefaultThresholds())
	var names []string
	for _, a := range all {
		names = append(names, a.Alert)
	}
	if diff := cmp.Diff([]string{"min_success_rate", "max_average_retries", "max_execution_time", "max_error_rate"}, names); diff != "" {
		t.Errorf("every threshold breached (-want +got):\n%s", diff)
	}
	if got := CheckAlerts(Statistics{}, DefaultThresholds()); got == nil || len(got) != 0 {
		t.Errorf("an empty session alerts: %v", got)
	}
}

// TestFinalizeWorkedExample finalizes the documented session and compares the summary with the
// "Session Statistics" JSON of the role's documentation.
func TestFinalizeWorkedExample(t *testing.T) {
	t.Parallel()
	clk := fakeclock.New(time.Date(2023, 12, 1, 10, 0, 0, 0, time.UTC))
	st := &Store{Dir: filepath.Join(t.TempDir(), "ansible_retry"), Clock: clk}
	const id = "retry_1640995200_123456"
	if _, created, _, err := st.Start(id, map[string]any{"call_stack_session_id": "cs_42", "vm_name": "web01"}); err != nil || !created {
		t.Fatalf("start: created %v, %v", created, err)
	}
	for _, o := range workedOps() {
		if _, err := st.RecordOperation(id, o); err != nil {
			t.Fatal(err)
		}
	}
	clk.Set(time.Date(2023, 12, 1, 10, 5, 30, 0, time.UTC))
	th := DefaultThresholds()
	sess, err := st.Finalize(id, StatusCompleted, &th)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(sess.Summary())
	var got map[string]any
	_ = json.Unmarshal(b, &got)
	var want map[string]any
	_ = json.Unmarshal([]byte(`{
	  "session_id": "retry_1640995200_123456",
	  "session_start": "2023-12-01T10:00:00Z",
	  "session_end": "2023-12-01T10:05:30Z",
	  "session_duration": 330,
	  "session_status": "completed",
	  "call_stack_session_id": "cs_42",
	  "final_statistics": {
	    "total_operations": 5, "successful_operations": 4, "failed_operations": 1, "running_operations": 0,
	    "retried_operations": 2, "total_retry_attempts": 3, "average_retry_count": 0.6, "max_retry_count": 2,
	    "total_execution_time": 330, "average_execution_time": 66,
	    "success_rate": 80.0, "failure_rate": 20.0, "retry_rate": 40.0, "operations_per_minute": 0.91
	  },
	  "alerts": [
	    {"alert": "min_success_rate", "metric": "success_rate", "value": 80, "threshold": 85,
	     "message": "success_rate 80 is below min_success_rate 85"},
	    {"alert": "max_error_rate", "metric": "failure_rate", "value": 20, "threshold": 15,
	     "message": "failure_rate 20 is above max_error_rate 15"}
	  ]
	}`), &want)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("session statistics (-want +got):\n%s", diff)
	}

	// The files: the session, its lock and the performance metrics, 0600 in a 0700 directory.
	fi, err := os.Stat(st.Dir)
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("state directory mode %v, %v", fi.Mode().Perm(), err)
	}
	for _, p := range []string{st.Files().Session(id), st.Files().Performance(id)} {
		fi, err := os.Stat(p)
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, %v", p, fi, err)
		}
	}
	var perf Performance
	data, _ := os.ReadFile(st.Files().Performance(id))
	if err := json.Unmarshal(data, &perf); err != nil {
		t.Fatal(err)
	}
	if perf.ErrorDistribution["connection_error"] != 4 || perf.Operations["vmware_vm_create"].Count != 5 ||
		perf.Operations["vmware_vm_create"].AverageAttempts != 1.6 || perf.Statistics.SuccessRate != 80 {
		t.Errorf("performance = %+v", perf)
	}

	// Joining the finalized session makes it active again; finalizing again recomputes.
	sess, created, changed, err := st.Start(id, map[string]any{"call_stack_session_id": "other"})
	if err != nil || created || !changed || sess.SessionStatus != StatusActive || sess.CallStackSessionID != "cs_42" {
		t.Errorf("join: %v %v %v %v %q", err, created, changed, sess.SessionStatus, sess.CallStackSessionID)
	}
	if _, _, changed, _ := st.Start(id, nil); changed {
		t.Error("joining an active session again reported a change")
	}
}

func TestValidateID(t *testing.T) {
	t.Parallel()
	for _, id := range []string{"retry_1640995200_123456", "retry_1_0", "retry_1764000000_000001"} {
		if err := ValidateID(id); err != nil {
			t.Errorf("ValidateID(%q) = %v", id, err)
		}
	}
	for _, id := range []string{"", "../retry_1_2", "retry_1_2/../../etc/passwd", "../../etc/cron.d/x", "retry_1_2.json",
		"retry_1_2/", "/tmp/retry_1_2", "retry_a_2", "retry_1_2\x00", "retry_1_2 ", "..", "retry__1", "RETRY_1_2",
		"retry_1_" + strings.Repeat("9", 40)} {
		if err := ValidateID(id); !errors.Is(err, ErrBadID) {
			t.Errorf("ValidateID(%q) = %v, want ErrBadID", id, err)
		}
	}
	for _, id := range []string{"../x", "a/b", ".hidden", "x y", ""} {
		if err := ValidateOperationID(id); !errors.Is(err, ErrBadID) {
			t.Errorf("ValidateOperationID(%q) = %v, want ErrBadID", id, err)
		}
	}
}

// A session id with ../ is rejected before any path is built: nothing is written anywhere.
func TestTraversalIDRejected(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	st := &Store{Dir: filepath.Join(root, "state")}
	bad := "../../" + filepath.Base(root) + "/escaped"
	if _, _, _, err := st.Start(bad, nil); !errors.Is(err, ErrBadID) {
		t.Errorf("Start = %v", err)
	}
	if _, err := st.RecordOperation("retry_1_2/../../x", record.Operation{OperationID: "x_1_1"}); !errors.Is(err, ErrBadID) {
		t.Errorf("RecordOperation = %v", err)
	}
	if _, err := st.Finalize("..", StatusCompleted, nil); !errors.Is(err, ErrBadID) {
		t.Errorf("Finalize = %v", err)
	}
	if err := st.AppendError("../x", ErrorEntry{}); !errors.Is(err, ErrBadID) {
		t.Errorf("AppendError = %v", err)
	}
	if err := st.WriteAttempt("retry_1_2", &record.Operation{OperationID: "../../x"}, record.Attempt{AttemptNumber: 1}); !errors.Is(err, ErrBadID) {
		t.Errorf("WriteAttempt = %v", err)
	}
	entries, _ := os.ReadDir(root)
	if len(entries) != 0 {
		t.Errorf("files were created: %v", entries)
	}
}

// Goroutines of one process record into one session at once: nothing is lost. (The test with 50
// real processes is in internal/retrymod, on the built module.)
func TestConcurrentUpdates(t *testing.T) {
	t.Parallel()
	st := &Store{Dir: t.TempDir()}
	const id, writers, attempts = "retry_1_1", 50, 3
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			opID := fmt.Sprintf("op_%d_%06d", w, w)
			for n := 1; n <= attempts; n++ {
				_, err := st.UpdateOperation(id, fmt.Sprintf("host%02d", w), nil, func(lookup Lookup) (record.Operation, []ErrorEntry, error) {
					o, err := lookup(opID)
					if err != nil || o == nil {
						o = &record.Operation{OperationID: opID, Host: fmt.Sprintf("host%02d", w), Status: record.Running}
					}
					o.Attempts = append(o.Attempts, record.Attempt{AttemptNumber: len(o.Attempts) + 1})
					o.AttemptCount = len(o.Attempts)
					return *o, nil, err
				})
				if err != nil {
					t.Error(err)
				}
			}
		}(w)
	}
	wg.Wait()
	sess, err := st.Load(id)
	if err != nil {
		t.Fatal(err)
	}
	if len(sess.Operations) != writers {
		t.Fatalf("%d operations, want %d", len(sess.Operations), writers)
	}
	for _, o := range sess.Operations {
		if o.AttemptCount != attempts {
			t.Errorf("%s: %d attempts, want %d", o.OperationID, o.AttemptCount, attempts)
		}
	}
}

// Check mode: a DryRun store computes the same results and writes nothing.
func TestDryRunWritesNothing(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "state")
	st := &Store{Dir: dir, DryRun: true}
	sess, created, changed, err := st.Start("retry_5_5", map[string]any{"call_stack_session_id": "cs"})
	if err != nil || !created || !changed || sess.CallStackSessionID != "cs" {
		t.Errorf("start: %+v %v %v %v", sess, created, changed, err)
	}
	if _, err := st.RecordOperation("retry_5_5", op("a_1_1", 1, true, 1)); err != nil {
		t.Error(err)
	}
	// The session started in check mode has no file: finalizing it in check mode is not an error.
	if sess, err := st.Finalize("retry_5_5", StatusCompleted, nil); err != nil || sess.FinalStatistics == nil {
		t.Errorf("finalize of a session started in check mode: %v", err)
	}
	if _, err := (&Store{Dir: dir}).Finalize("retry_5_5", StatusCompleted, nil); !errors.Is(err, ErrNoSession) {
		t.Errorf("finalize of a session that has no file: %v", err)
	}
	if err := st.AppendError("retry_5_5", ErrorEntry{}); err != nil {
		t.Error(err)
	}
	if err := st.WriteAttempt("retry_5_5", &record.Operation{OperationID: "a_1_1"}, record.Attempt{AttemptNumber: 1}); err != nil {
		t.Error(err)
	}
	if _, err := os.Lstat(dir); err == nil {
		t.Error("check mode created the state directory")
	}
}

// setAge gives path a modification time age before now.
func setAge(t *testing.T, path string, now time.Time, age time.Duration) {
	t.Helper()
	if err := os.Chtimes(path, now.Add(-age), now.Add(-age)); err != nil {
		t.Fatal(err)
	}
}

// newSession writes a session with one operation (and its attempt log and error log), finalized
// unless active, aged by age.
func newSession(t *testing.T, st *Store, id string, active bool, now time.Time, age time.Duration) {
	t.Helper()
	o := op("op_"+strings.TrimPrefix(id, "retry_"), 2, false, 3)
	if _, err := st.RecordOperation(id, o); err != nil {
		t.Fatal(err)
	}
	if err := st.WriteAttempt(id, &o, o.Attempts[0]); err != nil {
		t.Fatal(err)
	}
	if err := st.AppendError(id, ErrorEntryOf(&o, now)); err != nil {
		t.Fatal(err)
	}
	if !active {
		if _, err := st.Finalize(id, StatusCompleted, nil); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []string{st.Files().Session(id), st.Files().Performance(id), st.Files().ErrorLog(id), st.Files().Attempt(o.OperationID, 1)} {
		if _, err := os.Lstat(p); err == nil {
			setAge(t, p, now, age)
		}
	}
}

func names(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	sort.Strings(out)
	return out
}

func TestCleanup(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	st := &Store{Dir: filepath.Join(t.TempDir(), "state"), Clock: clock.Func(func() time.Time { return now })}
	newSession(t, st, "retry_1_1", false, now, 40*Day) // too old: removed
	newSession(t, st, "retry_2_2", true, now, 40*Day)  // too old, though active: removed
	newSession(t, st, "retry_3_3", false, now, 3*Day)  // beyond the 2 newest: removed
	newSession(t, st, "retry_4_4", true, now, 4*Day)   // beyond, but active: kept
	newSession(t, st, "retry_5_5", false, now, 2*Day)  // newest finished: kept
	newSession(t, st, "retry_6_6", false, now, 1*Day)  // the current session: kept
	orphan := filepath.Join(st.Dir, "attempt_gone_1_000001_1.json")
	if err := os.WriteFile(orphan, []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	setAge(t, orphan, now, 31*Day)
	r := Retention{MaxAge: 30 * Day, MaxSessions: 2}

	dry := &Store{Dir: st.Dir, Clock: st.Clock, DryRun: true}
	before := names(t, st.Dir)
	wouldRemove, err := dry.Cleanup(r, "retry_6_6")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(before, names(t, st.Dir)); diff != "" {
		t.Fatalf("check mode removed files:\n%s", diff)
	}
	removed, err := st.Cleanup(r, "retry_6_6")
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(removed)
	sort.Strings(wouldRemove)
	if diff := cmp.Diff(wouldRemove, removed); diff != "" {
		t.Errorf("check mode predicted other removals (-check +real):\n%s", diff)
	}
	var left []string
	for _, n := range names(t, st.Dir) {
		if !strings.HasSuffix(n, ".lock") {
			left = append(left, n)
		}
	}
	want := []string{}
	for _, id := range []string{"4_4", "5_5", "6_6"} {
		want = append(want, "attempt_op_"+id+"_1.json", "retry_session_retry_"+id+".json", "retry_session_retry_"+id+".d")
		if id != "4_4" { // the error log and the performance file are written by finalize
			want = append(want, "retry_performance_retry_"+id+".json", "retry_session_error_retry_"+id+".json")
		}
	}
	sort.Strings(want)
	if diff := cmp.Diff(want, left); diff != "" {
		t.Errorf("files left (-want +got):\n%s", diff)
	}
	for _, n := range names(t, st.Dir) {
		for _, id := range []string{"retry_1_1", "retry_2_2", "retry_3_3"} {
			if strings.Contains(n, id) {
				t.Errorf("%s of a removed session is left", n)
			}
		}
	}
}

func TestCompressAndReadBack(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	st := &Store{Dir: filepath.Join(t.TempDir(), "state"), Clock: clock.Func(func() time.Time { return now })}
	newSession(t, st, "retry_1_1", false, now, 2*Day) // old: compressed
	newSession(t, st, "retry_2_2", false, now, 0)     // recent and small: kept
	newSession(t, st, "retry_3_3", true, now, 0)      // large but active: kept
	newSession(t, st, "retry_4_4", false, now, 0)     // large and finished: compressed
	big := op("big_1_1", 1, true, 1)
	big.Context = map[string]any{"blob": strings.Repeat("x", 4096)}
	for _, id := range []string{"retry_3_3", "retry_4_4"} {
		if _, err := st.RecordOperation(id, big); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.Finalize("retry_4_4", StatusCompleted, nil); err != nil {
		t.Fatal(err)
	}
	r := Retention{CompressAfter: Day, CompressMinSize: 4096}
	oldMtime := now.Add(-2 * Day)

	dry := &Store{Dir: st.Dir, Clock: st.Clock, DryRun: true}
	before := names(t, st.Dir)
	would, err := dry.Compress(r, "")
	if err != nil || len(would) != 8 {
		t.Fatalf("check mode: %v, %v", would, err)
	}
	if diff := cmp.Diff(before, names(t, st.Dir)); diff != "" {
		t.Fatalf("check mode changed files:\n%s", diff)
	}
	got, err := st.Compress(r, "")
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, c := range got {
		files = append(files, filepath.Base(c.File))
		if c.SizeAfter <= 0 || c.SizeBefore <= 0 {
			t.Errorf("%+v", c)
		}
	}
	sort.Strings(files)
	wantFiles := []string{"retry_performance_retry_1_1.json", "retry_performance_retry_4_4.json", "retry_session_error_retry_1_1.json",
		"retry_session_error_retry_4_4.json", "retry_session_retry_1_1.d", "retry_session_retry_1_1.json",
		"retry_session_retry_4_4.d", "retry_session_retry_4_4.json"}
	// The error log of 4_4 is small but belongs to a compressed session; its segments (the parts
	// directory, one entry) too.
	if diff := cmp.Diff(wantFiles, files); diff != "" {
		t.Errorf("compressed (-want +got):\n%s", diff)
	}
	gz := st.Files().Session("retry_1_1") + ".gz"
	fi, err := os.Stat(gz)
	if err != nil || !fi.ModTime().Equal(oldMtime) {
		t.Errorf("%s: %v, mtime %v; want the original %v", gz, err, fi, oldMtime)
	}
	if _, err := os.Stat(st.Files().Session("retry_1_1")); err == nil {
		t.Error("the uncompressed file is still there")
	}
	// A compressed session keeps its age: retention would remove it with its files.
	wouldRemove, err := dry.Cleanup(Retention{MaxAge: Day}, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"retry_session_retry_1_1.json.gz", "retry_performance_retry_1_1.json.gz", "attempt_op_1_1_1.json"} {
		found := false
		for _, p := range wouldRemove {
			found = found || filepath.Base(p) == want
		}
		if !found {
			t.Errorf("retention would not remove %s: %v", want, wouldRemove)
		}
	}
	// Reads and updates use the compressed file transparently.
	sess, err := st.Load("retry_1_1")
	if err != nil || sess == nil || len(sess.Operations) != 1 || sess.SessionStatus != StatusCompleted {
		t.Fatalf("load from .gz: %+v, %v", sess, err)
	}
	if _, err := st.RecordOperation("retry_1_1", op("late_1_1", 1, true, 1)); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(gz); err == nil {
		t.Error("the .gz file is still there after an update")
	}
	sess, _ = st.Load("retry_1_1")
	if len(sess.Operations) != 2 {
		t.Errorf("operations after the update: %d, want 2", len(sess.Operations))
	}
	if err := st.AppendError("retry_4_4", ErrorEntry{OperationID: "x"}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Finalize("retry_4_4", StatusCompleted, nil); err != nil { // composes the error log
		t.Fatal(err)
	}
	var log ErrorLog
	data, _ := os.ReadFile(st.Files().ErrorLog("retry_4_4"))
	if err := json.Unmarshal(data, &log); err != nil || len(log.Errors) != 2 {
		t.Errorf("error log after compression and append: %v %+v", err, log)
	}
}

// Retention and compression run while other processes write a session: no update is lost, and the
// active session is neither removed nor corrupted.
func TestRetentionWhileWriting(t *testing.T) {
	t.Parallel()
	st := &Store{Dir: t.TempDir()}
	for _, id := range []string{"retry_1_1", "retry_2_2"} {
		if _, err := st.RecordOperation(id, op("x_1_1", 1, true, 1)); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Finalize(id, StatusCompleted, nil); err != nil {
			t.Fatal(err)
		}
	}
	const active, writers, each = "retry_9_9", 10, 10
	var wg sync.WaitGroup
	done := make(chan struct{})
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				if _, err := st.RecordOperation(active, op(fmt.Sprintf("w%d_%d_1", w, i), 1, true, 1)); err != nil {
					t.Error(err)
				}
			}
		}(w)
	}
	var janitor sync.WaitGroup
	janitor.Add(1)
	go func() {
		defer janitor.Done()
		for {
			select {
			case <-done:
				return
			default:
			}
			// Compress everything not written in the last nanosecond (the active session too), and
			// keep at most one session.
			if _, err := st.Compress(Retention{CompressAfter: time.Nanosecond}, ""); err != nil {
				t.Error(err)
			}
			if _, err := st.Cleanup(Retention{MaxSessions: 1}, ""); err != nil {
				t.Error(err)
			}
		}
	}()
	wg.Wait()
	close(done)
	janitor.Wait()
	sess, err := st.Load(active)
	if err != nil || sess == nil {
		t.Fatalf("active session: %v", err)
	}
	if len(sess.Operations) != writers*each {
		t.Errorf("%d operations, want %d: updates were lost", len(sess.Operations), writers*each)
	}
}
