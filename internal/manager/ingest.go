package manager

import (
	"bytes"
	"encoding/json"
	"fmt"

	"resilience.ops/internal/record"
	"resilience.ops/internal/session"
	"resilience.ops/internal/state"
)

// IngestRequest is action record with a finished run of action run (its registered result,
// already decoded into Operation): the run is recorded in session SessionID as it is.
type IngestRequest struct {
	Common
	SessionID string
	Name      string // the operation's name when the result has none
	Operation record.Operation
}

// completed fills what a registered result leaves out from the request: its host, context and
// name, and the session.
func (c Common) completed(op record.Operation, id, name string) record.Operation {
	if op.Host == "" {
		op.Host = c.Host
	}
	if op.Context == nil {
		op.Context = c.Context
	}
	if op.OperationName == "" {
		op.OperationName = name
	}
	op.SessionID = id
	return op
}

// Ingest records a finished run of action run in the session, with its error log entry when it
// failed.
func Ingest(req IngestRequest, env Env) (Reply, error) {
	env = env.withDefaults()
	id := req.SessionID
	op := req.completed(req.Operation, id, req.Name)
	st := newStore(req.Common, env)
	if _, err := st.RecordOperation(id, op, errorEntries(&op, env.Clock.Now())...); err != nil {
		return Reply{}, err
	}
	if err := logAttempts(st, req.Common, id, &op); err != nil {
		return Reply{}, err
	}
	// The type of the failure that ended the run: a guardrail's refusal (circuit_open, ...) when
	// one stopped it, else the last attempt's.
	ret := RecordResult{Operation: op, SessionFile: st.Files().Session(id), PolicySources: []string{}, ErrorType: op.LastErrorType()}
	msg := fmt.Sprintf("recorded %s (%s after %d attempts) in retry session %s", op.OperationID, op.Status, op.AttemptCount, id)
	return Reply{Changed: true, Msg: checkMsg(req.CheckMode, msg), Data: ret}, nil
}

// MaxNotRecorded bounds the entries that IngestAll lists as not recorded.
const MaxNotRecorded = 10

// NotRecorded is an entry of a batch of runs that was not recorded, by its index, and why.
type NotRecorded struct {
	Index  int    `json:"index"`
	Reason string `json:"reason"`
}

// IngestAllRequest is action record with the finished runs of several hosts (operation_results,
// decoded): Operations are recorded, each under its own host; Rejected are the entries that the
// adapter found are not finished runs (a check-mode plan, a skipped task), in order.
type IngestAllRequest struct {
	Common
	SessionID  string
	Name       string // the operations' name when a result has none
	Operations []record.Operation
	Rejected   []NotRecorded
}

// IngestAllResult is the result of action record with operation_results: counts, and the first
// MaxNotRecorded entries not recorded, bounded whatever the fleet.
type IngestAllResult struct {
	SessionID        string        `json:"session_id"`
	SessionFile      string        `json:"session_file"`
	Recorded         int           `json:"recorded"`
	Unchanged        int           `json:"unchanged"`
	NotRecorded      []NotRecorded `json:"not_recorded"`
	NotRecordedCount int           `json:"not_recorded_count"`
}

// IngestAll records the finished runs of several hosts, each under its own host, with their error
// log entries; a run already recorded as it is is left as it is, so that recording a batch again
// (the role records each play batch's runs, and a later batch finds the earlier runs among the
// hosts' results) writes nothing twice.
func IngestAll(req IngestAllRequest, env Env) (Reply, error) {
	env = env.withDefaults()
	id := req.SessionID
	st := newStore(req.Common, env)
	ret := IngestAllResult{SessionID: id, SessionFile: st.Files().Session(id), NotRecorded: req.Rejected[:min(len(req.Rejected), MaxNotRecorded)],
		NotRecordedCount: len(req.Rejected)}
	if ret.NotRecorded == nil {
		ret.NotRecorded = []NotRecorded{}
	}
	for _, raw := range req.Operations {
		op := req.completed(raw, id, req.Name)
		recorded, err := ingestOnce(st, id, op, env)
		if err != nil {
			return Reply{}, fmt.Errorf("record %s of host %q: %w", op.OperationID, op.Host, err)
		}
		if !recorded {
			ret.Unchanged++
			continue
		}
		if err := logAttempts(st, req.Common, id, &op); err != nil {
			return Reply{}, err
		}
		ret.Recorded++
	}
	msg := fmt.Sprintf("recorded %d operations in retry session %s (%d already recorded, %d entries not finished runs)",
		ret.Recorded, id, ret.Unchanged, ret.NotRecordedCount)
	return Reply{Changed: ret.Recorded > 0, Msg: checkMsg(req.CheckMode, msg), Data: ret}, nil
}

// ingestOnce records op under its host unless the host's records hold it as it is already; it
// reports whether it recorded it.
func ingestOnce(st *session.Store, id string, op record.Operation, env Env) (bool, error) {
	want, err := json.Marshal(op)
	if err != nil {
		return false, err
	}
	same := false
	_, err = st.UpdateOperation(id, op.Host, op.Context, func(lookup session.Lookup) (record.Operation, []session.ErrorEntry, error) {
		if cur, err := lookup(op.OperationID); err == nil && cur != nil {
			if got, err := json.Marshal(cur); err == nil && bytes.Equal(got, want) {
				same = true
				return record.Operation{}, nil, state.ErrUnchanged
			}
		}
		return op, errorEntries(&op, env.Clock.Now()), nil
	})
	return !same, err
}
