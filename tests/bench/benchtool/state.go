package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"resilience.ops/internal/record"
	"resilience.ops/internal/session"
)

// stateCase is one piece of shared state that many module processes update at once.
type stateCase struct {
	name, how string
	bin       string
	// setup prepares dir and returns the arguments of operation i of process p.
	setup func(dir string) (func(p, i int) map[string]any, error)
	// count reads back how many updates the state holds, and a note on what was checked.
	count func(dir string) (int, string, error)
	// expect is the number of updates the state must hold, from what the processes reported.
	expect func(ok, changed int) int
}

// stateRun is one run of one case.
type stateRun struct {
	wall                time.Duration
	latencies           []time.Duration
	ok, failed, changed int
	recorded, expected  int
	note                string
}

// cmdState starts -procs module processes at once, each running -ops updates one after the
// other (a new process for each, as an Ansible fork runs a module), against one guard, one
// retry session and one circuit breaker key, and checks that no update was lost.
func cmdState(args []string, stdout, stderr io.Writer) error {
	fs, summary := newFlags("state", stderr)
	binDir := fs.String("bin-dir", "plugins/modules/__bin", "directory of the module builds")
	suffix := fs.String("platform", "linux_amd64", "the build of this host")
	procs := fs.Int("procs", 50, "concurrent processes")
	ops := fs.Int("ops", 10, "operations per process")
	runs := fs.Int("runs", 3, "runs of each case")
	if err := fs.Parse(args); err != nil {
		return err
	}
	guardBin := filepath.Join(*binDir, "qos_guard_"+*suffix)
	retryBin := filepath.Join(*binDir, "retry_manager_"+*suffix)
	cases := []*stateCase{guardCase(guardBin), sessionCase(retryBin), breakerCase(retryBin)}
	results := make([][]stateRun, len(cases))
	errs := make([]error, len(cases))
	for range *runs {
		for c, sc := range cases {
			if errs[c] != nil {
				continue
			}
			r, err := runStateCase(sc, *procs, *ops)
			if err != nil {
				errs[c] = fmt.Errorf("%s: %w", sc.name, err)
				continue
			}
			results[c] = append(results[c], r)
		}
	}
	fmt.Fprintf(stdout, "%d module processes start together; each runs %d operations one after the other (a new process each, "+
		"as an Ansible fork runs a module), all on the same piece of state. ops/s is all operations divided by the wall time "+
		"from the start until the last process ended; latency is one process's time for one operation, its wait for the "+
		"lock included. Lost updates compare what the processes reported with what the state holds afterwards (must be 0). "+
		"%d runs of each; medians.\n\n", *procs, *ops, *runs)
	fmt.Fprintln(stdout, "| state | operation | ops per run | median ops/s | per-run ops/s | median latency ms | failed ops | lost updates | checked |")
	fmt.Fprintln(stdout, "|---|---|---:|---:|---|---:|---:|---:|---|")
	var bullets []string
	totalLost := 0
	for c, sc := range cases {
		if errs[c] != nil {
			fmt.Fprintf(stdout, "| %s | %s | %d | not measured | | | | | %.300s |\n", sc.name, sc.how, *procs**ops,
				strings.ReplaceAll(errs[c].Error(), "|", "\\|"))
			continue
		}
		var rates []float64
		var lat []time.Duration
		failed, lost := 0, 0
		for _, r := range results[c] {
			rates = append(rates, float64(r.ok+r.failed)/r.wall.Seconds())
			lat = append(lat, r.latencies...)
			failed += r.failed
			lost += r.expected - r.recorded
		}
		totalLost += lost
		last := results[c][len(results[c])-1]
		fmt.Fprintf(stdout, "| %s | %s | %d | %.0f | %s | %s | %d | %d | %s |\n", sc.name, sc.how, *procs**ops, median(rates),
			list(rates, func(f float64) string { return fmt.Sprintf("%.0f", f) }), ms(medianDur(lat)), failed, lost, last.note)
		bullets = append(bullets, fmt.Sprintf("%s %.0f ops/s", sc.name, median(rates)))
	}
	fmt.Fprintln(stdout)
	if err := addSummary(*summary, fmt.Sprintf("State under contention (%d processes): %s; lost updates: %d.", *procs, joinComma(bullets), totalLost)); err != nil {
		return err
	}
	return errors.Join(errs...)
}

func joinComma(xs []string) string {
	var b bytes.Buffer
	for i, x := range xs {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(x)
	}
	return b.String()
}

// runStateCase runs one case in a fresh directory.
func runStateCase(sc *stateCase, procs, ops int) (stateRun, error) {
	dir, err := os.MkdirTemp("", "benchtool-state-")
	if err != nil {
		return stateRun{}, err
	}
	defer os.RemoveAll(dir)
	argsOf, err := sc.setup(dir)
	if err != nil {
		return stateRun{}, err
	}
	files := make([][][]string, procs)
	for p := range procs {
		for i := range ops {
			argv, err := moduleArgv(filepath.Join(dir, "args", fmt.Sprintf("%d-%d", p, i)), sc.bin, argsOf(p, i))
			if err != nil {
				return stateRun{}, err
			}
			files[p] = append(files[p], argv)
		}
	}
	var (
		mu  sync.Mutex
		r   stateRun
		wg  sync.WaitGroup
		msg string
	)
	start := make(chan struct{})
	env := os.Environ()
	for p := range procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for _, argv := range files[p] {
				m := runMeasured(argv, env)
				var out struct {
					Changed bool   `json:"changed"`
					Failed  bool   `json:"failed"`
					Msg     string `json:"msg"`
				}
				jerr := json.Unmarshal(bytes.TrimSpace(m.stdout), &out)
				mu.Lock()
				r.latencies = append(r.latencies, m.wall)
				switch {
				case jerr != nil || out.Failed:
					r.failed++
					if msg == "" {
						msg = fmt.Sprintf("%s%.200s", out.Msg, m.stdout)
					}
				default:
					r.ok++
					if out.Changed {
						r.changed++
					}
				}
				mu.Unlock()
			}
		}()
	}
	t0 := time.Now()
	close(start)
	wg.Wait()
	r.wall = time.Since(t0)
	if r.failed > 0 && r.ok == 0 {
		return r, fmt.Errorf("every operation failed, for example: %s", msg)
	}
	r.expected = sc.expect(r.ok, r.changed)
	if r.recorded, r.note, err = sc.count(dir); err != nil {
		return r, err
	}
	return r, nil
}

func writeJSON(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o600)
}

// guardCase: qos_guard locks (forced) and unlocks one guard. Every change is appended to the
// audit trail, so the trail must hold exactly the changes the processes reported.
func guardCase(bin string) *stateCase {
	return &stateCase{
		name: "one guard", how: "qos_guard: forced lock, then forced unlock, alternately", bin: bin,
		setup: func(dir string) (func(p, i int) map[string]any, error) {
			path := filepath.Join(dir, "guard")
			return func(p, i int) map[string]any {
				if i%2 == 0 {
					return map[string]any{"path": path, "state": "locked", "minutes": 30, "force": true,
						"reason": fmt.Sprintf("bench process %d operation %d", p, i)}
				}
				return map[string]any{"path": path, "state": "unlocked", "force": true}
			}, nil
		},
		expect: func(_, changed int) int { return changed },
		count: func(dir string) (int, string, error) {
			n, err := countJSONLines(filepath.Join(dir, "guard.audit.jsonl"))
			if err != nil {
				return 0, "", err
			}
			if b, err := os.ReadFile(filepath.Join(dir, "guard")); err == nil && !json.Valid(b) {
				return n, "", fmt.Errorf("the guard file is not valid JSON afterwards")
			}
			return n, "audit events = reported changes; guard file valid", nil
		},
	}
}

// sessionCase: retry_manager records one operation (action record) per run in one session.
func sessionCase(bin string) *stateCase {
	var id string
	return &stateCase{
		name: "one retry session", how: "retry_manager action=record of a new operation", bin: bin,
		setup: func(dir string) (func(p, i int) map[string]any, error) {
			start, err := moduleArgv(filepath.Join(dir, "args", "start"), bin, map[string]any{"action": "start", "state_dir": dir})
			if err != nil {
				return nil, err
			}
			m := runMeasured(start, os.Environ())
			var out struct {
				SessionID string `json:"session_id"`
				Msg       string `json:"msg"`
			}
			if err := json.Unmarshal(bytes.TrimSpace(m.stdout), &out); err != nil || out.SessionID == "" {
				return nil, fmt.Errorf("action start: %v %s", err, m.stdout)
			}
			id = out.SessionID
			return func(p, i int) map[string]any {
				return map[string]any{"action": "record", "state_dir": dir, "session_id": out.SessionID, "operation": "bench",
					"host": fmt.Sprintf("host%d", p), "outcome": map[string]any{"failed": false}}
			}, nil
		},
		expect: func(ok, _ int) int { return ok },
		count: func(dir string) (int, string, error) {
			n := 0
			h, err := (&session.Store{Dir: dir}).Each(id, func(*record.Operation) error { n++; return nil })
			if err == nil && h == nil {
				err = fmt.Errorf("session %s has no file", id)
			}
			return n, "operations in the session = successful records", err
		},
	}
}

// breakerCase: retry_manager runs `true` once with the circuit breaker and the retry budget on
// one key; each run records one call in the key's state document.
func breakerCase(bin string) *stateCase {
	const key = "bench_key"
	day := 86400 // the longest window: no call leaves it during the run
	return &stateCase{
		name: "one circuit breaker key", how: "retry_manager run of `true` with circuit_breaker and retry_budget on", bin: bin,
		setup: func(dir string) (func(p, i int) map[string]any, error) {
			return func(p, i int) map[string]any {
				return map[string]any{"operation": "bench", "argv": []string{"true"}, "max_attempts": 1, "state_dir": dir,
					"circuit_key": key, "circuit_breaker": map[string]any{"enabled": true, "window": day},
					"retry_budget": map[string]any{"enabled": true, "window": day}}
			}, nil
		},
		expect: func(ok, _ int) int { return ok },
		count: func(dir string) (int, string, error) {
			b, err := os.ReadFile(filepath.Join(dir, "circuit", key+".json"))
			if err != nil {
				return 0, "", err
			}
			var doc struct {
				Breaker struct {
					Window []struct {
						Successes int `json:"successes"`
					} `json:"window"`
				} `json:"circuit_breaker"`
				Budget []struct {
					Calls int `json:"calls"`
				} `json:"retry_budget"`
			}
			if err := json.Unmarshal(b, &doc); err != nil {
				return 0, "", fmt.Errorf("state document: %w", err)
			}
			calls, successes := 0, 0
			for _, x := range doc.Budget {
				calls += x.Calls
			}
			for _, x := range doc.Breaker.Window {
				successes += x.Successes
			}
			note := "budget calls = successful runs"
			if successes != calls {
				note += fmt.Sprintf(" (breaker window: %d successes)", successes)
			} else {
				note += " = breaker window successes"
			}
			return calls, note, nil
		},
	}
}

// countJSONLines counts the lines of a JSON-lines file, failing on one that is not JSON.
func countJSONLines(path string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		if !json.Valid(sc.Bytes()) {
			return n, fmt.Errorf("%s: line %d is not JSON", path, n+1)
		}
		n++
	}
	return n, sc.Err()
}
