package session

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"resilience.ops/internal/clock"
	"resilience.ops/internal/fakeclock"
	"resilience.ops/internal/record"
	"resilience.ops/internal/state"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/")

// referenceOperation is the "Operation Details" example of the reference (the role users run
// today), with the host it ran for.
func referenceOperation() record.Operation {
	return record.Operation{OperationID: "vmware_vm_create_1640995200_789012", OperationName: "vmware_vm_create",
		SessionID: "retry_1640995200_123456", Host: "esx01.example.com",
		StartTime: "2023-12-01T10:00:00Z", EndTime: "2023-12-01T10:02:15Z", Status: record.Completed, AttemptCount: 3,
		MaxAttempts: 5, ExecutionTime: 135, StopReason: "succeeded",
		Attempts: []record.Attempt{
			{AttemptNumber: 1, StartTime: "2023-12-01T10:00:00Z", EndTime: "2023-12-01T10:00:30Z", Status: "failed",
				ErrorType: strp("connection_error"), ErrorMessage: strp("Connection timeout to vCenter"), ShouldRetry: true,
				DelayBeforeRetry: 5, ExecutionTime: 30},
			{AttemptNumber: 2, StartTime: "2023-12-01T10:00:35Z", EndTime: "2023-12-01T10:01:20Z", Status: "failed",
				ErrorType: strp("timeout"), ErrorMessage: strp("VM creation timeout"), ShouldRetry: true,
				DelayBeforeRetry: 10, ExecutionTime: 45},
			{AttemptNumber: 3, StartTime: "2023-12-01T10:01:30Z", EndTime: "2023-12-01T10:02:15Z", Status: "success",
				ExecutionTime: 45},
		}}
}

// The reference's two JSON examples, as its README gives them.
const (
	referenceSessionStatistics = `{
  "session_id": "retry_1640995200_123456",
  "session_start": "2023-12-01T10:00:00Z",
  "session_end": "2023-12-01T10:05:30Z",
  "session_duration": 330,
  "session_status": "completed",
  "final_statistics": {
    "total_operations": 5, "successful_operations": 4, "failed_operations": 1, "retried_operations": 2,
    "total_retry_attempts": 3, "average_retry_count": 0.6, "max_retry_count": 2, "total_execution_time": 330,
    "average_execution_time": 66, "success_rate": 80.0, "failure_rate": 20.0, "retry_rate": 40.0,
    "operations_per_minute": 0.91
  }
}`
	referenceOperationDetails = `{
  "operation_id": "vmware_vm_create_1640995200_789012", "operation_name": "vmware_vm_create",
  "session_id": "retry_1640995200_123456", "start_time": "2023-12-01T10:00:00Z", "end_time": "2023-12-01T10:02:15Z",
  "status": "completed", "attempt_count": 3, "max_attempts": 5, "execution_time": 135,
  "attempts": [
    {"attempt_number": 1, "start_time": "2023-12-01T10:00:00Z", "end_time": "2023-12-01T10:00:30Z", "status": "failed",
     "error_type": "connection_error", "error_message": "Connection timeout to vCenter", "should_retry": true,
     "delay_before_retry": 5, "execution_time": 30},
    {"attempt_number": 2, "start_time": "2023-12-01T10:00:35Z", "end_time": "2023-12-01T10:01:20Z", "status": "failed",
     "error_type": "timeout", "error_message": "VM creation timeout", "should_retry": true,
     "delay_before_retry": 10, "execution_time": 45},
    {"attempt_number": 3, "start_time": "2023-12-01T10:01:30Z", "end_time": "2023-12-01T10:02:15Z", "status": "success",
     "error_type": null, "error_message": null, "should_retry": false, "delay_before_retry": 0, "execution_time": 45}
  ]
}`
)

// workedSession records the reference's worked example (5 operations of 4 hosts, one of them the
// reference's "Operation Details") and finalizes it at 10:05:30.
func workedSession(t testing.TB) (*Store, string) {
	t.Helper()
	clk := fakeclock.New(time.Date(2023, 12, 1, 10, 0, 0, 0, time.UTC))
	st := &Store{Dir: filepath.Join(t.TempDir(), "ansible_retry"), Clock: clk}
	const id = "retry_1640995200_123456"
	if _, _, _, err := st.Start(id, nil); err != nil {
		t.Fatal(err)
	}
	ops := workedOps()[1:]
	hosts := []string{"esx02", "esx02", "esx03", "web 04"}
	for i := range ops {
		ops[i].Host = hosts[i]
		start := time.Date(2023, 12, 1, 10, 1, 0, 0, time.UTC)
		ops[i].StartTime, ops[i].EndTime = record.Timestamp(start), record.Timestamp(start.Add(time.Duration(ops[i].ExecutionTime)*time.Second))
		for j := range ops[i].Attempts {
			a := &ops[i].Attempts[j]
			a.StartTime, a.EndTime, a.ExecutionTime = record.Timestamp(start), record.Timestamp(start.Add(10*time.Second)), 10
			if j < len(ops[i].Attempts)-1 {
				a.ShouldRetry, a.DelayBeforeRetry = true, 5
			}
			start = start.Add(15 * time.Second)
		}
		if _, err := st.RecordOperation(id, ops[i], errorEntries(&ops[i], clk.Now())...); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.RecordOperation(id, referenceOperation()); err != nil {
		t.Fatal(err)
	}
	clk.Set(time.Date(2023, 12, 1, 10, 5, 30, 0, time.UTC))
	if _, err := st.Finalize(id, StatusCompleted, nil); err != nil {
		t.Fatal(err)
	}
	return st, id
}

func errorEntries(op *record.Operation, now time.Time) []ErrorEntry {
	if op.Status != record.Failed {
		return nil
	}
	return []ErrorEntry{ErrorEntryOf(op, now)}
}

func decodeJSON(t *testing.T, data []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, data)
	}
	return m
}

// contains reports the keys of want whose values differ in got (want's keys, recursively).
func contains(t *testing.T, where string, got, want any) {
	t.Helper()
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			t.Errorf("%s: %v, want an object", where, got)
			return
		}
		for k, v := range w {
			contains(t, where+"."+k, g[k], v)
		}
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			t.Errorf("%s: %v, want %d elements", where, got, len(w))
			return
		}
		for i := range w {
			contains(t, fmt.Sprintf("%s[%d]", where, i), g[i], w[i])
		}
	default:
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", where, diff)
		}
	}
}

// The session composed from the parts (Compose) is the reference's format: the golden file, which
// holds the reference's "Session Statistics" and, among the operations, its "Operation Details".
func TestComposedSessionMatchesTheReference(t *testing.T) {
	t.Parallel()
	st, id := workedSession(t)
	var buf bytes.Buffer
	if err := st.Compose(id, &buf); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "composed_session.json")
	if *update {
		var pretty bytes.Buffer
		_ = json.Indent(&pretty, buf.Bytes(), "", "  ")
		if err := os.WriteFile(golden, append(pretty.Bytes(), '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	got := decodeJSON(t, buf.Bytes())
	if diff := cmp.Diff(decodeJSON(t, want), got); diff != "" {
		t.Errorf("composed session (-golden +got):\n%s", diff)
	}
	contains(t, "session", got, decodeJSON(t, []byte(referenceSessionStatistics)))
	var ref map[string]any
	for _, op := range got["operations"].([]any) {
		if op.(map[string]any)["operation_id"] == "vmware_vm_create_1640995200_789012" {
			ref = op.(map[string]any)
		}
	}
	contains(t, "operation", ref, decodeJSON(t, []byte(referenceOperationDetails)))

	// Load composes the same in memory, and the head file holds no operation.
	sess, err := st.Load(id)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(sess)
	if diff := cmp.Diff(got, decodeJSON(t, b)); diff != "" {
		t.Errorf("Load differs from Compose (-compose +load):\n%s", diff)
	}
	head, _ := os.ReadFile(st.Files().Session(id))
	if h := decodeJSON(t, head); h["operations"] != nil || h["format_version"] != 2.0 || h["final_statistics"] == nil {
		t.Errorf("head file: %s", head)
	}
}

// copyFormat1 puts the session file and error log of testdata/format1 (written by the previous
// version of this package) in a new state directory.
func copyFormat1(t *testing.T) (string, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "state")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"retry_session_retry_1764000000_123456.json", "retry_session_error_retry_1764000000_123456.json"} {
		data, err := os.ReadFile(filepath.Join("testdata", "format1", name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir, "retry_1764000000_123456"
}

func opIDs(ops []record.Operation) []string {
	var out []string
	for _, o := range ops {
		out = append(out, o.OperationID+"@"+o.Host+"/"+o.Status)
	}
	sort.Strings(out)
	return out
}

// A session written by the previous version (one file with its operations) is read as it is, and
// moved to the head and parts by the next write, keeping its operations and its error log.
func TestReadsAndMigratesAFormat1Session(t *testing.T) {
	t.Parallel()
	dir, id := copyFormat1(t)
	now := time.Date(2025, 11, 24, 9, 5, 0, 0, time.UTC)
	st := &Store{Dir: dir, Clock: clock.Func(func() time.Time { return now })}
	before := treeOf(t, dir)
	sess, err := st.Load(id)
	if err != nil || sess == nil {
		t.Fatal(err)
	}
	want := []string{"network_configuration_1764000003_000003@esx01.example.com/running",
		"vmware_login_1764000002_000002@esx02/failed", "vmware_vm_create_1764000001_000001@esx01.example.com/completed"}
	if diff := cmp.Diff(want, opIDs(sess.Operations)); diff != "" {
		t.Errorf("operations (-want +got):\n%s", diff)
	}
	snap, _, head, err := st.Snapshot(id, now, nil)
	if err != nil || head.CallStackSessionID != "cs_v1" || snap.Statistics.TotalOperations != 2 || snap.Statistics.FailedOperations != 1 {
		t.Errorf("snapshot: %+v %+v %v", snap.Statistics, head, err)
	}
	dry := &Store{Dir: dir, Clock: st.Clock, DryRun: true}
	dfin, err := dry.Finalize(id, StatusCompleted, nil)
	if err != nil || dfin.FinalStatistics.TotalOperations != 2 || dfin.FinalStatistics.RunningOperations != 1 {
		t.Errorf("finalize in check mode: %+v, %v", dfin.FinalStatistics, err)
	}
	if diff := cmp.Diff(before, treeOf(t, dir)); diff != "" {
		t.Errorf("reading changed the files:\n%s", diff)
	}

	// The next write moves it: attempt 2 of the running operation is recorded on top of the
	// attempt the old file holds.
	rec, err := st.UpdateOperation(id, "esx01.example.com", nil, func(lookup Lookup) (record.Operation, []ErrorEntry, error) {
		o, err := lookup("network_configuration_1764000003_000003")
		if err != nil || o == nil {
			return record.Operation{}, nil, fmt.Errorf("the running operation is not found: %v", err)
		}
		o.Attempts = append(o.Attempts, record.Attempt{AttemptNumber: 2, Status: "success"})
		o.AttemptCount, o.Status, o.StopReason = 2, record.Completed, "succeeded"
		return *o, nil, nil
	})
	if err != nil || rec.AttemptCount != 2 {
		t.Fatalf("record into the old session: %+v, %v", rec, err)
	}
	headFile := decodeJSON(t, mustRead(t, st.Files().Session(id)))
	if headFile["format_version"] != 2.0 || headFile["operations"] != nil || headFile["call_stack_session_id"] != "cs_v1" ||
		headFile["session_start"] != "2025-11-24T09:00:00Z" {
		t.Errorf("the head after the move: %v", headFile)
	}
	sess, _ = st.Load(id)
	want[0] = "network_configuration_1764000003_000003@esx01.example.com/completed"
	if diff := cmp.Diff(want, opIDs(sess.Operations)); diff != "" {
		t.Errorf("operations after the move (-want +got):\n%s", diff)
	}
	fin, err := st.Finalize(id, StatusCompleted, nil)
	if err != nil || fin.FinalStatistics.TotalOperations != 3 || fin.FinalStatistics.FailedOperations != 1 || fin.SessionStatus != StatusCompleted {
		t.Fatalf("finalize: %+v, %v", fin, err)
	}
	var log ErrorLog
	if err := json.Unmarshal(mustRead(t, st.Files().ErrorLog(id)), &log); err != nil {
		t.Fatal(err)
	}
	if len(log.Errors) != 1 || log.ErrorCount != 1 || log.Errors[0].OperationID != "vmware_login_1764000002_000002" ||
		log.Errors[0].ErrorMessage != "Authentication failed: invalid credentials" || log.Errors[0].Timestamp != "2025-11-24T09:00:03Z" {
		t.Errorf("the old error log's entry, once: %+v", log)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// treeOf lists every file under dir with its content and modification time.
func treeOf(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	_ = filepath.Walk(dir, func(path string, fi os.FileInfo, err error) error {
		if err == nil {
			b, _ := os.ReadFile(path)
			out[path] = fi.Mode().String() + " " + string(b) + fi.ModTime().String()
		}
		return nil
	})
	return out
}

// A migration killed after it wrote the parts but before the head: readers still use the old
// file, and the next write starts the migration over without counting an operation twice.
func TestInterruptedMigrationIsRedone(t *testing.T) {
	t.Parallel()
	dir, id := copyFormat1(t)
	st := &Store{Dir: dir}
	d, err := state.OpenDir(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	h, err := readHead(d, id)
	if err != nil {
		t.Fatal(err)
	}
	if err := migrate(d, id, h, SegmentSize); err != nil { // and no head written: killed here
		t.Fatal(err)
	}
	if sess, _ := st.Load(id); len(sess.Operations) != 3 {
		t.Errorf("%d operations while the head is the old file", len(sess.Operations))
	}
	if _, err := st.RecordOperation(id, op("late_1_000001", 1, true, 1)); err != nil {
		t.Fatal(err)
	}
	sess, _ := st.Load(id)
	if len(sess.Operations) != 4 {
		t.Errorf("%d operations after the migration was redone, want 4: %v", len(sess.Operations), opIDs(sess.Operations))
	}
}

// A record that a writer killed in the middle of its write left torn is never read: the version
// before it stays the current one, and the next record of the host starts on a line of its own.
func TestTornRecordIsNotRead(t *testing.T) {
	t.Parallel()
	st := &Store{Dir: t.TempDir()}
	const id = "retry_7_7"
	first := op("a_1_000001", 1, false, 1)
	first.Status, first.Host = record.Running, "web01"
	if _, err := st.RecordOperation(id, first); err != nil {
		t.Fatal(err)
	}
	seg := filepath.Join(st.Files().Parts(id), segmentName(HostKey("web01"), 0))
	done := first
	done.Status = record.Completed
	line, _ := json.Marshal(done)
	f, err := os.OpenFile(seg, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write(line[:len(line)/2]) // killed mid-write
	f.Close()
	sess, _ := st.Load(id)
	if len(sess.Operations) != 1 || sess.Operations[0].Status != record.Running {
		t.Fatalf("operations with a torn last record: %+v", sess.Operations)
	}
	// Cut right after a '}' of a nested value: still not a record.
	f, _ = os.OpenFile(seg, os.O_WRONLY|os.O_APPEND, 0)
	cut := bytes.Index(line, []byte(`"attempts"`))
	f.Write([]byte("\n" + string(line[:cut+bytes.IndexByte(line[cut:], '}')+1])))
	f.Close()
	if _, err := st.RecordOperation(id, op("b_1_000002", 1, true, 1)); err != nil {
		t.Fatal(err)
	}
	later := op("c_1_000003", 1, true, 1)
	later.Host = "web01"
	if _, err := st.RecordOperation(id, later); err != nil {
		t.Fatal(err)
	}
	sess, _ = st.Load(id)
	if diff := cmp.Diff([]string{"a_1_000001@web01/running", "b_1_000002@/completed", "c_1_000003@web01/completed"}, opIDs(sess.Operations)); diff != "" {
		t.Errorf("operations (-want +got):\n%s", diff)
	}
	fin, err := st.Finalize(id, StatusCompleted, nil)
	if err != nil || fin.FinalStatistics.TotalOperations != 2 || fin.FinalStatistics.RunningOperations != 1 {
		t.Errorf("finalize: %+v %v", fin.FinalStatistics, err)
	}
	var perf Performance
	_ = json.Unmarshal(mustRead(t, st.Files().Performance(id)), &perf)
	if perf.SkippedRecords != 2 {
		t.Errorf("skipped_records = %d, want the 2 torn lines", perf.SkippedRecords)
	}
}

// A host's records roll over to a new segment at the segment size; an operation is found in an
// earlier segment, a compressed segment is closed and still read, and nothing is counted twice.
func TestSegmentsRollOverAndCompress(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	st := &Store{Dir: t.TempDir(), Clock: clock.Func(func() time.Time { return now }), segmentSize: 2048}
	const id = "retry_8_8"
	for i := 0; i < 20; i++ {
		o := op(fmt.Sprintf("op%02d_1_000001", i), 1, true, 1)
		o.Host = "web01"
		if i == 0 {
			o.Status = record.Running
		}
		if _, err := st.RecordOperation(id, o); err != nil {
			t.Fatal(err)
		}
	}
	segs, _ := filepath.Glob(filepath.Join(st.Files().Parts(id), "h-web01.*.jsonl"))
	if len(segs) < 5 {
		t.Fatalf("%d segments of 2 KiB for 20 records", len(segs))
	}
	for _, p := range segs {
		if fi, _ := os.Stat(p); fi.Size() > 2048+1024 {
			t.Errorf("%s: %d bytes", p, fi.Size())
		}
	}
	// The running operation is in segment 0: found there, its new version goes to the last one.
	if _, err := st.UpdateOperation(id, "web01", nil, func(lookup Lookup) (record.Operation, []ErrorEntry, error) {
		o, err := lookup("op00_1_000001")
		if err != nil || o == nil || o.Status != record.Running {
			return record.Operation{}, nil, fmt.Errorf("op00 in the first segment: %+v %v", o, err)
		}
		o.Status = record.Completed
		return *o, nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Finalize(id, StatusCompleted, nil); err != nil {
		t.Fatal(err)
	}
	segs, _ = filepath.Glob(filepath.Join(st.Files().Parts(id), "h-web01.*.jsonl"))
	for _, p := range []string{st.Files().Session(id), st.Files().Performance(id)} {
		setAge(t, p, now, 2*Day)
	}
	got, err := st.Compress(Retention{CompressAfter: Day}, "")
	if err != nil || len(got) != 4 {
		t.Fatalf("compress: %+v, %v", got, err)
	}
	if plain, _ := filepath.Glob(filepath.Join(st.Files().Parts(id), "*.jsonl")); len(plain) != 0 {
		t.Errorf("plain segments left: %v", plain)
	}
	late := op("late_1_000001", 1, true, 1)
	late.Host = "web01"
	if _, err := st.RecordOperation(id, late); err != nil {
		t.Fatal(err)
	}
	if plain, _ := filepath.Glob(filepath.Join(st.Files().Parts(id), "*.jsonl")); len(plain) != 1 || !strings.HasSuffix(plain[0], fmt.Sprintf(".%d.jsonl", len(segs))) {
		t.Errorf("the record after compression went to %v, want a new segment %d", plain, len(segs))
	}
	sess, err := st.Load(id)
	if err != nil || len(sess.Operations) != 21 || sess.SessionStatus != StatusActive {
		t.Fatalf("after compression: %d operations, %v", len(sess.Operations), err)
	}
	for i, o := range sess.Operations[:20] { // op00 where its last version is
		if want := fmt.Sprintf("op%02d_1_000001", (i+1)%20); o.OperationID != want {
			t.Errorf("operation %d: %s, want %s", i, o.OperationID, want)
		}
		if o.Status != record.Completed {
			t.Errorf("%s: %s", o.OperationID, o.Status)
		}
	}
}

// A finalize that operations are recorded during leaves the session active: the statistics are
// those it read, and the next finalize counts the late operation and completes the session.
func TestFinalizeWhileRecording(t *testing.T) {
	t.Parallel()
	st := &Store{Dir: t.TempDir()}
	const id = "retry_9_9"
	if _, err := st.RecordOperation(id, op("a_1_000001", 1, true, 1)); err != nil {
		t.Fatal(err)
	}
	st.afterRead = func() {
		if _, err := (&Store{Dir: st.Dir}).RecordOperation(id, op("late_1_000002", 1, true, 1)); err != nil {
			t.Error(err)
		}
	}
	fin, err := st.Finalize(id, StatusCompleted, nil)
	if err != nil || fin.SessionStatus != StatusActive || fin.FinalStatistics.TotalOperations != 1 {
		t.Errorf("finalize during a record: %s %+v %v", fin.SessionStatus, fin.FinalStatistics, err)
	}
	if h, _ := st.Head(id); h.SessionStatus != StatusActive || h.Finalizing != "" {
		t.Errorf("head: %s %q", h.SessionStatus, h.Finalizing)
	}
	st.afterRead = nil
	fin, err = st.Finalize(id, StatusCompleted, nil)
	if err != nil || fin.SessionStatus != StatusCompleted || fin.FinalStatistics.TotalOperations != 2 {
		t.Errorf("finalize after: %s %+v %v", fin.SessionStatus, fin.FinalStatistics, err)
	}
}

// A record reads and locks only its host's part: another host's part that any read would refuse
// (a symbolic link) does not stop it, and nothing of it is touched.
func TestRecordTouchesOnlyItsHost(t *testing.T) {
	t.Parallel()
	st := &Store{Dir: t.TempDir()}
	const id = "retry_10_10"
	a := op("a_1_000001", 1, true, 1)
	a.Host = "web01"
	if _, err := st.RecordOperation(id, a); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(st.Files().Parts(id), segmentName(HostKey("web02"), 0))
	if err := os.Symlink("/etc/passwd", other); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		b := op(fmt.Sprintf("b%d_1_000001", i), 1, true, 1)
		b.Host = "web01"
		if _, err := st.RecordOperation(id, b); err != nil {
			t.Fatalf("a record of web01 beside a refused part of web02: %v", err)
		}
	}
	if _, err := st.Load(id); !errors.Is(err, state.ErrSymlink) {
		t.Errorf("reading the whole session refuses the link: %v", err)
	}
	if target, _ := os.Readlink(other); target != "/etc/passwd" {
		t.Errorf("the link was changed: %q", target)
	}
}

func TestHostKey(t *testing.T) {
	t.Parallel()
	for host, want := range map[string]string{
		"":                  "no-host",
		"web01":             "h-web01",
		"esx01.example.com": "h-esx01.example.com",
		"10.0.0.1":          "h-10.0.0.1",
	} {
		if got := HostKey(host); got != want {
			t.Errorf("HostKey(%q) = %q, want %q", host, got, want)
		}
	}
	seen := map[string]string{}
	for _, host := range []string{"../etc", "web 01", "::1", ".hidden", "h-x", strings.Repeat("a", 101), "ünïcode", "x-y"} {
		k := HostKey(host)
		if !state.SafeName(k+".0.jsonl") || strings.Contains(k, "/") {
			t.Errorf("HostKey(%q) = %q is not a safe file name", host, k)
		}
		if prev, ok := seen[k]; ok {
			t.Errorf("%q and %q share %q", prev, host, k)
		}
		seen[k] = host
		if name := segmentName(k, 12); func() bool { kk, n, gz, ok := parseSegmentName(name); return !ok || kk != k || n != 12 || gz }() {
			t.Errorf("segment name %q does not parse back", name)
		}
	}
	for _, bad := range []string{"x.jsonl", "x.01.jsonl", "x..jsonl", ".1.jsonl", "x.1.json", "x.-1.jsonl", "x.1.jsonl.gz.tmp"} {
		if _, _, _, ok := parseSegmentName(bad); ok {
			t.Errorf("%q parsed as a segment", bad)
		}
	}
}

// The composed error log keeps the oldest MaxErrorLogEntries entries and counts them all; the
// performance metrics keep MaxOperationNames names apart and sum the rest.
func TestComposedFilesAreBounded(t *testing.T) {
	t.Parallel()
	c := newErrorCollector(MaxErrorLogEntries)
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 1500; i > 0; i-- { // newest first
		c.add(ErrorEntry{Timestamp: record.Timestamp(base.Add(time.Duration(i) * time.Second)), OperationID: fmt.Sprintf("op%d", i),
			ErrorMessage: strings.Repeat("m", 5000)})
	}
	log := c.log("retry_1_1")
	if len(log.Errors) != MaxErrorLogEntries || log.ErrorCount != 1500 || log.Omitted != 500 ||
		log.Errors[0].OperationID != "op1" || log.Errors[MaxErrorLogEntries-1].OperationID != "op1000" {
		t.Errorf("error log: %d entries, count %d, omitted %d, first %s", len(log.Errors), log.ErrorCount, log.Omitted, log.Errors[0].OperationID)
	}
	if n := len(log.Errors[0].ErrorMessage); n > maxErrorText {
		t.Errorf("an error_message of %d bytes", n)
	}
	if b, _ := json.Marshal(log); len(b) > state.MaxFileSize/2 {
		t.Errorf("error log of %d bytes", len(b))
	}

	var ops []record.Operation
	for i := 0; i < MaxOperationNames+200; i++ {
		o := op(fmt.Sprintf("n%d_1_1", i), 1, true, 1)
		o.OperationName, o.Host = fmt.Sprintf("name_%d", i), fmt.Sprintf("host%d", i%7)
		ops = append(ops, o)
	}
	perf := ComputePerformance(&Session{Operations: ops}, Compute(ops, time.Minute), base)
	if len(perf.Operations) != MaxOperationNames+1 || perf.Operations[OtherOperations].Count != 200 || perf.Hosts != 7 {
		t.Errorf("performance: %d names, other %+v, hosts %d", len(perf.Operations), perf.Operations[OtherOperations], perf.Hosts)
	}
}
