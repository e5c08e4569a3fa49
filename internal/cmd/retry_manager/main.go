// Command retry_manager is the resilience.ops.retry_manager Ansible module; without an argument
// file it behaves as retry_backoff.
package main

import (
	"os"

	"resilience.ops/internal/retrymod"
)

func main() { os.Exit(retrymod.Main(os.Args, os.Stdout, os.Stderr, os.Getenv)) }
