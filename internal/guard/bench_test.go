package guard

import (
	"path/filepath"
	"testing"

	"resilience.ops/internal/etcdtest"
	"resilience.ops/internal/state"
)

// benchStores are the stores compared: a local file and a 3-member etcd cluster on loopback.
func benchStores(b *testing.B) []struct {
	name string
	new  func(b *testing.B) state.Store
} {
	return []struct {
		name string
		new  func(b *testing.B) state.Store
	}{
		{"store=file", func(*testing.B) state.Store { return state.FileStore{} }},
		{"store=etcd", func(b *testing.B) state.Store { return newEtcdStore(b, etcdtest.Shared(b).Endpoints()) }},
	}
}

// BenchmarkGuardLockUnlock is one lock and one unlock (each with its audit line): what a
// rollback and a release cost. A report, never a test.
func BenchmarkGuardLockUnlock(b *testing.B) {
	for _, st := range benchStores(b) {
		b.Run(st.name, func(b *testing.B) {
			g := &Guard{Path: filepath.Join(b.TempDir(), "qos.guard"), Store: st.new(b), Actor: "bench"}
			for b.Loop() {
				res, err := g.Lock(LockRequest{Minutes: 15, Owner: "bench"}, false)
				if err != nil || !res.Changed {
					b.Fatalf("lock: %+v, %v", res, err)
				}
				if res, err := g.Unlock(UnlockRequest{LockID: res.After.LockID}, false); err != nil || !res.Changed {
					b.Fatalf("unlock: %+v, %v", res, err)
				}
			}
		})
	}
}

// BenchmarkGuardStatus is the pre-deployment check on a locked guard.
func BenchmarkGuardStatus(b *testing.B) {
	for _, st := range benchStores(b) {
		b.Run(st.name, func(b *testing.B) {
			g := &Guard{Path: filepath.Join(b.TempDir(), "qos.guard"), Store: st.new(b), Actor: "bench"}
			if _, err := g.Lock(LockRequest{Minutes: 15, Owner: "bench"}, false); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if res, err := g.Status(false); err != nil || !res.After.Locked {
					b.Fatalf("status: %+v, %v", res, err)
				}
			}
		})
	}
}
