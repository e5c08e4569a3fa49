package contention

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"resilience.ops/internal/retry"
)

// Clients are the client counts of the report.
var Clients = []int{10, 25, 50, 100, 200}

// Main writes <dir>/contention.md and <dir>/contention.svg.
func Main(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("contention_sim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("out", "bench/out", "output directory")
	runs := fs.Int("runs", 5, "seeds per point; the report gives medians")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	base := retry.DefaultPolicy()
	base.BaseDelay, base.MaxDelay = 10*time.Millisecond, 10*time.Second
	work := time.Millisecond
	pts := Sweep(base, work, Clients, *runs)
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	md, err := os.Create(filepath.Join(*dir, "contention.md"))
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	defer md.Close()
	fmt.Fprintf(md, "Each of N clients makes one write that holds the resource for %s; a call that arrives while it is held conflicts and is retried with exponential backoff (base %s, multiplier %.0f, cap %s) through the engine's own delay code. Medians of %d seeds.\n\n",
		work, base.BaseDelay, base.BackoffMultiplier, base.MaxDelay, *runs)
	Markdown(md, pts, Clients)
	fmt.Fprintln(md, "![total calls by jitter mode](contention.svg)")
	svg, err := os.Create(filepath.Join(*dir, "contention.svg"))
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	defer svg.Close()
	SVG(svg, pts, Clients)
	fmt.Fprintf(stdout, "contention_sim: wrote %s and %s\n", md.Name(), svg.Name())
	return 0
}
