package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"resilience.ops/internal/record"
	"resilience.ops/internal/session"
)

// fleetPlay is one of the plays that cmdFleet times.
type fleetPlay struct {
	key, label, playbook string
	vars                 map[string]string
	session              bool // it records into a retry session, whose operations are counted
}

var fleetPlays = []fleetPlay{
	{key: "until", label: "`ansible.builtin.command` with `until`/`retries: 2`/`delay: 1`", playbook: "fleet_until.yml"},
	{key: "role_command", label: "the `retry_manager` role, `retry_argv: [/bin/true]` (the module runs it)", playbook: "fleet_role.yml",
		vars: map[string]string{"bench_kind": "command"}, session: true},
	{key: "role_tasks", label: "the `retry_manager` role, `retry_tasks_file` with that command task", playbook: "fleet_role.yml",
		vars: map[string]string{"bench_kind": "tasks"}, session: true},
}

// cmdFleet times the retry_manager role on every host of generated inventories of local hosts
// against the same play with until/retries (an operation that succeeds at once), each play
// timed from the outside (ansible-playbook from start to end), the order rotating between runs,
// and checks that the role's session holds one operation per host.
func cmdFleet(args []string, stdout, stderr io.Writer) error {
	fs, summary := newFlags("fleet", stderr)
	sizes := fs.String("hosts", "50,500", "inventory sizes, comma-separated")
	f := &fleetBench{stderr: stderr}
	fs.IntVar(&f.forks, "forks", 50, "ansible forks")
	fs.IntVar(&f.runs, "runs", 2, "runs of each play at each size below 200 hosts")
	fs.IntVar(&f.largeRuns, "large-runs", 1, "runs of each play at 200 hosts or more (minutes each)")
	dir := fs.String("playbooks", "tests/bench/playbooks", "directory of fleet_role.yml and fleet_until.yml")
	fs.StringVar(&f.raw, "raw", "", "directory for the playbook logs (default: a temporary one)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var err error
	if f.work, err = os.MkdirTemp("", "benchtool-fleet-"); err != nil {
		return err
	}
	defer os.RemoveAll(f.work)
	if f.raw == "" {
		f.raw = f.work
	}
	if f.playbooks, err = filepath.Abs(*dir); err != nil {
		return err
	}
	var ns []int
	for _, s := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n <= 0 {
			return fmt.Errorf("-hosts: %q is not a number of hosts", s)
		}
		ns = append(ns, n)
	}
	results := map[int]map[string][]float64{}
	for _, n := range ns {
		if results[n], err = f.size(n); err != nil {
			return err
		}
	}
	return addSummary(*summary, f.report(stdout, ns, results))
}

// fleetBench is one cmdFleet.
type fleetBench struct {
	forks, runs, largeRuns int
	work, raw, playbooks   string
	stderr                 io.Writer
}

// size runs each play on an inventory of n local hosts and returns the walls (seconds) by play.
func (f *fleetBench) size(n int) (map[string][]float64, error) {
	inv := filepath.Join(f.work, fmt.Sprintf("inventory-%d", n))
	var b strings.Builder
	b.WriteString("[fleet]\n")
	for i := range n {
		fmt.Fprintf(&b, "fleet-%04d ansible_connection=local ansible_python_interpreter=/usr/bin/python3\n", i)
	}
	if err := os.WriteFile(inv, []byte(b.String()), 0o600); err != nil {
		return nil, err
	}
	walls := map[string][]float64{}
	nruns := f.runs
	if n >= 200 {
		nruns = f.largeRuns
	}
	for r := range nruns {
		for k := range fleetPlays {
			p := fleetPlays[(k+r)%len(fleetPlays)]
			wall, err := f.play(p, inv, n, r)
			if err != nil {
				return nil, err
			}
			walls[p.key] = append(walls[p.key], wall)
		}
	}
	return walls, nil
}

// play runs play p (run r) on the inventory inv of n hosts, checks the role's session, and returns
// its wall time in seconds.
func (f *fleetBench) play(p fleetPlay, inv string, n, r int) (float64, error) {
	state := filepath.Join(f.work, fmt.Sprintf("state-%d-%d-%s", n, r, p.key))
	cmd := exec.Command("ansible-playbook", "-i", inv, "-f", strconv.Itoa(f.forks), filepath.Join(f.playbooks, p.playbook),
		"-e", "bench_state="+state)
	for k, v := range p.vars {
		cmd.Args = append(cmd.Args, "-e", k+"="+v)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	fmt.Fprintf(f.stderr, "benchtool fleet: %d hosts, run %d, %s\n", n, r+1, p.key)
	t0 := time.Now()
	err := cmd.Run()
	wall := time.Since(t0).Seconds()
	log := filepath.Join(f.raw, fmt.Sprintf("fleet-%d-%d-%s.log", n, r+1, p.key))
	_ = os.WriteFile(log, out.Bytes(), 0o644)
	if err != nil {
		return 0, fmt.Errorf("%s on %d hosts: %v; see %s: %s", p.playbook, n, err, log, tail(out.String(), 1500))
	}
	if p.session {
		if got, err := sessionOperations(state); err != nil || got != n {
			return 0, fmt.Errorf("%s on %d hosts: the session holds %d operations (%v), want %d", p.key, n, got, err, n)
		}
	}
	return wall, nil
}

// report writes the section's body for the sizes ns and returns its line of the summary.
func (f *fleetBench) report(stdout io.Writer, ns []int, results map[int]map[string][]float64) string {
	fmt.Fprintf(stdout, "An operation that succeeds at once, on every host of an inventory of local hosts (`ansible_connection=local`), "+
		"forks %d, no fact gathering; each play timed from the outside (the whole ansible-playbook run: the role's statistics, "+
		"artifacts and retention included), %d runs of each below 200 hosts and %d from 200, the order rotating; medians. "+
		"The role's session is checked to hold one operation per host after each run. The role's module tasks run their "+
		"binary from the collection's module cache (one command per task; without facts, the first task of a host also "+
		"learns its platform).\n\n", f.forks, f.runs, f.largeRuns)
	fmt.Fprintln(stdout, "| hosts | play | median s | per-run s | over the until play |")
	fmt.Fprintln(stdout, "|---:|---|---:|---|---:|")
	ratios := map[int]map[string]float64{}
	for _, n := range ns {
		ratios[n] = map[string]float64{}
		until := median(results[n]["until"])
		for _, p := range fleetPlays {
			m := median(results[n][p.key])
			ratios[n][p.key] = m / until
			fmt.Fprintf(stdout, "| %d | %s | %.1f | %s | %.2f× |\n", n, p.label, m, list(results[n][p.key],
				func(f float64) string { return fmt.Sprintf("%.1f", f) }), m/until)
		}
	}
	small, large := ns[0], ns[len(ns)-1]
	fmt.Fprintf(stdout, "\n- The role on %d hosts over the until play: **%.2f×** (command), **%.2f×** (tasks file); goal ≤ 1.5× on the success path.\n",
		large, ratios[large]["role_command"], ratios[large]["role_tasks"])
	fmt.Fprintf(stdout, "- The same ratio at %d hosts: %.2f× (command), %.2f× (tasks file); goal: no worse at %d than at %d hosts.\n\n",
		small, ratios[small]["role_command"], ratios[small]["role_tasks"], large, small)
	return fmt.Sprintf("The retry_manager role on %d hosts (forks %d): %.2f× the until/retries play with a command, %.2f× with a "+
		"tasks file (goal ≤ 1.5×); at %d hosts %.2f× and %.2f×.", large, f.forks, ratios[large]["role_command"], ratios[large]["role_tasks"],
		small, ratios[small]["role_command"], ratios[small]["role_tasks"])
}

// sessionOperations counts the operations of the one session in the state directory.
func sessionOperations(state string) (int, error) {
	heads, _ := filepath.Glob(filepath.Join(state, "retry_session_retry_*.json"))
	if len(heads) != 1 {
		return 0, fmt.Errorf("%d sessions in %s", len(heads), state)
	}
	id := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(heads[0]), "retry_session_"), ".json")
	n := 0
	_, err := (&session.Store{Dir: state}).Each(id, func(*record.Operation) error { n++; return nil })
	return n, err
}

// tail returns the end of s.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}
