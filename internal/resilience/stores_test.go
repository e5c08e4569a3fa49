package resilience

import (
	"crypto/rand"
	"encoding/hex"
	"testing"
	"time"

	"resilience.ops/internal/etcdstore"
	"resilience.ops/internal/etcdtest"
)

// backend is where the tests keep the state: local files (the default) or etcd.
type backend struct {
	name string
	opts func(t testing.TB) []Option
}

// backends are every store: the breaker, bulkhead, budget and adaptive tests behave the same on
// each.
var backends = []backend{
	{name: "file", opts: func(testing.TB) []Option { return nil }},
	{name: "etcd", opts: func(t testing.TB) []Option {
		st := newEtcdStore(t, etcdtest.Shared(t).Endpoints(), etcdstore.DefaultSlotTTL)
		return []Option{WithStore(st), WithSlots(st)}
	}},
}

// eachStore runs fn once per backend, as a subtest named after it.
func eachStore(t *testing.T, fn func(t *testing.T, b backend)) {
	t.Parallel()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { fn(t, b) })
	}
}

// newTest is the package's newTest on the backend's store.
func (b backend) newTest(t testing.TB, s Settings, opts ...Option) (*Guardrails, *fakeClock) {
	t.Helper()
	return newTest(t, s, append(b.opts(t), opts...)...)
}

// newEtcdStore returns a store on endpoints under a prefix of the test's own.
func newEtcdStore(t testing.TB, endpoints []string, slotTTL time.Duration) *etcdstore.Store {
	t.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	s, err := etcdstore.New(etcdstore.Config{Endpoints: endpoints, Prefix: "/test/" + hex.EncodeToString(b[:]) + "/", SlotTTL: slotTTL})
	if err != nil {
		t.Fatal(err)
	}
	return s
}
