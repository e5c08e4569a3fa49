package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
)

// perTaskRun is what tests/bench/playbooks/per_task.yml writes: each block's wall time, taken
// inside the play.
type perTaskRun struct {
	Tasks   int                `json:"tasks"`
	Order   []string           `json:"order"`
	Seconds map[string]float64 `json:"seconds"`
}

// perTaskBlocks are the blocks of per_task.yml, in report order, and what each runs.
var perTaskBlocks = []struct{ key, label string }{
	{"stat", "`ansible.builtin.stat` (Python) on the lock file"},
	{"qos_guard", "`resilience.ops.qos_guard` (Go) `state: status`"},
	{"qos_guard_delegated", "`resilience.ops.qos_guard`, `delegate_to: localhost` (platform from `uname` each task)"},
}

// cmdPertask summarises the per-task playbook runs: per run and median, milliseconds per task
// and the ratio to stat within the same run.
func cmdPertask(args []string, stdout, stderr io.Writer) error {
	fs, summary := newFlags("pertask", stderr)
	if err := fs.Parse(args); err != nil {
		return err
	}
	var runs []perTaskRun
	for _, f := range fs.Args() {
		var r perTaskRun
		if err := readJSON(f, &r); err != nil {
			return err
		}
		runs = append(runs, r)
	}
	if len(runs) == 0 {
		return fmt.Errorf("no runs")
	}
	tasks := runs[0].Tasks
	fmt.Fprintf(stdout, "One play against localhost (`ansible_connection=local`, `ansible_python_interpreter=/usr/bin/python3`, "+
		"facts gathered once with `gather_subset: min`), the collection installed from the tarball. Each block is %d runs "+
		"of one module (`loop` over `range(%d)`) on the same lock file; its wall time is taken inside the play "+
		"(`now()` before and after). %d runs of the playbook, the block order rotating between runs; ratios are taken "+
		"within each run, then the median.\n\n", tasks, tasks, len(runs))
	fmt.Fprintln(stdout, "| block | median ms per task | per-run ms per task | median ratio to stat (same run) |")
	fmt.Fprintln(stdout, "|---|---:|---|---:|")
	med := map[string]float64{}
	ratios := map[string]float64{}
	for _, b := range perTaskBlocks {
		var per, rs []float64
		for _, r := range runs {
			s, ok := r.Seconds[b.key]
			if !ok {
				continue
			}
			per = append(per, s*1000/float64(r.Tasks))
			if st := r.Seconds["stat"]; st > 0 {
				rs = append(rs, s/st)
			}
		}
		if len(per) == 0 {
			continue
		}
		med[b.key], ratios[b.key] = median(per), median(rs)
		fmt.Fprintf(stdout, "| %s | %s | %s | %.2f |\n", b.label, msf(med[b.key]), list(per, msf), ratios[b.key])
	}
	orders := make([]string, len(runs))
	for i, r := range runs {
		orders[i] = strings.Join(r.Order, " → ")
	}
	fmt.Fprintf(stdout, "\nBlock order per run: %s.\n\n", strings.Join(orders, "; "))
	if med["stat"] == 0 || med["qos_guard"] == 0 {
		return nil
	}
	return addSummary(*summary, fmt.Sprintf("Per task in a real playbook (%d tasks of each, localhost): qos_guard %s ms, ansible.builtin.stat %s ms; "+
		"qos_guard takes %.2f× the time of stat, stat %.1f× that of qos_guard (medians of the same-run ratios).", tasks, msf(med["qos_guard"]),
		msf(med["stat"]), ratios["qos_guard"], inverseMedian(runs, "qos_guard")))
}

// inverseMedian is the median over the runs of stat's time divided by block's.
func inverseMedian(runs []perTaskRun, block string) float64 {
	var rs []float64
	for _, r := range runs {
		if b := r.Seconds[block]; b > 0 {
			rs = append(rs, r.Seconds["stat"]/b)
		}
	}
	return median(rs)
}

// flakyResult is one block of tests/bench/playbooks/flaky.yml.
type flakyResult struct {
	Seconds     float64 `json:"seconds"`
	Attempts    int     `json:"attempts"`
	ModuleRuns  int     `json:"module_runs"`
	Tasks       int     `json:"tasks"`
	PlannedWait float64 `json:"planned_wait"`
	OK          bool    `json:"ok"`
}

type flakyRun struct {
	Order   []string               `json:"order"`
	Results map[string]flakyResult `json:"results"`
}

var flakyBlocks = []struct{ key, label string }{
	{"until", "`ansible.builtin.command` with `until: r.rc == 0`, `retries: 2`, `delay: 1`"},
	{"retry_manager", "`resilience.ops.retry_manager`, `max_attempts: 3`, `retry_policy: fixed_delay`, `base_delay: 1`, `jitter_enabled: false`"},
}

// cmdFlaky summarises the flaky-command playbook runs.
func cmdFlaky(args []string, stdout, stderr io.Writer) error {
	fs, summary := newFlags("flaky", stderr)
	if err := fs.Parse(args); err != nil {
		return err
	}
	var runs []flakyRun
	for _, f := range fs.Args() {
		var r flakyRun
		if err := readJSON(f, &r); err != nil {
			return err
		}
		runs = append(runs, r)
	}
	if len(runs) == 0 {
		return fmt.Errorf("no runs")
	}
	fmt.Fprintf(stdout, "The flaky command (fails twice with \"Connection refused\", then succeeds) retried in one play against localhost, "+
		"with the same waits (1 s, 1 s: `until` only has a fixed delay, so retry_manager uses `fixed_delay` here). Wall time "+
		"is taken inside the play; overhead is the wall time minus the waits. %d runs, the order rotating.\n\n", len(runs))
	fmt.Fprintln(stdout, "| retried by | tasks | module runs | command attempts | succeeded | median wall s | median overhead ms | per-run wall s |")
	fmt.Fprintln(stdout, "|---|---:|---:|---:|---|---:|---:|---|")
	wall, over := map[string]float64{}, map[string]float64{}
	lastOf := map[string]flakyResult{}
	for _, b := range flakyBlocks {
		var ws, os_ []float64
		var last flakyResult
		okAll := true
		for _, r := range runs {
			res, ok := r.Results[b.key]
			if !ok {
				continue
			}
			ws = append(ws, res.Seconds)
			os_ = append(os_, (res.Seconds-res.PlannedWait)*1000)
			okAll = okAll && res.OK
			last = res
		}
		if len(ws) == 0 {
			continue
		}
		wall[b.key], over[b.key], lastOf[b.key] = median(ws), median(os_), last
		fmt.Fprintf(stdout, "| %s | %d | %d | %d | %v | %.3f | %s | %s |\n", b.label, last.Tasks, last.ModuleRuns, last.Attempts, okAll,
			wall[b.key], msf(over[b.key]), list(ws, func(f float64) string { return fmt.Sprintf("%.3f", f) }))
	}
	fmt.Fprintln(stdout)
	if wall["until"] == 0 || wall["retry_manager"] == 0 {
		return nil
	}
	fmt.Fprintf(stdout, "retry_manager / until: %s the wall time, %s the overhead.\n\n", ratio(wall["retry_manager"], wall["until"]),
		ratio(over["retry_manager"], over["until"]))
	rm, un := lastOf["retry_manager"], lastOf["until"]
	return addSummary(*summary, fmt.Sprintf("Retrying the flaky command in a playbook (%g s of waits each): retry_manager %.2f s (overhead %s ms, %d module run), "+
		"until/retries %.2f s (overhead %s ms, %d module runs).", rm.PlannedWait, wall["retry_manager"], msf(over["retry_manager"]), rm.ModuleRuns,
		wall["until"], msf(over["until"]), un.ModuleRuns))
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}
