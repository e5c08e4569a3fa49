// Command qos_guard_release is the resilience.ops.qos_guard_release Ansible module and a
// command-line tool.
package main

import (
	"os"

	"resilience.ops/internal/release"
)

func main() { os.Exit(release.Main(os.Args, os.Stdout, os.Stderr, os.Getenv)) }
