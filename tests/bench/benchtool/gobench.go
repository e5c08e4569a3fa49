package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
)

// benchSet holds the output of `go test -bench -count N`: every value of every metric of every
// benchmark, keyed by "<package>.<Benchmark/sub>" with the package's last path element.
type benchSet struct {
	order   []string
	values  map[string]map[string][]float64
	units   map[string][]string // metric units in the order go test prints them
	failed  []string            // FAIL lines: packages or benchmarks that did not run
	skipped []string
}

var procSuffix = regexp.MustCompile(`-\d+$`)

// parseGobench reads go test -bench output.
func parseGobench(r io.Reader) (*benchSet, error) {
	s := &benchSet{values: map[string]map[string][]float64{}, units: map[string][]string{}}
	pkg := ""
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		f := strings.Fields(line)
		switch {
		case strings.HasPrefix(line, "pkg: "):
			pkg = strings.TrimPrefix(line, "pkg: ")
			pkg = pkg[strings.LastIndex(pkg, "/")+1:]
		case strings.HasPrefix(line, "FAIL") || strings.HasPrefix(line, "--- FAIL"):
			s.failed = append(s.failed, strings.TrimSpace(line))
		case strings.HasPrefix(line, "--- SKIP"):
			s.skipped = append(s.skipped, strings.TrimSpace(line))
		case strings.HasPrefix(line, "Benchmark") && len(f) >= 4 && len(f)%2 == 0:
			if _, err := strconv.Atoi(f[1]); err != nil {
				continue
			}
			key := pkg + "." + procSuffix.ReplaceAllString(f[0], "")
			if s.values[key] == nil {
				s.values[key] = map[string][]float64{}
				s.order = append(s.order, key)
			}
			for i := 2; i+1 < len(f); i += 2 {
				v, err := strconv.ParseFloat(f[i], 64)
				if err != nil {
					continue
				}
				unit := f[i+1]
				if s.values[key][unit] == nil {
					s.units[key] = append(s.units[key], unit)
				}
				s.values[key][unit] = append(s.values[key][unit], v)
			}
		}
	}
	return s, sc.Err()
}

func loadGobench(path string) (*benchSet, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseGobench(f)
}

// median returns the median of a benchmark's metric and how many runs it had.
func (s *benchSet) median(key, unit string) (float64, int) {
	vs := s.values[key][unit]
	return median(vs), len(vs)
}

// cmdGobench writes every benchmark's medians.
func cmdGobench(args []string, stdout, stderr io.Writer) error {
	fs, _ := newFlags("gobench", stderr)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("usage: gobench <go test -bench output>")
	}
	s, err := loadGobench(fs.Arg(0))
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, "| benchmark | runs | median ns/op | other metrics (medians) |")
	fmt.Fprintln(stdout, "|---|---:|---:|---|")
	for _, k := range s.order {
		ns, n := s.median(k, "ns/op")
		var extra []string
		for _, u := range s.units[k] {
			if u == "ns/op" {
				continue
			}
			v, _ := s.median(k, u)
			extra = append(extra, strconv.FormatFloat(v, 'g', 4, 64)+" "+u)
		}
		fmt.Fprintf(stdout, "| %s | %d | %.0f | %s |\n", k, n, ns, strings.Join(extra, "; "))
	}
	fmt.Fprintln(stdout)
	for _, l := range s.failed {
		fmt.Fprintf(stdout, "- not measured: `%s`\n", l)
	}
	for _, l := range s.skipped {
		fmt.Fprintf(stdout, "- skipped: `%s`\n", l)
	}
	if len(s.failed)+len(s.skipped) > 0 {
		fmt.Fprintln(stdout)
	}
	return nil
}
