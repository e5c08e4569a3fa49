// Package export delivers a retry session's metrics and alerts to external systems: Prometheus
// remote write (1.0, and 2.0 for receivers that ask for it), the Pushgateway, node_exporter's
// textfile collector, Slack incoming webhooks, the Datadog series API and generic JSON webhooks.
//
// The pieces:
//
//   - [ParseSystems] turns the user's external_systems list into validated [System] values; every
//     problem is a *field.Error naming external_systems[i].field and, for choices, the allowed
//     values. A missing type is inferred from the name and URL ([InferType]).
//   - [Snapshot] is the input: the session's per-operation counts and final statistics and the
//     breached alert thresholds. The session package builds it; this package never reads session
//     files.
//   - [Deliver] sends one snapshot to every enabled system concurrently, each with its own
//     timeout and retries (on the retry engine of package retry), and returns one [Result] per
//     system. A failed delivery never fails the caller's operation: it becomes a warning
//     ([Warnings]) unless the system is required ([Err]). In check mode nothing is sent or
//     written and each result says what would be sent ([Preview]).
//
// Metric names and labels are listed in metrics.go. Session ids are never labels on remote
// write, Datadog or the textfile; only Pushgateway groups carry them (see GroupingSession).
//
// Secrets: auth_header and headers values, URL passwords, and the whole URL of Slack and webhook
// systems (their paths are credentials) never appear in results, errors, warnings or previews:
// messages are built from the system's name and host only, and every text that leaves the
// package passes a redactor that knows the system's secrets.
//
// Binary size: the encoders (remote write protobuf with protowire, the text exposition format,
// the Pushgateway URL) are written by hand instead of importing client_golang's push, registry
// and exp remote-write client, which bring the protobuf reflection runtime (about +2.6 MiB per
// binary, paid on every task). Tests check the output with the official parsers and real servers.
package export
