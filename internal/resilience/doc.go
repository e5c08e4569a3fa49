// Package resilience keeps the circuit breaker, bulkhead, retry budget and adaptive retry of the
// retry modules on disk, so that they hold across the short-lived processes Ansible starts (often
// 50 forks at once against one vCenter or API) and survive between runs.
//
// [Guardrails] is the entry point: built from [Settings] (every feature off unless enabled), it
// admits attempts ([Guardrails.Before]: breaker state, bulkhead slot), records their results
// ([Guardrails.AfterAttempt]), grants retries ([Guardrails.AllowRetry]: the retry budget) and
// adapts a retry.Policy to the recent success rate ([Guardrails.Adapt]). Every answer is a
// report that marshals to the JSON of a module's result.
//
// # Files
//
// Everything for one key (circuit_key, by default the operation name) lives in
// <state_dir>/circuit/ (state_dir defaults to /tmp/ansible_retry, the sessions' directory), named
// by [FileName], which keeps every key inside the directory:
//
//	<name>.json       the Document: breaker, budget and history; format_version 1
//	<name>.json.lock  the lock that serialises updates of the document (state.Lock)
//	.<name>.json.tmp  the next document while it is written (exists only during an update,
//	                  or after a writer was killed; the next update reuses it)
//	<name>.slot<i>    bulkhead slot i (0 <= i < max_concurrent), held by an flock
//	<name>.trial<i>   half-open trial slot i (0 <= i < half_open_max_calls), held by an flock
//
// The document is replaced atomically (write the temporary file, rename it over the document)
// under the exclusive lock, so concurrent processes never lose an update and a process killed
// mid-write leaves the old or the new document. It is not fsynced by default: the counters are
// advisory and a lost update after a host crash costs nothing (see WithStore). A slot is held by holding a non-blocking exclusive lock on its file (flock
// on Unix, LockFileEx on Windows); the kernel drops it when the process dies, so a killed
// process never leaks a slot and no lease or clean-up is needed. Slot files are never removed.
//
// # A fleet: etcd
//
// WithStore and WithSlots given an etcdstore.Store keep the same documents and slots in etcd v3,
// shared by every host: a document is updated with a compare-and-swap transaction on its
// mod_revision (retried on conflict, so a transition or a counted retry applies to the state it was
// decided on), and a slot is a key created only if absent, under a lease that its process keeps
// alive and that frees the slot when a killed holder stops renewing it (etcdstore.DefaultSlotTTL).
// An etcd that cannot be reached within its timeout is reported in the warnings (state store
// unavailable) and, as with an unreadable file, the call is let through.
//
// An example document:
//
//	{
//	  "format_version": 1,
//	  "key": "vcenter01.example.com",
//	  "updated_at": "2025-01-01T10:00:05Z",
//	  "circuit_breaker": {
//	    "state": "open", "generation": 1, "since": "2025-01-01T10:00:05Z",
//	    "open_until": "2025-01-01T10:00:35Z", "consecutive_failures": 0, "opens": 1,
//	    "transitions": [{"from": "closed", "to": "open", "at": "2025-01-01T10:00:05Z",
//	      "reason": "5 consecutive failures (failure_threshold 5), the last connection_error"}]
//	  },
//	  "retry_budget": [{"start": "2025-01-01T10:00:00Z", "calls": 7, "retries": 2}],
//	  "history": [{"start": "2025-01-01T10:00:00Z", "successes": 2, "failures": 5}]
//	}
//
// Sliding windows are kept as WindowBuckets buckets of window/10 ([Series]). A document that
// cannot be decoded (or belongs to another key or format version) is reported as a warning and
// replaced by a fresh closed state at the next update; one that cannot be read lets the call
// through with a warning. Nothing here ever fails an operation because of its own state.
package resilience
