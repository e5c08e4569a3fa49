package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// cliVariant is one command-line retrier under test, with what its runs measured.
type cliVariant struct {
	name, shown string
	argv        []string
	walls       []time.Duration
	attempts    []int
	peak        int64
	failures    int
	noWait      []string // the same with waits of 0 s, for the memory
}

// cmdCLIRetry runs the flaky command (fails twice, then succeeds) under each command-line
// retrier with the same schedule: 3 attempts, waits of base and 2*base seconds. The variants
// run alternately, so they see the same machine at the same time.
func cmdCLIRetry(args []string, stdout, stderr io.Writer) error {
	fs, summary := newFlags("cliretry", stderr)
	rb := fs.String("retry-backoff", "build/bin/retry_backoff", "the retry_backoff binary")
	flaky := fs.String("flaky", "tests/bench/flaky.sh", "the flaky command")
	loop := fs.String("loop", "tests/bench/retry_loop.sh", "the shell retry loop")
	runs := fs.Int("runs", 3, "runs of each")
	base := fs.Int("base", 1, "base delay in seconds")
	if err := fs.Parse(args); err != nil {
		return err
	}
	const attempts = 3
	var planned time.Duration // base * (2^0 + 2^1): the waits after attempts 1 and 2
	for i := range attempts - 1 {
		planned += time.Duration(*base<<i) * time.Second
	}
	b := strconv.Itoa(*base)
	waits := []string{}
	for i := range attempts - 1 {
		waits = append(waits, strconv.Itoa(*base<<i))
	}
	dir, err := os.MkdirTemp("", "benchtool-cliretry-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	counter := filepath.Join(dir, "count")
	cmd := []string{"/bin/sh", *flaky, counter}
	vs := []*cliVariant{
		{name: "`retry_backoff` (this collection, Go)", shown: fmt.Sprintf("retry_backoff %d %s -- cmd", attempts, b),
			argv:   append([]string{*rb, strconv.Itoa(attempts), b, "--"}, cmd...),
			noWait: append([]string{*rb, strconv.Itoa(attempts), "0", "--"}, cmd...)},
		{name: "shell loop (the reference script's pattern)", shown: fmt.Sprintf("retry_loop.sh %d %s -- cmd", attempts, b),
			argv:   append([]string{"/bin/bash", *loop, strconv.Itoa(attempts), b, "--"}, cmd...),
			noWait: append([]string{"/bin/bash", *loop, strconv.Itoa(attempts), "0", "--"}, cmd...)},
	}
	if p, err := exec.LookPath("retry"); err == nil {
		vs = append(vs, &cliVariant{name: "Debian `retry` " + debianVersion("retry"), shown: fmt.Sprintf("retry --times=%d --delay=%s -- cmd", attempts, strings.Join(waits, ",")),
			argv:   append([]string{p, "--times=" + strconv.Itoa(attempts), "--delay=" + strings.Join(waits, ","), "--"}, cmd...),
			noWait: append([]string{p, "--times=" + strconv.Itoa(attempts), "--delay=0", "--"}, cmd...)})
	}
	if err := measureCLIRetriers(vs, counter, *runs); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "The same flaky command (`tests/bench/flaky.sh`: fails twice with \"Connection refused\", then succeeds) under each "+
		"command-line retrier with the same schedule: %d attempts, waits of %s s (%s planned in all). %d runs each, alternating. "+
		"Overhead is the wall time minus the planned waits. Peak RSS: one more run under GNU time with waits of 0 s, the larger of the retrier and the command it ran.\n\n",
		attempts, strings.Join(waits, " and "), planned, *runs)
	return writeCLIRetryTable(stdout, vs, planned, *summary)
}

// measureCLIRetriers runs each variant runs times, alternating, then once more each under GNU
// time without the waits, for the memory.
func measureCLIRetriers(vs []*cliVariant, counter string, runs int) error {
	env := os.Environ()
	for range runs {
		for _, v := range vs {
			if err := os.Remove(counter); err != nil && !os.IsNotExist(err) {
				return err
			}
			m := runMeasured(v.argv, env)
			n, _ := readCount(counter)
			if m.err != nil {
				v.failures++
			}
			v.walls = append(v.walls, m.wall)
			v.attempts = append(v.attempts, n)
		}
	}
	for _, v := range vs {
		if err := os.Remove(counter); err != nil && !os.IsNotExist(err) {
			return err
		}
		var err error
		if v.peak, err = peakRSS(v.noWait, env, 1); err != nil {
			return err
		}
	}
	return nil
}

// writeCLIRetryTable writes the table of the variants and adds the summary line.
func writeCLIRetryTable(stdout io.Writer, vs []*cliVariant, planned time.Duration, summary string) error {
	fmt.Fprintln(stdout, "| retrier | command | attempts | failed runs | median wall s | median overhead ms | per-run wall s | peak RSS MiB |")
	fmt.Fprintln(stdout, "|---|---|---:|---:|---:|---:|---|---:|")
	for _, v := range vs {
		w := medianDur(v.walls)
		fmt.Fprintf(stdout, "| %s | `%s` | %s | %d | %.3f | %s | %s | %s |\n", v.name, v.shown, list(v.attempts, strconv.Itoa), v.failures,
			w.Seconds(), ms(w-planned), list(v.walls, func(d time.Duration) string { return fmt.Sprintf("%.3f", d.Seconds()) }), mib(v.peak))
	}
	if len(vs) < 3 {
		fmt.Fprintln(stdout, "\nDebian's `retry` is not installed (`apt-get install retry`), so it was not measured.")
	}
	fmt.Fprintln(stdout)
	var parts []string
	for _, v := range vs {
		parts = append(parts, fmt.Sprintf("%s %s ms", strings.SplitN(v.name, " (", 2)[0], ms(medianDur(v.walls)-planned)))
	}
	return addSummary(summary, fmt.Sprintf("Command-line retry of the flaky command, overhead above the %s of planned waits: %s.", planned, strings.Join(parts, ", ")))
}

// readCount reads the flaky command's attempt counter.
func readCount(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}

// debianVersion returns "(<version>)" of an installed Debian package, or "".
func debianVersion(pkg string) string {
	out, err := exec.Command("dpkg-query", "-W", "-f=${Version}", pkg).Output()
	if err != nil || len(out) == 0 {
		return ""
	}
	return "(" + string(out) + ")"
}
