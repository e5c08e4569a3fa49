package resilience

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"resilience.ops/internal/etcdstore"
	"resilience.ops/internal/etcdtest"
	"resilience.ops/internal/retry"
)

// A bulkhead of 2 on etcd across 12 processes never admits a third, and the slot of a holder
// that is killed is free again within its lease.
func TestProcessesEtcdBulkhead(t *testing.T) {
	skipProcesses(t)
	t.Parallel()
	const ttl = etcdstore.MinTTL
	cluster := etcdtest.Shared(t)
	st := newEtcdStore(t, cluster.Endpoints(), ttl)
	onEtcd := helperArgs{Etcd: cluster.Endpoints(), EtcdPrefix: st.Prefix(), SlotTTL: ttl}
	s := DefaultSettings()
	s.Dir = t.TempDir()
	s.Bulkhead = BulkheadSettings{Enabled: true, MaxConcurrent: 2, MaxWait: time.Minute}

	t.Run("12 processes", func(t *testing.T) {
		a := onEtcd
		a.Mode, a.Settings, a.Key, a.Hold = "bulkhead", s, key, 100*time.Millisecond
		a.Counter = filepath.Join(t.TempDir(), "inflight")
		lines, took := runHelpers(t, 12, a)
		data, err := os.ReadFile(a.Counter)
		if err != nil {
			t.Fatal(err)
		}
		var c inFlight
		if err := json.Unmarshal(data, &c); err != nil {
			t.Fatal(err)
		}
		t.Logf("%v in %s; in flight at most %d", tally(lines), took.Round(time.Millisecond), c.Max)
		if c.Max != 2 || c.Cur != 0 || c.Total != 12 || tally(lines)["admitted"] != 12 {
			t.Fatalf("max_concurrent 2 over 12 processes: %+v, outcomes %v", c, tally(lines))
		}
	})

	t.Run("a killed holder's slot", func(t *testing.T) {
		a := onEtcd
		a.Mode, a.Settings, a.Key = "hold", s, "held"
		h1, h2 := startHelper(t, a), startHelper(t, a)
		l1, l2 := h1.line(t), h2.line(t)
		if !strings.HasPrefix(l1, "held ") || !strings.HasPrefix(l2, "held ") || l1 == l2 {
			t.Fatalf("holders said %q and %q", l1, l2)
		}
		noWait := s
		noWait.Bulkhead.MaxWait = 0
		g, err := New(noWait, WithStore(st), WithSlots(st))
		if err != nil {
			t.Fatal(err)
		}
		// The holders keep their leases alive past the lease time: past the end of a lease as
		// long, granted after theirs, on etcd's own clock (no sleep).
		sentinel := "sentinel/" + key
		if err := st.UpdateWithTTL(sentinel, func([]byte) ([]byte, time.Duration, error) { return []byte("s"), ttl, nil }); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(50 * time.Millisecond) {
			if b, err := st.Load(sentinel); err != nil || b == nil {
				break
			}
			if time.Now().After(deadline) { // a safety net against a hang, not a measurement
				t.Fatal("etcd never expired a lease")
			}
		}
		if adm := before(t, g, "held"); adm.Admitted || adm.ErrorType != retry.BulkheadFull {
			t.Fatalf("a third call was admitted while two processes hold the slots: %s", toJSON(adm))
		}
		killed := time.Now()
		h1.cmd.Process.Kill()
		h1.cmd.Wait()
		for {
			adm := before(t, g, "held")
			if adm.Admitted {
				adm.Release()
				break
			}
			if time.Since(killed) > 2*time.Minute { // a safety net: etcd expires the lease when it can
				t.Fatalf("the killed holder's slot is not free %s after the kill (lease %s)", time.Since(killed).Round(time.Millisecond), ttl)
			}
			time.Sleep(50 * time.Millisecond)
		}
		took := time.Since(killed)
		t.Logf("the killed holder's slot was free %s after the kill (lease %s)", took.Round(time.Millisecond), ttl)
		if took < ttl/3 {
			t.Errorf("the slot was free after %s: sooner than any lease of %s renewed every %s", took, ttl, ttl/3)
		}
		// The live holder still holds its slot.
		if free, err := st.Slots(newPaths(g.Dir(), "held").slots(), 2).Free(); err != nil || free != 1 {
			t.Errorf("free slots = %d, %v; want 1 (the live holder's is held)", free, err)
		}
	})
}
