package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// median returns the median of xs (the mean of the two middle values for an even count), or 0
// for none.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// medianDur is median for durations.
func medianDur(ds []time.Duration) time.Duration {
	xs := make([]float64, len(ds))
	for i, d := range ds {
		xs[i] = float64(d)
	}
	return time.Duration(median(xs))
}

// ms formats a duration in milliseconds with a precision that suits its size.
func ms(d time.Duration) string { return msf(float64(d) / float64(time.Millisecond)) }

// msf formats milliseconds.
func msf(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

// ratio formats a/b as "4.7×", or "n/a" when b is 0.
func ratio(a, b float64) string {
	if b == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.1f×", a/b)
}

// list formats values with f, separated by " / ", for the per-run columns.
func list[T any](xs []T, f func(T) string) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = f(x)
	}
	return strings.Join(parts, " / ")
}

// newFlags returns a flag set whose errors go to stderr, with the -summary flag every
// subcommand has.
func newFlags(name string, stderr io.Writer) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs, fs.String("summary", "", "append the at-a-glance bullets to this file")
}

// addSummary appends bullets (one a line, "- " added) to path; nothing when path is "".
func addSummary(path string, bullets ...string) error {
	if path == "" {
		return nil
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	for _, b := range bullets {
		fmt.Fprintf(f, "- %s\n", b)
	}
	return f.Close()
}

// measured is one run of a process: its wall time and what it wrote.
type measured struct {
	wall   time.Duration
	stdout []byte
	err    error
}

// runMeasured runs argv with its stdout captured (stderr discarded) and measures its wall time.
func runMeasured(argv []string, env []string) measured {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	var out strings.Builder
	cmd.Stdout = &out
	start := time.Now()
	err := cmd.Run()
	return measured{wall: time.Since(start), stdout: []byte(out.String()), err: err}
}

// gnuTime is GNU time, which measures the peak memory of a process it starts.
const gnuTime = "/usr/bin/time"

// peakRSS runs argv n times under GNU time and returns the largest peak resident set size in
// KiB (the larger of the process and the children it waited for), or -1 when GNU time is
// missing. Not measured from this program: Linux starts a child's ru_maxrss at the RSS of
// the process that forked it (Go forks with the parent's memory mapped), so a child of a Go
// program never reports less than its parent; GNU time is a small C program (about 1 MiB).
func peakRSS(argv []string, env []string, n int) (int64, error) {
	if _, err := os.Stat(gnuTime); err != nil {
		return -1, nil
	}
	f, err := os.CreateTemp("", "benchtool-rss-")
	if err != nil {
		return 0, err
	}
	f.Close()
	defer os.Remove(f.Name())
	var peak int64
	for range n {
		cmd := exec.Command(gnuTime, append([]string{"-f", "%M", "-o", f.Name(), "--"}, argv...)...)
		cmd.Env = env
		_ = cmd.Run() // the exit status is the command's; the measurement is in the file
		b, err := os.ReadFile(f.Name())
		if err != nil {
			return 0, err
		}
		lines := strings.Fields(string(b))
		if len(lines) == 0 {
			return 0, fmt.Errorf("GNU time wrote nothing for %v", argv)
		}
		kib, err := strconv.ParseInt(lines[len(lines)-1], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("GNU time wrote %q for %v", b, argv)
		}
		peak = max(peak, kib)
	}
	return peak, nil
}

// mib formats KiB as MiB ("n/a" for -1: not measured).
func mib(kib int64) string {
	if kib < 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.1f", float64(kib)/1024)
}

// moduleArgv writes args as a module's argument file the way ansible-core lays it out on the
// target (the binary as AnsiballZ_<name>, a file named args beside it, in dir, created), which
// the module requires to run as a module, and returns the command line.
func moduleArgv(dir, bin string, args map[string]any) ([]string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	name := strings.TrimSuffix(filepath.Base(bin), ".exe")
	for _, plat := range []string{"_linux_amd64", "_linux_arm64", "_windows_amd64"} {
		name = strings.TrimSuffix(name, plat)
	}
	prog := filepath.Join(dir, "AnsiballZ_"+name)
	if err := os.Link(bin, prog); err != nil {
		data, err := os.ReadFile(bin)
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(prog, data, 0o700); err != nil {
			return nil, err
		}
	}
	b, err := json.Marshal(args)
	if err != nil {
		return nil, err
	}
	f := filepath.Join(dir, "args")
	return []string{prog, f}, os.WriteFile(f, b, 0o600)
}

// nproc is the number of CPUs this process may use.
func nproc() int { return runtime.NumCPU() }
