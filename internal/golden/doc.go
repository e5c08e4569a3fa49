// Package golden proves that the modules and the command-line tools answer as they did: a corpus
// of calls (argument files that cover every action and parameter of retry_manager, qos_guard and
// qos_guard_release, and command lines of retry_backoff, qos_guard and qos_guard_release) runs
// against the binaries built from the tree, and each answer (the JSON result or the output and
// exit status, the syslog lines and the state files left behind) is compared byte for byte with
// the one recorded in testdata. Only what differs from run to run is normalised first: the case's
// directory, the test server's port, timestamps, generated ids and measured durations.
//
// The corpus was recorded with the binaries of the commit before the retry_manager core was
// split out (go test ./internal/golden -update, with GOLDEN_BIN_DIR naming a directory that holds
// that commit's binaries); a difference means that a change altered what users see. The package
// holds only tests.
package golden
