//go:build unix

package retrymod

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"resilience.ops/internal/modtest"
	"resilience.ops/internal/record"
	"resilience.ops/internal/session"
)

// TestConcurrentWritersKilled runs 50 module processes at once on 50 hosts of one session, each
// recording operations of three attempts (action record, one process an attempt), while a
// killer sends SIGKILL to processes at random moments, also in the middle of their write (each
// record carries a context of 1 MiB, so that a write spans many pages). Afterwards:
//   - every record a process reported is in the session, as it reported it;
//   - the session holds nothing else than what the processes were asked to record, each
//     operation whole (a killed writer left its record entirely or not at all: old or new);
//   - every line of every part is a record that decodes, or a torn fragment that no reader
//     counts (at most one per kill);
//   - finalize counts what the composed session holds, and the files are 0600 in 0700
//     directories, with no temporary file left.
func TestConcurrentWritersKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the module and runs hundreds of processes")
	}
	bin := buildModule(t)
	dir := filepath.Join(t.TempDir(), "state")
	const procs, rounds, id = 50, 2, "retry_1764000000_000077"
	blob := strings.Repeat("x", 1<<20)

	type reported struct {
		attempts int
		status   string
	}
	var (
		mu        sync.Mutex
		done      = map[string]reported{} // operation id -> the last attempt a process reported
		asked     = map[string]bool{}     // every operation id a process was asked to record (or started)
		kills     int
		errs      []string
		inflight  = map[int]*os.Process{}
		nextSlot  int
		stopKills = make(chan struct{})
	)
	run := func(args map[string]any) (map[string]any, bool) {
		b, _ := json.Marshal(args)
		cmd := modtest.ModuleCommand(t, bin, b)
		var out bytes.Buffer
		cmd.Stdout = &out
		if err := cmd.Start(); err != nil {
			t.Error(err)
			return nil, false
		}
		mu.Lock()
		slot := nextSlot
		nextSlot++
		inflight[slot] = cmd.Process
		mu.Unlock()
		err := cmd.Wait()
		mu.Lock()
		delete(inflight, slot)
		mu.Unlock()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return nil, false // killed
		}
		var res map[string]any
		if jerr := json.Unmarshal(out.Bytes(), &res); jerr != nil || res["failed"] == true {
			mu.Lock()
			errs = append(errs, fmt.Sprintf("%v %v: %.300s", err, jerr, out.String()))
			mu.Unlock()
			return nil, false
		}
		return res, true
	}
	// The killer: every few milliseconds, SIGKILL one process in flight, at random.
	var killer sync.WaitGroup
	killer.Add(1)
	go func() {
		defer killer.Done()
		rnd := rand.New(rand.NewPCG(77, 77))
		for {
			select {
			case <-stopKills:
				return
			case <-time.After(time.Duration(2+rnd.IntN(15)) * time.Millisecond):
			}
			mu.Lock()
			var victims []*os.Process
			for _, p := range inflight {
				victims = append(victims, p)
			}
			if len(victims) > 0 && rnd.IntN(3) == 0 {
				if victims[rnd.IntN(len(victims))].Signal(syscall.SIGKILL) == nil {
					kills++
				}
			}
			mu.Unlock()
		}
	}()
	var wg sync.WaitGroup
	for p := 0; p < procs; p++ {
		wg.Add(1)
		go func(p int) {
			defer wg.Done()
			host := fmt.Sprintf("host%02d", p)
			for r := 0; r < rounds; r++ {
				opID := fmt.Sprintf("op%02d_%d_%06d", p, r, p*10+r)
				mu.Lock()
				asked[opID] = true
				mu.Unlock()
				for n := 1; n <= 3; n++ {
					res, ok := run(map[string]any{"action": "record", "state_dir": dir, "session_id": id, "operation": "deploy",
						"operation_id": opID, "host": host, "attempt": n, "context": map[string]any{"blob": blob},
						"outcome":  map[string]any{"failed": n < 3, "msg": vcenter},
						"settings": map[string]any{"max_attempts": 5, "base_delay": 0.1}})
					if !ok {
						break // killed (or refused): this operation stops here, the next one starts
					}
					mu.Lock()
					done[opID] = reported{attempts: int(res["attempt_count"].(float64)), status: res["status"].(string)}
					mu.Unlock()
				}
			}
		}(p)
	}
	wg.Wait()
	close(stopKills)
	killer.Wait()
	if kills == 0 {
		t.Fatal("no process was killed: the test proved nothing")
	}
	for _, e := range errs {
		// A process that was not killed but whose attempt was refused because its previous
		// attempt was killed after writing (attempt n+1 expected): the only refusal allowed.
		if !strings.Contains(e, "has 2 attempts recorded, so the next one is 3") && !strings.Contains(e, "has 1 attempts recorded, so the next one is 2") &&
			!strings.Contains(e, "has 3 attempts recorded") && !strings.Contains(e, "already ended") {
			t.Errorf("a process failed: %s", e)
		}
	}

	sess, err := (&session.Store{Dir: dir}).Load(id)
	if err != nil || sess == nil {
		t.Fatalf("the session after the kills: %v", err)
	}
	got := map[string]record.Operation{}
	for _, op := range sess.Operations {
		if _, dup := got[op.OperationID]; dup {
			t.Errorf("%s twice in the session", op.OperationID)
		}
		got[op.OperationID] = op
		if !asked[op.OperationID] {
			t.Errorf("%s was never asked for", op.OperationID)
		}
		if op.AttemptCount != len(op.Attempts) || op.Context["blob"] != blob {
			t.Errorf("%s is not whole: %d attempts, %d listed, context of %d bytes", op.OperationID, op.AttemptCount, len(op.Attempts), len(fmt.Sprint(op.Context["blob"])))
		}
		for i, a := range op.Attempts {
			if a.AttemptNumber != i+1 {
				t.Errorf("%s: attempt %d numbered %d", op.OperationID, i+1, a.AttemptNumber)
			}
		}
	}
	for opID, r := range done {
		op, ok := got[opID]
		switch {
		case !ok:
			t.Errorf("%s: reported (%d attempts) but not in the session: a record was lost", opID, r.attempts)
		case op.AttemptCount != r.attempts && op.AttemptCount != r.attempts+1: // +1: the next attempt's process was killed after its write
			t.Errorf("%s: %d attempts in the session, %d reported", opID, op.AttemptCount, r.attempts)
		case op.AttemptCount == 3 && op.Status != record.Completed:
			t.Errorf("%s: 3 attempts but %s", opID, op.Status)
		}
	}

	// Every complete line is a record that decodes, or a torn fragment; no more fragments than kills.
	torn := 0
	segs, _ := filepath.Glob(filepath.Join(dir, "retry_session_"+id+".d", "*"))
	for _, p := range segs {
		fi, err := os.Lstat(p)
		if err != nil || fi.Mode().Perm() != 0o600 || !fi.Mode().IsRegular() {
			t.Errorf("%s: %v %v", p, fi.Mode(), err)
		}
		if !strings.HasSuffix(p, ".jsonl") {
			continue
		}
		f, _ := os.Open(p)
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		for sc.Scan() {
			var v map[string]any
			if json.Unmarshal(sc.Bytes(), &v) != nil {
				torn++
			}
		}
		f.Close()
	}
	if torn > kills {
		t.Errorf("%d lines that are not records, for %d kills", torn, kills)
	}
	fin := mustRun(t, deps{rnd: zero}, map[string]any{"action": "finalize", "state_dir": dir, "session_id": id})
	stats := fin["final_statistics"].(map[string]any)
	if n := stats["total_operations"].(float64) + stats["running_operations"].(float64); int(n) != len(sess.Operations) {
		t.Errorf("finalize counts %v operations, the session holds %d", n, len(sess.Operations))
	}
	for _, d := range []string{dir, filepath.Join(dir, "retry_session_"+id+".d")} {
		if fi, err := os.Stat(d); err != nil || fi.Mode().Perm() != 0o700 {
			t.Errorf("%s: %v %v", d, fi.Mode(), err)
		}
	}
	if tmp, _ := filepath.Glob(filepath.Join(dir, ".*.tmp*")); len(tmp) != 0 {
		t.Errorf("temporary files left: %v", tmp) // finalize rewrote the head: a killed writer's is gone
	}
	t.Logf("%d operations asked for, %d reported, %d in the session, %d kills, %d torn lines skipped", len(asked), len(done), len(got), kills, torn)
}
