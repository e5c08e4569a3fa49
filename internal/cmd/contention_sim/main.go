// Command contention_sim writes the jitter contention report (markdown and SVG) for make bench.
package main

import (
	"os"

	"resilience.ops/internal/contention"
)

func main() { os.Exit(contention.Main(os.Args[1:], os.Stdout, os.Stderr)) }
