// Package retry is the pure retry engine behind the collection's retry
// modules: policies and backoff delays with jitter, error classification,
// Retry-After handling, per-operation settings, the attempt loop and the
// attempt and operation records that users' reports consume.
//
// The package does no I/O of its own. Time (the clock and the sleeper) and
// randomness are injected, so callers and tests control them exactly.
//
// The pieces compose bottom-up:
//
//   - [Policy] holds the settings (with the Ansible parameter names in its
//     field docs and in [Policy.Validate] messages); [Resolve] layers the
//     defaults, the global settings and the per-operation [Overrides].
//   - [Policy.Delay] is the single delay formula: the engine, [Policy.Schedule]
//     (check mode) and simulations all call it.
//   - [Classifier] turns a [Failure] into an [ErrorType] with [Evidence];
//     [Policy.ShouldRetry] decides whether that type is retried.
//   - [Engine.Do] runs the attempts and returns an [Outcome] that says why
//     it stopped ([StopReason]) and records every [Attempt].
//   - Package record turns an Outcome into the operation record of the
//     users' reports and the session files.
package retry
