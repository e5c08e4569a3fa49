package qosguard

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"resilience.ops/internal/guard"
	"resilience.ops/internal/modtest"
)

// TestConcurrentProcesses runs 50 processes that lock, check and unlock one guard at once. The
// guard file must always be valid and the audit trail must hold exactly the changes that the
// processes reported.
func TestConcurrentProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs 150 processes")
	}
	bin := modtest.BuildBinary(t, "resilience.ops/internal/cmd/qos_guard")
	dir := t.TempDir()
	path := filepath.Join(dir, "state", "guard")
	const procs = 50
	type outcome struct {
		Changed bool   `json:"changed"`
		Failed  bool   `json:"failed"`
		Msg     string `json:"msg"`
	}
	var (
		mu      sync.Mutex
		changes int
		wg      sync.WaitGroup
		errs    []string
	)
	invoke := func(i int, name string, args map[string]any) {
		b, _ := json.Marshal(args)
		out, err := modtest.ModuleCommand(t, bin, b).Output()
		var o outcome
		if jerr := json.Unmarshal(out, &o); jerr != nil {
			mu.Lock()
			errs = append(errs, fmt.Sprintf("proc %d %s: %v: not one JSON object: %q", i, name, err, out))
			mu.Unlock()
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if o.Failed {
			errs = append(errs, fmt.Sprintf("proc %d %s failed: %s", i, name, o.Msg))
		}
		if o.Changed {
			changes++
		}
	}
	for i := 0; i < procs; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			invoke(i, "lock", map[string]any{"path": path, "state": "locked", "minutes": 1 + i%30, "force": true,
				"reason": fmt.Sprintf("proc %d", i)})
			invoke(i, "status", map[string]any{"path": path})
			if i%2 == 0 {
				invoke(i, "unlock", map[string]any{"path": path, "state": "unlocked"})
			}
		}(i)
	}
	wg.Wait()
	for _, e := range errs {
		t.Error(e)
	}
	g := guard.New(path)
	if _, err := g.Status(true); err != nil {
		t.Fatalf("final guard state unreadable: %v", err)
	}
	events, err := g.ReadAudit()
	if err != nil {
		t.Fatalf("audit trail: %v", err)
	}
	if len(events) != changes {
		t.Errorf("audit trail has %d events, processes reported %d changes", len(events), changes)
	}
	if changes < procs { // every forced lock is a change
		t.Errorf("only %d changes from %d processes: the test did not exercise contention", changes, procs)
	}
	leftovers, _ := filepath.Glob(filepath.Join(dir, "state", ".guard.tmp-*"))
	if len(leftovers) > 0 {
		t.Errorf("temporary files left behind: %v", leftovers)
	}
}
