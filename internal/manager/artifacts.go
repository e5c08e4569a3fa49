package manager

import (
	"time"
	"unicode/utf8"

	"resilience.ops/internal/record"
)

// The AAP artifacts of action run: the reference role's names for one operation. Each value is
// bounded: a few numbers and short strings, never the attempts or a command's output.
const (
	artCurrentOperation = "retry_current_operation"
	artOperationID      = "retry_operation_id"
	artOperationStatus  = "retry_operation_status"
	artAttemptCount     = "retry_attempt_count"
	artExecutionTime    = "retry_execution_time"
	artOperationSuccess = "retry_operation_success"
	artTimestamp        = "retry_timestamp"
	artSessionID        = "retry_session_id" // only when the run is part of a session
)

// ArtifactKeys are the artifacts action run can publish, in the order the docs list them.
var ArtifactKeys = []string{artCurrentOperation, artOperationID, artOperationStatus, artAttemptCount,
	artExecutionTime, artOperationSuccess, artTimestamp, artSessionID}

// MaxArtifactText bounds the strings among the artifacts (the operation name and the session id
// come from the task): longer ones are cut and end in "…".
const MaxArtifactText = 256

// operationArtifacts are the artifacts of one run of action run: published through ansible_stats
// (per_host false) so that AAP keeps them as job artifacts and passes them to the next workflow
// nodes. retry_session_id is set only when the run belongs to a session (track_session, or a
// session_id given by the task), since otherwise the id is a fresh one that nothing else knows.
// now is when the artifacts are published, as RFC 3339 UTC to the second (retry_timestamp).
func operationArtifacts(rec record.Operation, inSession bool, now time.Time) map[string]any {
	a := map[string]any{
		artCurrentOperation: clipText(rec.OperationName),
		artOperationID:      rec.OperationID,
		artOperationStatus:  rec.Status,
		artAttemptCount:     rec.AttemptCount,
		artExecutionTime:    rec.ExecutionTime,
		artOperationSuccess: rec.Status == record.Completed,
		artTimestamp:        now.UTC().Format("2006-01-02T15:04:05Z"),
	}
	if inSession {
		a[artSessionID] = clipText(rec.SessionID)
	}
	return a
}

// clipText cuts s to at most MaxArtifactText bytes on a rune boundary.
func clipText(s string) string {
	if len(s) <= MaxArtifactText {
		return s
	}
	const ellipsis = "…"
	cut := MaxArtifactText - len(ellipsis)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + ellipsis
}
