package guard

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"resilience.ops/internal/etcdstore"
	"resilience.ops/internal/etcdtest"
	"resilience.ops/internal/state"
)

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) != "" {
		os.Exit(runHelper())
	}
	code := m.Run()
	etcdtest.StopShared()
	os.Exit(code)
}

// backend is a store the guard's tests run against.
type backend struct {
	name string
	file bool
	new  func(t *testing.T) state.Store // a store of the test's own
}

// backends are every store: the tests behave the same on each.
var backends = []backend{
	{name: "file", file: true, new: func(*testing.T) state.Store { return state.FileStore{} }},
	{name: "etcd", new: func(t *testing.T) state.Store { return newEtcdStore(t, etcdtest.Shared(t).Endpoints()) }},
}

// eachStore runs fn once per backend, as a subtest named after it.
func eachStore(t *testing.T, fn func(t *testing.T, b backend)) {
	t.Parallel()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { fn(t, b) })
	}
}

// newEtcdStore returns a store on endpoints under a prefix of the test's own.
func newEtcdStore(t testing.TB, endpoints []string) *etcdstore.Store {
	t.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	s, err := etcdstore.New(etcdstore.Config{Endpoints: endpoints, Prefix: "/test/" + hex.EncodeToString(b[:]) + "/"})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// ttlRecorder is a FileStore that records the time to live the guard asks for.
type ttlRecorder struct {
	state.FileStore
	mu   sync.Mutex
	ttls []time.Duration
}

func (s *ttlRecorder) UpdateWithTTL(key string, fn func([]byte) ([]byte, time.Duration, error)) error {
	return s.FileStore.Update(key, func(cur []byte) ([]byte, error) {
		next, ttl, err := fn(cur)
		if err == nil {
			s.mu.Lock()
			s.ttls = append(s.ttls, ttl)
			s.mu.Unlock()
		}
		return next, err
	})
}

// A store that expires keys gets each lock with the time left until its expiry, plus
// LeaseMargin: never less, so the store never lifts a guard early.
func TestLockTTLFollowsExpiry(t *testing.T) {
	t.Parallel()
	rec := &ttlRecorder{}
	f := newFixture(t, backends[0])
	f.g.Store = rec
	f.lock(t, LockRequest{Minutes: 15})
	f.clock.Advance(5 * time.Minute)
	f.lock(t, LockRequest{Minutes: 30, Extend: true}) // expires 35 minutes after t0
	f.lock(t, LockRequest{Minutes: 1})                // unchanged: no write
	want := []time.Duration{15*time.Minute + LeaseMargin, 30*time.Minute + LeaseMargin}
	if diff := cmp.Diff(want, rec.ttls); diff != "" {
		t.Errorf("ttls (-want +got):\n%s", diff)
	}
}
