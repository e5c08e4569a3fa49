// Command benchtool measures what tests/bench/run.sh cannot measure from the shell, and turns
// raw measurements into the markdown sections of bench/out/report.md. Every subcommand writes
// markdown on stdout; with -summary it also appends "at a glance" bullets to that file. It
// reports numbers and never fails on one: it exits non-zero only when it could not measure.
//
//	benchtool sizes     -dir plugins/modules/__bin
//	benchtool gobench   go-bench.txt
//	benchtool invoke    -keep <ANSIBLE_REMOTE_TMP of a run with ANSIBLE_KEEP_REMOTE_FILES=1> -gobench go-bench.txt
//	benchtool pertask   run-1.json run-2.json ...
//	benchtool flaky     run-1.json run-2.json ...
//	benchtool cliretry  -retry-backoff build/bin/retry_backoff -flaky tests/bench/flaky.sh -loop tests/bench/retry_loop.sh
//	benchtool state     -bin-dir plugins/modules/__bin
//	benchtool sessions  -bin plugins/modules/__bin/retry_manager_linux_amd64
//	benchtool fleet     -hosts 50,500 -forks 50 -playbooks tests/bench/playbooks
//	benchtool gate      -bin plugins/modules/__bin/qos_guard_release_linux_amd64 -gobench go-bench.txt
package main

import (
	"fmt"
	"io"
	"os"
)

// commands are the subcommands, by name.
var commands = map[string]func(args []string, stdout, stderr io.Writer) error{
	"sizes":              cmdSizes,
	"gobench":            cmdGobench,
	"invoke":             cmdInvoke,
	"pertask":            cmdPertask,
	"flaky":              cmdFlaky,
	"cliretry":           cmdCLIRetry,
	"state":              cmdState,
	"sessions":           cmdSessions,
	"fleet":              cmdFleet,
	"gate":               cmdGate,
	"contention-summary": cmdContentionSummary,
}

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || commands[args[0]] == nil {
		fmt.Fprintln(stderr, "usage: benchtool sizes|gobench|invoke|pertask|flaky|cliretry|state|sessions|fleet|gate [flags]")
		return 2
	}
	if err := commands[args[0]](args[1:], stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "benchtool %s: %v\n", args[0], err)
		return 1
	}
	return 0
}
