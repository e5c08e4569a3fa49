package resilience

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"resilience.ops/internal/etcdstore"
	"resilience.ops/internal/etcdtest"
	"resilience.ops/internal/retry"
	"resilience.ops/internal/state"
)

// The multi-process tests re-run the test binary as a helper process: TestMain sees helperEnv
// and runs one helper instead of the tests. Each helper is a separate short-lived process, as an
// Ansible fork running the module is.
const helperEnv = "RESILIENCE_TEST_HELPER"

func TestMain(m *testing.M) {
	if args := os.Getenv(helperEnv); args != "" {
		os.Exit(runHelper(args))
	}
	code := m.Run()
	etcdtest.StopShared()
	os.Exit(code)
}

// helperArgs tell a helper process what to do.
type helperArgs struct {
	Mode     string   // bulkhead, burst, count, chaos, hold, bench
	Settings Settings // Dir included
	Key      string
	N        int           // iterations (count, bench)
	Hold     time.Duration // how long an admitted call runs (bulkhead)
	Counter  string        // the in-flight counter file (bulkhead)
	Barrier  bool          // wait for a line on stdin before starting
	Durable  bool          // use state.FileStore (fsync) instead of the default store
	// Etcd, when set, keeps the state and the slots in etcd at these endpoints, under
	// EtcdPrefix, with slot leases of SlotTTL.
	Etcd       []string
	EtcdPrefix string
	SlotTTL    time.Duration
}

func runHelper(raw string) int {
	var a helperArgs
	if err := json.Unmarshal([]byte(raw), &a); err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		return 2
	}
	var opts []Option
	if a.Durable {
		opts = append(opts, WithStore(state.FileStore{}))
	}
	if len(a.Etcd) > 0 {
		st, err := etcdstore.New(etcdstore.Config{Endpoints: a.Etcd, Prefix: a.EtcdPrefix, SlotTTL: a.SlotTTL})
		if err != nil {
			fmt.Fprintln(os.Stderr, "helper:", err)
			return 2
		}
		opts = append(opts, WithStore(st), WithSlots(st))
	}
	g, err := New(a.Settings, opts...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		return 2
	}
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	say := func(format string, args ...any) {
		fmt.Fprintf(out, format+"\n", args...)
		out.Flush()
	}
	if a.Barrier {
		say("ready")
		if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
			return 2
		}
	}
	ctx := context.Background()
	switch a.Mode {
	case "bulkhead":
		adm, err := g.Before(ctx, a.Key)
		if err != nil {
			fmt.Fprintln(os.Stderr, "helper:", err)
			return 1
		}
		if !adm.Admitted {
			say("%s", adm.ErrorType)
			return 0
		}
		if err := countInFlight(a.Counter, +1); err != nil {
			fmt.Fprintln(os.Stderr, "helper:", err)
			return 1
		}
		time.Sleep(a.Hold)
		if err := countInFlight(a.Counter, -1); err != nil {
			fmt.Fprintln(os.Stderr, "helper:", err)
			return 1
		}
		g.AfterAttempt(adm, "", false)
		say("admitted")
	case "burst":
		adm, err := g.Before(ctx, a.Key)
		if err != nil {
			return 1
		}
		if !adm.Admitted {
			say("%s", adm.ErrorType)
			return 0
		}
		g.AfterAttempt(adm, retry.ConnectionError, true)
		say("admitted")
	case "count":
		for range a.N {
			adm, err := g.Before(ctx, a.Key)
			if err != nil || !adm.Admitted {
				fmt.Fprintf(os.Stderr, "helper: not admitted: %v %v\n", err, adm.Err())
				return 1
			}
			if r := g.AfterAttempt(adm, "", false); !r.Recorded {
				fmt.Fprintf(os.Stderr, "helper: not recorded: %v\n", r.Warnings)
				return 1
			}
			if d, _ := g.AllowRetry(a.Key); !d.Allowed || len(d.Warnings) > 0 {
				fmt.Fprintf(os.Stderr, "helper: retry refused: %+v\n", d)
				return 1
			}
		}
		say("done")
	case "chaos":
		types := []retry.ErrorType{"", "", retry.ConnectionError, retry.Timeout, retry.AuthenticationError}
		for i := 0; ; i++ {
			adm, err := g.Before(ctx, a.Key)
			if err != nil {
				return 1
			}
			if adm.Admitted {
				time.Sleep(time.Duration(rand.IntN(2000)) * time.Microsecond)
				typ := types[rand.IntN(len(types))]
				g.AfterAttempt(adm, typ, retry.DefaultPolicy().ShouldRetry(typ))
				g.AllowRetry(a.Key)
			}
			g.Adapt(a.Key, retry.DefaultPolicy())
			if i == 0 {
				say("looping")
			}
		}
	case "hold":
		adm, err := g.Before(ctx, a.Key)
		if err != nil || !adm.Admitted {
			return 1
		}
		say("held %d", *adm.Bulkhead.Slot)
		select {}
	case "bench":
		start := time.Now()
		for range a.N {
			if r, _ := g.Record(a.Key, "", false); !r.Recorded {
				return 1
			}
		}
		say("%d", time.Since(start).Nanoseconds())
	default:
		return 2
	}
	return 0
}

// inFlight is the helpers' shared count of admitted calls running.
type inFlight struct{ Cur, Max, Total int }

func countInFlight(path string, delta int) error {
	return state.FileStore{}.Update(path, func(cur []byte) ([]byte, error) {
		var c inFlight
		if cur != nil {
			if err := json.Unmarshal(cur, &c); err != nil {
				return nil, err
			}
		}
		c.Cur += delta
		c.Max = max(c.Max, c.Cur)
		if delta > 0 {
			c.Total++
		}
		return json.Marshal(c)
	})
}

// helper is a running helper process.
type helper struct {
	cmd    *exec.Cmd
	stdin  *os.File
	lines  chan string
	stderr bytes.Buffer
}

func startHelper(t testing.TB, a helperArgs) *helper {
	t.Helper()
	raw, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	h := &helper{cmd: exec.Command(os.Args[0], "-test.run=^$"), lines: make(chan string, 16)}
	h.cmd.Env = append(os.Environ(), helperEnv+"="+string(raw))
	h.cmd.Stderr = &h.stderr
	stdout, err := h.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	h.cmd.Stdin = r
	h.stdin = w
	if err := h.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r.Close()
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			h.lines <- sc.Text()
		}
		close(h.lines)
	}()
	t.Cleanup(func() {
		h.stdin.Close()
		if h.cmd.ProcessState == nil {
			h.cmd.Process.Kill()
			h.cmd.Wait()
		}
	})
	return h
}

// line waits for the helper's next line of output.
func (h *helper) line(t testing.TB) string {
	t.Helper()
	select {
	case l, ok := <-h.lines:
		if !ok {
			t.Fatalf("helper exited early: %v\n%s", h.cmd.Wait(), h.stderr.String())
		}
		return l
	case <-time.After(2 * time.Minute):
		t.Fatal("helper did not answer")
	}
	return ""
}

// runHelpers starts n helpers with a barrier, waits until all are ready, releases them together
// and returns their last lines and how long they took after the release.
func runHelpers(t testing.TB, n int, a helperArgs) ([]string, time.Duration) {
	t.Helper()
	return releaseHelpers(t, startHelpers(t, n, a))
}

// startHelpers starts n helpers with a barrier and waits until all are ready.
func startHelpers(t testing.TB, n int, a helperArgs) []*helper {
	t.Helper()
	a.Barrier = true
	hs := make([]*helper, n)
	for i := range hs {
		hs[i] = startHelper(t, a)
	}
	for _, h := range hs {
		if l := h.line(t); l != "ready" {
			t.Fatalf("helper said %q, want ready", l)
		}
	}
	return hs
}

// releaseHelpers lets helpers started by startHelpers go and waits for them to exit.
func releaseHelpers(t testing.TB, hs []*helper) ([]string, time.Duration) {
	t.Helper()
	start := time.Now()
	for _, h := range hs {
		h.stdin.Write([]byte("go\n"))
	}
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = h.line(t)
		if err := h.cmd.Wait(); err != nil {
			t.Fatalf("helper %d: %v\n%s", i, err, h.stderr.String())
		}
	}
	return out, time.Since(start)
}

func skipProcesses(t testing.TB) {
	if testing.Short() {
		t.Skip("starts 50 processes")
	}
	if runtime.GOOS == "windows" || runtime.GOOS == "js" || runtime.GOOS == "wasip1" {
		t.Skip("multi-process tests run on Unix")
	}
}

const processes = 50

func tally(lines []string) map[string]int {
	m := map[string]int{}
	for _, l := range lines {
		m[l]++
	}
	return m
}

func TestProcessesBulkheadNeverExceedsMax(t *testing.T) {
	skipProcesses(t)
	t.Parallel()
	for _, tt := range []struct {
		name    string
		maxWait time.Duration
		hold    time.Duration
	}{
		{name: "everyone waits its turn", maxWait: time.Minute, hold: 20 * time.Millisecond},
		{name: "short max_wait", maxWait: 10 * time.Millisecond, hold: 300 * time.Millisecond},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			s := DefaultSettings()
			s.Dir = dir
			s.Bulkhead = BulkheadSettings{Enabled: true, MaxConcurrent: 5, MaxWait: tt.maxWait}
			counter := filepath.Join(dir, "inflight")
			lines, took := runHelpers(t, processes, helperArgs{Mode: "bulkhead", Settings: s, Key: key, Hold: tt.hold, Counter: counter})
			got := tally(lines)
			data, err := os.ReadFile(counter)
			if err != nil {
				t.Fatal(err)
			}
			var c inFlight
			if err := json.Unmarshal(data, &c); err != nil {
				t.Fatal(err)
			}
			t.Logf("%v in %s; in flight at most %d", got, took.Round(time.Millisecond), c.Max)
			if c.Max > 5 || c.Max < 2 || c.Cur != 0 || c.Total != got["admitted"] || got["admitted"]+got[string(retry.BulkheadFull)] != processes {
				t.Fatalf("max_concurrent 5: %+v, outcomes %v", c, got)
			}
			if tt.maxWait == time.Minute && got["admitted"] != processes {
				t.Errorf("with a long max_wait every process should get a slot: %v", got)
			}
			if tt.maxWait < tt.hold && got[string(retry.BulkheadFull)] == 0 {
				t.Errorf("with max_wait below the hold time some processes should be refused: %v", got)
			}
		})
	}
}

func TestProcessesBurstOpensOnce(t *testing.T) {
	skipProcesses(t)
	t.Parallel()
	s := DefaultSettings()
	s.Dir = t.TempDir()
	s.CircuitBreaker.Enabled = true
	s.CircuitBreaker.FailureThreshold = 5
	s.CircuitBreaker.OpenDuration = time.Hour
	lines, took := runHelpers(t, processes, helperArgs{Mode: "burst", Settings: s, Key: key})
	got := tally(lines)
	g, _ := New(s)
	doc := readDoc(t, g, key)
	t.Logf("%v in %s; breaker %s", got, took.Round(time.Millisecond), toJSON(doc.Breaker))
	if doc.Breaker.State != Open || doc.Breaker.Opens != 1 || len(doc.Breaker.Transitions) != 1 || doc.Breaker.Generation != 1 {
		t.Fatalf("a burst of failures opened the breaker %d times:\n%s", doc.Breaker.Opens, toJSON(doc.Breaker))
	}
	if got["admitted"] < 5 || got["admitted"]+got[string(retry.CircuitOpen)] != processes {
		t.Errorf("outcomes %v", got)
	}
}

func TestProcessesNoLostUpdates(t *testing.T) {
	skipProcesses(t)
	t.Parallel()
	s := enabled(t.TempDir())
	s.Bulkhead.MaxConcurrent = 8
	s.RetryBudget = RetryBudgetSettings{Enabled: true, Ratio: 0, MinRetries: MaxMinRetries, Window: MaxWindow}
	s.Adaptive.Window = MaxWindow
	s.CircuitBreaker.Window = MaxWindow
	const n = 20
	lines, took := runHelpers(t, processes, helperArgs{Mode: "count", Settings: s, Key: key, N: n})
	if got := tally(lines); got["done"] != processes {
		t.Fatalf("outcomes %v", got)
	}
	g, _ := New(s)
	doc := readDoc(t, g, key)
	now := time.Now()
	budget := doc.Budget.sum(now, MaxWindow)
	history := doc.History.sum(now, MaxWindow)
	window := doc.Breaker.Window.sum(now, MaxWindow)
	const want = processes * n
	t.Logf("%d processes x %d operations (Before, AfterAttempt, AllowRetry) in %s", processes, n, took.Round(time.Millisecond))
	if budget.Calls != want || budget.Retries != want || history.Successes != want || window.Successes != want {
		t.Fatalf("lost updates: calls %d, retries %d, successes %d, breaker window %d; want %d each",
			budget.Calls, budget.Retries, history.Successes, window.Successes, want)
	}
}

// Processes killed with SIGKILL at random points (holding a slot, a trial, the state lock, or in
// the middle of writing) leave usable state behind.
func TestProcessesKilled(t *testing.T) {
	skipProcesses(t)
	t.Parallel()
	s := enabled(t.TempDir())
	s.CircuitBreaker.FailureThreshold = 3
	s.CircuitBreaker.OpenDuration = 20 * time.Millisecond
	s.CircuitBreaker.HalfOpenMaxCalls = 2
	s.Bulkhead = BulkheadSettings{Enabled: true, MaxConcurrent: 3, MaxWait: 5 * time.Millisecond}
	s.RetryBudget.MinRetries = 5

	t.Run("holding a slot", func(t *testing.T) {
		hold := s
		hold.Bulkhead.MaxConcurrent = 1
		h := startHelper(t, helperArgs{Mode: "hold", Settings: hold, Key: "held"})
		if l := h.line(t); l != "held 0" {
			t.Fatalf("helper said %q", l)
		}
		g, _ := New(hold)
		if adm := before(t, g, "held"); adm.Admitted {
			t.Fatal("the slot held by a live process was given out")
		}
		h.cmd.Process.Kill()
		h.cmd.Wait()
		adm := before(t, g, "held")
		defer adm.Release()
		if !adm.Admitted || !adm.Bulkhead.Acquired {
			t.Fatalf("the slot of a killed process leaked: %s", toJSON(adm))
		}
	})

	t.Run("at random points", func(t *testing.T) {
		hs := make([]*helper, processes)
		for i := range hs {
			hs[i] = startHelper(t, helperArgs{Mode: "chaos", Settings: s, Key: key})
		}
		for _, h := range hs {
			if l := h.line(t); l != "looping" {
				t.Fatalf("helper said %q", l)
			}
		}
		var wg sync.WaitGroup
		for _, h := range hs {
			wg.Go(func() {
				time.Sleep(time.Duration(rand.IntN(300)) * time.Millisecond)
				h.cmd.Process.Kill()
				h.cmd.Wait()
			})
		}
		wg.Wait()

		g, _ := New(s)
		doc := readDoc(t, g, key) // decodes without a problem
		snap, _ := g.Inspect(key)
		if len(snap.Warnings) != 0 {
			t.Errorf("Inspect: %v", snap.Warnings)
		}
		if doc.Breaker.Generation < uint64(len(doc.Breaker.Transitions)) {
			t.Errorf("inconsistent breaker: %s", toJSON(doc.Breaker))
		}
		// Every bulkhead slot and every trial slot is free again.
		slotsOnly := s
		slotsOnly.CircuitBreaker.Enabled = false
		bh, _ := New(slotsOnly)
		var adms []*Admission
		for range s.Bulkhead.MaxConcurrent {
			adm := before(t, bh, key)
			if !adm.Bulkhead.Acquired {
				t.Fatalf("a bulkhead slot leaked: %s", toJSON(adm))
			}
			adms = append(adms, adm)
		}
		for _, adm := range adms {
			adm.Release()
		}
		p := newPaths(g.Dir(), key)
		if free, err := probeSlots(s.CircuitBreaker.HalfOpenMaxCalls, p.trial); err != nil || free != s.CircuitBreaker.HalfOpenMaxCalls {
			t.Fatalf("a trial slot leaked: %d of %d free, %v", free, s.CircuitBreaker.HalfOpenMaxCalls, err)
		}
		// And a fresh process works on it (once an open breaker lets a trial through).
		time.Sleep(s.CircuitBreaker.OpenDuration)
		lines, _ := runHelpers(t, 1, helperArgs{Mode: "count", Settings: withBigBudget(s), Key: key, N: 3})
		if lines[0] != "done" {
			t.Errorf("a fresh process: %q", lines[0])
		}
		entries, _ := os.ReadDir(g.Dir())
		var tmp []string
		for _, e := range entries {
			if strings.Contains(e.Name(), ".tmp-") {
				tmp = append(tmp, e.Name())
			}
		}
		t.Logf("breaker %s after %d opens, generation %d; %d temporary files left by killed writers",
			doc.Breaker.State, doc.Breaker.Opens, doc.Breaker.Generation, len(tmp))
	})
}

// withBigBudget keeps the breaker closed and the budget open, for a process that must succeed.
func withBigBudget(s Settings) Settings {
	s.CircuitBreaker.FailureThreshold = MaxFailureThreshold
	s.RetryBudget.MinRetries = MaxMinRetries
	s.Bulkhead.MaxWait = 10 * time.Second
	return s
}
