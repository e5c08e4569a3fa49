// Command qos_guard is the resilience.ops.qos_guard Ansible module and a command-line tool.
package main

import (
	"os"

	"resilience.ops/internal/qosguard"
)

func main() { os.Exit(qosguard.Main(os.Args, os.Stdout, os.Stderr, os.Getenv)) }
