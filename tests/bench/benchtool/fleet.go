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
	forks := fs.Int("forks", 50, "ansible forks")
	runs := fs.Int("runs", 2, "runs of each play at each size below 200 hosts")
	largeRuns := fs.Int("large-runs", 1, "runs of each play at 200 hosts or more (minutes each)")
	dir := fs.String("playbooks", "tests/bench/playbooks", "directory of fleet_role.yml and fleet_until.yml")
	raw := fs.String("raw", "", "directory for the playbook logs (default: a temporary one)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "benchtool-fleet-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	if *raw == "" {
		*raw = work
	}
	abs, err := filepath.Abs(*dir)
	if err != nil {
		return err
	}
	type cell struct{ walls []float64 }
	var ns []int
	for _, s := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n <= 0 {
			return fmt.Errorf("-hosts: %q is not a number of hosts", s)
		}
		ns = append(ns, n)
	}
	results := map[int]map[string]*cell{}
	for _, n := range ns {
		inv := filepath.Join(work, fmt.Sprintf("inventory-%d", n))
		var b strings.Builder
		b.WriteString("[fleet]\n")
		for i := range n {
			fmt.Fprintf(&b, "fleet-%04d ansible_connection=local ansible_python_interpreter=/usr/bin/python3\n", i)
		}
		if err := os.WriteFile(inv, []byte(b.String()), 0o600); err != nil {
			return err
		}
		results[n] = map[string]*cell{}
		nruns := *runs
		if n >= 200 {
			nruns = *largeRuns
		}
		for r := range nruns {
			for k := range fleetPlays {
				p := fleetPlays[(k+r)%len(fleetPlays)]
				state := filepath.Join(work, fmt.Sprintf("state-%d-%d-%s", n, r, p.key))
				cmd := exec.Command("ansible-playbook", "-i", inv, "-f", strconv.Itoa(*forks), filepath.Join(abs, p.playbook),
					"-e", "bench_state="+state)
				for k, v := range p.vars {
					cmd.Args = append(cmd.Args, "-e", k+"="+v)
				}
				var out bytes.Buffer
				cmd.Stdout, cmd.Stderr = &out, &out
				fmt.Fprintf(stderr, "benchtool fleet: %d hosts, run %d, %s\n", n, r+1, p.key)
				t0 := time.Now()
				err := cmd.Run()
				wall := time.Since(t0).Seconds()
				log := filepath.Join(*raw, fmt.Sprintf("fleet-%d-%d-%s.log", n, r+1, p.key))
				_ = os.WriteFile(log, out.Bytes(), 0o644)
				if err != nil {
					return fmt.Errorf("%s on %d hosts: %v; see %s: %s", p.playbook, n, err, log, tail(out.String(), 1500))
				}
				if p.session {
					if got, err := sessionOperations(state); err != nil || got != n {
						return fmt.Errorf("%s on %d hosts: the session holds %d operations (%v), want %d", p.key, n, got, err, n)
					}
				}
				c := results[n][p.key]
				if c == nil {
					c = &cell{}
					results[n][p.key] = c
				}
				c.walls = append(c.walls, wall)
			}
		}
	}
	fmt.Fprintf(stdout, "An operation that succeeds at once, on every host of an inventory of local hosts (`ansible_connection=local`), "+
		"forks %d, no fact gathering; each play timed from the outside (the whole ansible-playbook run: the role's statistics, "+
		"artifacts and retention included), %d runs of each below 200 hosts and %d from 200, the order rotating; medians. "+
		"The role's session is checked to hold one operation per host after each run. The role's module tasks run their "+
		"binary from the collection's module cache (one command per task; without facts, the first task of a host also "+
		"learns its platform).\n\n", *forks, *runs, *largeRuns)
	fmt.Fprintln(stdout, "| hosts | play | median s | per-run s | over the until play |")
	fmt.Fprintln(stdout, "|---:|---|---:|---|---:|")
	ratios := map[int]map[string]float64{}
	for _, n := range ns {
		ratios[n] = map[string]float64{}
		until := median(results[n]["until"].walls)
		for _, p := range fleetPlays {
			m := median(results[n][p.key].walls)
			ratios[n][p.key] = m / until
			fmt.Fprintf(stdout, "| %d | %s | %.1f | %s | %.2f× |\n", n, p.label, m, list(results[n][p.key].walls,
				func(f float64) string { return fmt.Sprintf("%.1f", f) }), m/until)
		}
	}
	small, large := ns[0], ns[len(ns)-1]
	fmt.Fprintf(stdout, "\n- The role on %d hosts over the until play: **%.2f×** (command), **%.2f×** (tasks file); goal ≤ 1.5× on the success path.\n",
		large, ratios[large]["role_command"], ratios[large]["role_tasks"])
	fmt.Fprintf(stdout, "- The same ratio at %d hosts: %.2f× (command), %.2f× (tasks file); goal: no worse at %d than at %d hosts.\n\n",
		small, ratios[small]["role_command"], ratios[small]["role_tasks"], large, small)
	return addSummary(*summary, fmt.Sprintf("The retry_manager role on %d hosts (forks %d): %.2f× the until/retries play with a command, %.2f× with a "+
		"tasks file (goal ≤ 1.5×); at %d hosts %.2f× and %.2f×.", large, *forks, ratios[large]["role_command"], ratios[large]["role_tasks"],
		small, ratios[small]["role_command"], ratios[small]["role_tasks"]))
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
