// Command retry_backoff runs a command with retries and exponential backoff:
// retry_backoff <max_attempts> <base_seconds> -- <command...>
package main

import (
	"os"

	"resilience.ops/internal/retrybackoff"
)

func main() { os.Exit(retrybackoff.Main(os.Args, os.Stdout, os.Stderr, os.Getenv)) }
