package session

import (
	"os"
	"testing"

	"resilience.ops/internal/record"
)

// FuzzSessionFile feeds arbitrary bytes to the session file reader and to a record. Neither may
// panic, and a file that does not parse is never overwritten.
func FuzzSessionFile(f *testing.F) {
	for _, seed := range []string{
		`{"format_version":1,"session_id":"retry_1_1","session_start":"2023-12-01T10:00:00Z","session_status":"active","operations":[],"alerts":[]}`,
		`{"session_id":"retry_1_1","operations":[{"operation_id":"a_1_1","status":"completed","attempt_count":2,"attempts":[{"attempt_number":1}]}]}`,
		`{"session_id":"retry_2_2","operations":[]}`,
		`{"format_version":99}`,
		`{"session_start":"not a time","operations":null}`,
		`[]`, `null`, ``, `{`, "\x1f\x8b",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		st := &Store{Dir: dir}
		path := st.Files().Session("retry_1_1")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		sess, loadErr := st.Load("retry_1_1")
		_, updErr := st.RecordOperation("retry_1_1", record.Operation{OperationID: "x_1_1", Status: record.Completed, AttemptCount: 1})
		if _, err := st.Finalize("retry_1_1", StatusCompleted, nil); err == nil && loadErr != nil {
			t.Errorf("finalized a session that does not load: %v", loadErr)
		}
		after, _ := os.ReadFile(path)
		if loadErr != nil && string(after) != string(data) {
			t.Errorf("an unreadable session file was overwritten (load: %v, update: %v)", loadErr, updErr)
		}
		if loadErr == nil && sess != nil && updErr != nil {
			t.Errorf("a readable session could not be updated: %v", updErr)
		}
	})
}
