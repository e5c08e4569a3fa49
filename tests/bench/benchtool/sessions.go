package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"resilience.ops/internal/record"
	"resilience.ops/internal/session"
)

// cmdSessions measures retry sessions at fleet scale (issue 18): the time of one record by how
// many operations the session already holds, from 0 to -max, with one writer and with -writers
// concurrent writers on distinct hosts; then finalize of the whole session (time and peak memory,
// through GNU time); and what the layout costs in files and bytes. Each record is one module
// process (action run of `true` with track_session, as a play's host runs it), timed from the
// outside. The operations between the measured windows are written directly in the session's
// documented layout (the generator's records look like the module's), so that the run takes
// minutes, not the hours that 100,000 module processes one after the other would.
func cmdSessions(args []string, stdout, stderr io.Writer) error {
	fs, summary := newFlags("sessions", stderr)
	bin := fs.String("bin", "plugins/modules/__bin/retry_manager_linux_amd64", "the module build of this host")
	var o sessionsOpts
	fs.IntVar(&o.max, "max", 100000, "operations the session grows to")
	fs.IntVar(&o.step, "step", 10000, "operations between the measured windows")
	fs.IntVar(&o.window, "window", 200, "records timed in each window with one writer")
	fs.IntVar(&o.writers, "writers", 50, "concurrent writers on distinct hosts")
	fs.IntVar(&o.each, "each", 10, "records of each concurrent writer in each window")
	perHost := fs.Int("per-host", 5, "operations of each generated host")
	fs.IntVar(&o.finalizeRuns, "finalize-runs", 3, "finalize runs at the largest size")
	fs.StringVar(&o.timeBin, "time", "/usr/bin/time", "GNU time, for the peak memory")
	keep := fs.String("keep", "", "keep the state directory here (default: a temporary one, removed)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	dir := *keep
	if dir == "" {
		d, err := os.MkdirTemp("", "benchtool-sessions-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	b := &sessionBench{bin: *bin, work: dir, state: filepath.Join(dir, "state"), perHost: *perHost,
		rnd: rand.New(rand.NewPCG(18, 18)), grown: map[string]int{}, recorded: map[string]int{}}
	if err := os.MkdirAll(filepath.Join(dir, "args"), 0o700); err != nil {
		return err
	}
	res, err := b.measure(o, stderr)
	if err != nil {
		return err
	}
	return addSummary(*summary, res.report(stdout, o, *perHost))
}

// sessionsOpts are the sizes of cmdSessions.
type sessionsOpts struct {
	max, step, window, writers, each, finalizeRuns int
	timeBin                                        string
}

// sessionRow is one measured window: the records with 1 writer and with many, at from operations.
type sessionRow struct {
	from                  int
	one, many             []time.Duration
	oneRate, manyRate     float64
	oneFailed, manyFailed int
}

// sessionsResult is what cmdSessions measured.
type sessionsResult struct {
	rows       []sessionRow
	total      int            // operations of the finalized session
	lost       map[string]int // by session
	single     string         // the session of the single writer
	multi      string         // the session of the concurrent writers
	files      int
	bytes      int64
	perOp      float64
	finTimes   []time.Duration
	finRSS     []float64
	finLastOut string
}

// measure grows two sessions alike (one for the single writer, one for the concurrent writers),
// measures the windows, counts what was lost, and finalizes the single writer's session at o.max.
func (b *sessionBench) measure(o sessionsOpts, stderr io.Writer) (*sessionsResult, error) {
	res := &sessionsResult{lost: map[string]int{}}
	var err error
	if res.single, err = b.start(); err != nil {
		return nil, err
	}
	if res.multi, err = b.start(); err != nil {
		return nil, err
	}
	for from := 0; from < o.max; from += o.step {
		r, err := b.window(o, res.single, res.multi, from)
		if err != nil {
			return nil, err
		}
		res.rows = append(res.rows, r)
		fmt.Fprintf(stderr, "benchtool sessions: %d operations: 1 writer %s ms, %d writers %s ms\n", from, ms(medianDur(r.one)), o.writers, ms(medianDur(r.many)))
	}
	// Grow the single writer's session to o.max, then finalize it.
	if err := b.growTo(res.single, o.max); err != nil {
		return nil, err
	}
	for _, s := range []string{res.single, res.multi} {
		n, err := b.count(s)
		if err != nil {
			return nil, err
		}
		res.lost[s] = b.grown[s] + b.recorded[s] - n
	}
	if res.files, res.bytes, res.perOp, err = b.layout(res.single); err != nil {
		return nil, err
	}
	for range o.finalizeRuns {
		wall, rss, out, err := b.finalize(res.single, o.timeBin)
		if err != nil {
			return nil, err
		}
		res.finTimes, res.finRSS, res.finLastOut = append(res.finTimes, wall), append(res.finRSS, rss), out
	}
	res.total = b.grown[res.single] + b.recorded[res.single]
	return res, nil
}

// growTo grows session s to n operations with generated ones (counting the records made in it).
func (b *sessionBench) growTo(s string, n int) error {
	if k := n - b.grown[s] - b.recorded[s]; k > 0 {
		if err := b.generate(s, k); err != nil {
			return err
		}
		b.grown[s] += k
	}
	return nil
}

// window grows both sessions to from operations and times the records of one window in each.
func (b *sessionBench) window(o sessionsOpts, single, multi string, from int) (sessionRow, error) {
	r := sessionRow{from: from}
	for _, s := range []string{single, multi} {
		if err := b.growTo(s, from); err != nil {
			return r, err
		}
	}
	// What the generator wrote goes to disk now, not during the records' fsyncs.
	flushDisk()
	lat, wall, failed, err := b.records(single, 1, o.window, from)
	if err != nil {
		return r, err
	}
	r.one, r.oneFailed, r.oneRate = lat, failed, float64(len(lat))/wall.Seconds()
	b.recorded[single] += len(lat) - failed
	lat, wall, failed, err = b.records(multi, o.writers, o.each, from)
	if err != nil {
		return r, err
	}
	r.many, r.manyFailed, r.manyRate = lat, failed, float64(len(lat))/wall.Seconds()
	b.recorded[multi] += len(lat) - failed
	return r, nil
}

// report writes the section's body and returns its line of the summary.
func (res *sessionsResult) report(stdout io.Writer, o sessionsOpts, perHost int) string {
	fmt.Fprintf(stdout, "A record is one module process: action run of `true` with track_session (as a host of a play records "+
		"its operation), timed from the outside, fork and exec included. With 1 writer, %d records one after the other per "+
		"window; with %d writers, %d processes on distinct hosts at once, %d records each. Between windows the session "+
		"grows by operations written directly in its layout (%d operations per generated host, 10%% of them retried, "+
		"5%% failed). Medians.\n\n", o.window, o.writers, o.writers, o.each, perHost)
	fmt.Fprintf(stdout, "| operations already in the session | 1 writer: ms per record | 1 writer: records/s | %d writers: ms per record | %d writers: records/s | failed records |\n", o.writers, o.writers)
	fmt.Fprintln(stdout, "|---|---:|---:|---:|---:|---:|")
	for i, r := range res.rows {
		to := r.from + o.step
		if i == len(res.rows)-1 {
			to = o.max
		}
		fmt.Fprintf(stdout, "| %s-%s | %s | %.0f | %s | %.0f | %d |\n", thousands(r.from), thousands(to), ms(medianDur(r.one)), r.oneRate,
			ms(medianDur(r.many)), r.manyRate, r.oneFailed+r.manyFailed)
	}
	first, last := res.rows[0], res.rows[len(res.rows)-1]
	growth := float64(medianDur(last.one)) / float64(medianDur(first.one))
	growthMany := float64(medianDur(last.many)) / float64(medianDur(first.many))
	var oneRates, manyRates []float64
	for _, r := range res.rows {
		oneRates, manyRates = append(oneRates, r.oneRate), append(manyRates, r.manyRate)
	}
	scale := median(manyRates) / median(oneRates)
	fin, rss := medianDur(res.finTimes), median(res.finRSS)
	fmt.Fprintf(stdout, "\n- Median record at %s-%s operations over the median at 0-%s: **%.2f×** with 1 writer (goal ≤ 1.2×), %.2f× with %d writers.\n",
		thousands(last.from), thousands(o.max), thousands(o.step), growth, growthMany, o.writers)
	fmt.Fprintf(stdout, "- Records per second with %d writers on distinct hosts over 1 writer: **%.2f×** (goal ≥ 1.5× on this %d-core machine; medians over the windows).\n",
		o.writers, scale, nproc())
	fmt.Fprintf(stdout, "- Records lost: %d with 1 writer, %d with %d writers (the session's operations, counted afterwards, against the "+
		"generated ones and the records the module reported; must be 0).\n", res.lost[res.single], res.lost[res.multi], o.writers)
	fmt.Fprintf(stdout, "- Finalize of %s operations (action finalize, one module process): **%s s** (goal < 2 s), peak memory **%.1f MiB** "+
		"(goal < 64 MiB; GNU time's maximum resident set size); %d runs: %s s. Its result: %s\n", thousands(res.total), secs(fin), rss,
		o.finalizeRuns, list(durSecs(res.finTimes), func(f float64) string { return fmt.Sprintf("%.2f", f) }), res.finLastOut)
	fmt.Fprintf(stdout, "- The session's files at %s operations: %d files (the head, per-host segments, locks), %.1f MiB on disk; "+
		"%.0f bytes per operation.\n\n", thousands(res.total), res.files, float64(res.bytes)/(1<<20), res.perOp)
	return fmt.Sprintf("Sessions at fleet scale: record at %s operations %.2f× the record at 0 (goal ≤ 1.2×); "+
		"%d writers %.2f× the records/s of 1 (goal ≥ 1.5×); lost records %d; finalize of %s operations %s s, %.1f MiB (goals < 2 s, < 64 MiB).",
		thousands(last.from), growth, o.writers, scale, res.lost[res.single]+res.lost[res.multi], thousands(res.total), secs(fin), rss)
}

// sessionBench holds what the measurements share.
type sessionBench struct {
	bin, work, state string
	perHost          int
	rnd              *rand.Rand
	hosts            int // generated hosts so far
	args             int // argument files so far
	// By session: the operations generated in it, and those its records added.
	grown, recorded map[string]int
}

// moduleArgs writes an argument file for the module (see moduleArgv).
func (b *sessionBench) moduleArgs(args map[string]any) ([]string, error) {
	b.args++
	return moduleArgv(filepath.Join(b.work, "args", strconv.Itoa(b.args)), b.bin, args)
}

func (b *sessionBench) run(args map[string]any) (measured, map[string]any, error) {
	argv, err := b.moduleArgs(args)
	if err != nil {
		return measured{}, nil, err
	}
	m := runMeasured(argv, os.Environ())
	var out map[string]any
	if err := json.Unmarshal(bytes.TrimSpace(m.stdout), &out); err != nil {
		return m, nil, fmt.Errorf("%s: not one JSON object: %q", args["action"], m.stdout)
	}
	return m, out, nil
}

// start creates a session and returns its id.
func (b *sessionBench) start() (string, error) {
	_, out, err := b.run(map[string]any{"action": "start", "state_dir": b.state})
	if err != nil {
		return "", err
	}
	id, _ := out["session_id"].(string)
	if id == "" || out["failed"] == true {
		return "", fmt.Errorf("action start: %v", out["msg"])
	}
	return id, nil
}

// records runs n records of each of w writers on distinct hosts at once and returns each
// record's time, the wall time and the failures.
func (b *sessionBench) records(id string, w, n, window int) ([]time.Duration, time.Duration, int, error) {
	argv := make([][][]string, w)
	for p := range w {
		for i := range n {
			a, err := b.moduleArgs(map[string]any{"operation": "bench_record", "argv": []string{"true"}, "track_session": true,
				"session_id": id, "state_dir": b.state, "host": fmt.Sprintf("bench-w%03d", p),
				"context": map[string]any{"window": window, "record": i}, "_ansible_check_mode": false})
			if err != nil {
				return nil, 0, 0, err
			}
			argv[p] = append(argv[p], a)
		}
	}
	var (
		mu     sync.Mutex
		lat    []time.Duration
		failed int
		first  string
		wg     sync.WaitGroup
	)
	start := make(chan struct{})
	for p := range w {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for _, a := range argv[p] {
				m := runMeasured(a, os.Environ())
				var out struct {
					Failed   bool     `json:"failed"`
					Msg      string   `json:"msg"`
					Warnings []string `json:"warnings"`
				}
				jerr := json.Unmarshal(bytes.TrimSpace(m.stdout), &out)
				mu.Lock()
				lat = append(lat, m.wall)
				if jerr != nil || out.Failed || len(out.Warnings) > 0 { // a record that did not happen is a warning
					failed++
					if first == "" {
						first = fmt.Sprintf("%s %v %.300s", out.Msg, out.Warnings, m.stdout)
					}
				}
				mu.Unlock()
			}
		}()
	}
	t0 := time.Now()
	close(start)
	wg.Wait()
	wall := time.Since(t0)
	if failed == len(lat) {
		return nil, 0, 0, fmt.Errorf("every record failed, for example: %s", first)
	}
	return lat, wall, failed, nil
}

// generate adds n operations to session id, perHost for each new host, written directly in the
// session's layout: one segment per host, h-<host>.0.jsonl, as the module writes it.
func (b *sessionBench) generate(id string, n int) error {
	parts := filepath.Join(b.state, "retry_session_"+id+".d")
	start := time.Date(2026, 1, 5, 8, 0, 0, 0, time.UTC)
	for n > 0 {
		b.hosts++
		host := fmt.Sprintf("gen-%06d.example.com", b.hosts)
		var buf bytes.Buffer
		k := min(b.perHost, n)
		for i := range k {
			op := b.operation(id, host, start.Add(time.Duration(b.hosts*7+i)*time.Second), i)
			line, err := json.Marshal(op)
			if err != nil {
				return err
			}
			buf.Write(line)
			buf.WriteByte('\n')
		}
		if err := os.WriteFile(filepath.Join(parts, session.HostKey(host)+".0.jsonl"), buf.Bytes(), 0o600); err != nil {
			return err
		}
		n -= k
	}
	return nil
}

// operation is a generated operation like the ones the module records: one attempt of a command
// that succeeded, or (10%) retried after connection timeouts, or (5%) failed.
func (b *sessionBench) operation(id, host string, t time.Time, i int) record.Operation {
	name := []string{"vmware_vm_create", "network_configuration", "dns_register", "vmware_vm_power_on", "cmdb_update"}[i%5]
	op := record.Operation{OperationID: fmt.Sprintf("%s_%d_%06d", name, t.Unix(), b.rnd.IntN(1000000)), OperationName: name,
		SessionID: id, Host: host, MaxAttempts: 3, Status: record.Completed, StopReason: "succeeded",
		Context: map[string]any{"vm_name": strings.SplitN(host, ".", 2)[0], "datacenter": "dc1"}}
	attempts, failed := 1, false
	switch r := b.rnd.IntN(100); {
	case r < 5:
		attempts, failed = 3, true
	case r < 15:
		attempts = 2 + b.rnd.IntN(2)
	}
	at := t
	for n := 1; n <= attempts; n++ {
		a := record.Attempt{AttemptNumber: n, StartTime: record.Timestamp(at), Status: "success", ExecutionTime: 0.004}
		if n < attempts || failed {
			typ, msg := "connection_error", "Connection timeout to vCenter vc01.example.com:443"
			a.Status, a.ErrorType, a.ErrorMessage = "failed", &typ, &msg
			if n < attempts {
				a.ShouldRetry, a.DelayBeforeRetry = true, float64(n)*5
			}
		}
		a.EndTime = record.Timestamp(at.Add(4 * time.Millisecond))
		at = at.Add(time.Duration(a.DelayBeforeRetry*1000+4) * time.Millisecond)
		op.Attempts = append(op.Attempts, a)
	}
	op.StartTime, op.EndTime, op.AttemptCount = record.Timestamp(t), record.Timestamp(at), attempts
	op.ExecutionTime = at.Sub(t).Seconds()
	if failed {
		op.Status, op.StopReason, op.ErrorType = record.Failed, "attempts_exhausted", "connection_error"
	}
	return op
}

// count counts the operations of session id, reading its parts as finalize does.
func (b *sessionBench) count(id string) (int, error) {
	n := 0
	h, err := (&session.Store{Dir: b.state}).Each(id, func(*record.Operation) error { n++; return nil })
	if err == nil && h == nil {
		err = fmt.Errorf("session %s is gone", id)
	}
	return n, err
}

// layout reports the files and bytes of session id.
func (b *sessionBench) layout(id string) (files int, onDisk int64, perOp float64, err error) {
	var size int64
	ops := 0
	err = filepath.Walk(filepath.Join(b.state, "retry_session_"+id+".d"), func(path string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		files++
		size += fi.Size()
		if n, ok := allocated(fi); ok {
			onDisk += n
		}
		if strings.HasSuffix(path, ".jsonl") {
			n, _ := countLines(path)
			ops += n
		}
		return nil
	})
	files += 2 // the head and its lock
	if ops > 0 {
		perOp = float64(size) / float64(ops)
	}
	return files, onDisk, perOp, err
}

func countLines(path string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 8<<20)
	for sc.Scan() {
		n++
	}
	return n, sc.Err()
}

var maxRSSRE = regexp.MustCompile(`Maximum resident set size \(kbytes\): (\d+)`)

// finalize runs action finalize of session id under GNU time and returns its wall time, its peak
// resident memory in MiB and its message.
func (b *sessionBench) finalize(id, timeBin string) (time.Duration, float64, string, error) {
	argv, err := b.moduleArgs(map[string]any{"action": "finalize", "session_id": id, "state_dir": b.state, "_ansible_check_mode": false})
	if err != nil {
		return 0, 0, "", err
	}
	cmd := exec.Command(timeBin, append([]string{"-v"}, argv...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	t0 := time.Now()
	err = cmd.Run()
	wall := time.Since(t0)
	var out struct {
		Failed bool   `json:"failed"`
		Msg    string `json:"msg"`
	}
	if jerr := json.Unmarshal(bytes.TrimSpace(stdout.Bytes()), &out); jerr != nil || out.Failed {
		return 0, 0, "", fmt.Errorf("finalize: %v %v %.500s %.500s", err, jerr, stdout.String(), stderr.String())
	}
	m := maxRSSRE.FindStringSubmatch(stderr.String())
	if m == nil {
		return 0, 0, "", fmt.Errorf("no maximum resident set size from %s: %.300s", timeBin, stderr.String())
	}
	kb, _ := strconv.ParseFloat(m[1], 64)
	return wall, kb / 1024, "`" + out.Msg + "`", nil
}

func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func secs(d time.Duration) string { return fmt.Sprintf("%.2f", d.Seconds()) }

func durSecs(ds []time.Duration) []float64 {
	out := make([]float64, len(ds))
	for i, d := range ds {
		out[i] = d.Seconds()
	}
	sort.Float64s(out)
	return out
}
