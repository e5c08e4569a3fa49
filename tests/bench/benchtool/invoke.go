package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// cmdInvoke times single module runs exactly as ansible-core runs them on the target: the files
// that a playbook run with ANSIBLE_KEEP_REMOTE_FILES=1 left behind (the binary and its args
// file; the AnsiballZ wrapper of the Python module, its arguments inside), run alternately, so
// both see the same machine at the same time. It then gives each module binary's cost on an
// argument file: the time from the go test benchmarks, the peak memory measured here.
func cmdInvoke(args []string, stdout, stderr io.Writer) error {
	fs, summary := newFlags("invoke", stderr)
	keep := fs.String("keep", "", "remote_tmp of the playbook run that kept its module files")
	n := fs.Int("n", 30, "runs of each")
	python := fs.String("python", "/usr/bin/python3", "the Python interpreter ansible uses on the target")
	binDir := fs.String("bin-dir", "plugins/modules/__bin", "directory of the module builds")
	suffix := fs.String("platform", "linux_amd64", "the build of this host")
	gobench := fs.String("gobench", "", "go test -bench output with BenchmarkModuleInvocation of each module")
	if err := fs.Parse(args); err != nil {
		return err
	}
	goBin, err := findOne(*keep, "AnsiballZ_qos_guard_*")
	if err != nil {
		return err
	}
	pyMod, err := findOne(*keep, "AnsiballZ_stat.py")
	if err != nil {
		return err
	}
	cases := []struct {
		label, how string
		argv       []string
		walls      []time.Duration
		peak       int64
	}{
		{label: "resilience.ops.qos_guard (Go), state=status", how: "`AnsiballZ_" + filepath.Base(goBin)[len("AnsiballZ_"):] + " args`",
			argv: []string{goBin, filepath.Join(filepath.Dir(goBin), "args")}},
		{label: "ansible.builtin.stat (Python), same lock file", how: "`" + *python + " AnsiballZ_stat.py`",
			argv: []string{*python, pyMod}},
	}
	env := os.Environ()
	for i := -2; i < *n; i++ { // two warm-up rounds, not counted
		for c := range cases {
			m := runMeasured(cases[c].argv, env)
			if err := moduleOK(m); err != nil {
				return fmt.Errorf("%s: %w", cases[c].label, err)
			}
			if i >= 0 {
				cases[c].walls = append(cases[c].walls, m.wall)
			}
		}
	}
	for c := range cases {
		if cases[c].peak, err = peakRSS(cases[c].argv, env, 3); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "The files a playbook run left on the target (`ANSIBLE_KEEP_REMOTE_FILES=1`), run side by side, alternating: "+
		"%d runs each after 2 warm-up runs, time from start to exit; then the peak resident memory (largest of 3 runs under GNU time). "+
		"Ansible adds its own per-task work around this (templating, copying the files, `/bin/sh -c`), which the playbook numbers "+
		"above include.\n\n", *n)
	fmt.Fprintln(stdout, "| module run | command | median ms | min – max ms | peak RSS MiB |")
	fmt.Fprintln(stdout, "|---|---|---:|---:|---:|")
	for _, c := range cases {
		lo, hi := c.walls[0], c.walls[0]
		for _, w := range c.walls {
			lo, hi = min(lo, w), max(hi, w)
		}
		fmt.Fprintf(stdout, "| %s | %s | %s | %s – %s | %s |\n", c.label, c.how, ms(medianDur(c.walls)), ms(lo), ms(hi), mib(c.peak))
	}
	goT, pyT := float64(medianDur(cases[0].walls)), float64(medianDur(cases[1].walls))
	fmt.Fprintf(stdout, "\nstat / qos_guard: %s the time, %s the peak memory.\n\n", ratio(pyT, goT), ratio(float64(cases[1].peak), float64(cases[0].peak)))
	bullets := []string{fmt.Sprintf("One module run on its argument file: qos_guard %s ms and %s MiB peak RSS, Python's stat %s ms and %s MiB (%s the time, %s the memory).",
		ms(medianDur(cases[0].walls)), mib(cases[0].peak), ms(medianDur(cases[1].walls)), mib(cases[1].peak), ratio(pyT, goT),
		ratio(float64(cases[1].peak), float64(cases[0].peak)))}

	if *gobench != "" {
		if err := eachBinary(stdout, *gobench, *binDir, *suffix, env); err != nil {
			return err
		}
	}
	return addSummary(*summary, bullets...)
}

// eachBinary writes the cost of one run of each module binary on an argument file: the median
// time of its BenchmarkModuleInvocation, and its peak memory on the same kind of arguments.
func eachBinary(stdout io.Writer, gobench, binDir, suffix string, env []string) error {
	s, err := loadGobench(gobench)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "benchtool-invoke-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	srv := startSLOServers(0)
	defer srv.close()
	rows := []struct {
		pkg, module, what string
		args              map[string]any
	}{
		{"qosguard", "qos_guard", "status of a guard file", map[string]any{"path": filepath.Join(dir, "guard"), "state": "status"}},
		{"retrymod", "retry_manager", "one attempt of `true`", map[string]any{"operation": "noop", "argv": []string{"true"}}},
		{"release", "qos_guard_release", "three SLO checks, local servers without latency",
			map[string]any{"path": filepath.Join(dir, "guard"), "prom_url": srv.prom.URL, "loki_url": srv.loki.URL, "job": "threader"}},
	}
	fmt.Fprintln(stdout, "Each module binary on an argument file: time from `BenchmarkModuleInvocation` in each module's package (the "+
		"median of the `go test -count` runs), peak RSS of the build in `plugins/modules/__bin` on the same kind of arguments "+
		"(largest of 3 runs under GNU time).")
	fmt.Fprintln(stdout)
	fmt.Fprintln(stdout, "| module | invocation | go test runs | median ms | peak RSS MiB |")
	fmt.Fprintln(stdout, "|---|---|---:|---:|---:|")
	for _, r := range rows {
		key := r.pkg + ".BenchmarkModuleInvocation"
		timing := "not measured"
		ns, runs := s.median(key, "ns/op")
		if runs > 0 {
			timing = msf(ns / 1e6)
		}
		f := filepath.Join(dir, r.module+".args")
		if err := writeJSON(f, r.args); err != nil {
			return err
		}
		argv := []string{filepath.Join(binDir, r.module+"_"+suffix), f}
		if err := moduleOK(runMeasured(argv, env)); err != nil {
			return fmt.Errorf("%s: %w", r.module, err)
		}
		peak, err := peakRSS(argv, env, 3)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "| %s | %s | %d | %s | %s |\n", r.module, r.what, runs, timing, mib(peak))
	}
	fmt.Fprintln(stdout)
	fmt.Fprintln(stdout, "The `peak-MiB` metric of the `BenchmarkModuleInvocation` benchmarks (in the Go benchmark table) is not used: it "+
		"reads `ru_maxrss` from the test binary's own child, and Linux starts a child's `ru_maxrss` at the memory of the process that "+
		"forked it, so it reports at least the test binary's size.")
	fmt.Fprintln(stdout)
	return nil
}

// findOne returns the one file under dir whose name matches pattern.
func findOne(dir, pattern string) (string, error) {
	var found []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if ok, _ := filepath.Match(pattern, d.Name()); ok && !d.IsDir() {
			found = append(found, p)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	if len(found) != 1 {
		return "", fmt.Errorf("want one %s under %s, found %d", pattern, dir, len(found))
	}
	return found[0], nil
}

// moduleOK checks that a module run printed one JSON object that does not say failed.
func moduleOK(m measured) error {
	var out struct {
		Failed bool   `json:"failed"`
		Msg    string `json:"msg"`
	}
	if err := json.Unmarshal([]byte(strings.TrimSpace(string(m.stdout))), &out); err != nil {
		return fmt.Errorf("not one JSON object (%v, exit %v): %.300s", err, m.err, m.stdout)
	}
	if out.Failed {
		return fmt.Errorf("failed: %s", out.Msg)
	}
	return nil
}
