package etcdstore

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"resilience.ops/internal/etcdtest"
	"resilience.ops/internal/modtest"
	"resilience.ops/internal/state"
)

func TestMain(m *testing.M) {
	code := m.Run()
	etcdtest.StopShared()
	os.Exit(code)
}

// newStore returns a store on the shared cluster under a prefix of the test's own.
func newStore(t testing.TB, mod ...func(*Config)) *Store {
	t.Helper()
	c := etcdtest.Shared(t)
	cfg := Config{Endpoints: c.Endpoints(), Prefix: "/test/" + randHex() + "/", SlotTTL: MinTTL}
	for _, f := range mod {
		f(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func randHex() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func set(t *testing.T, s state.Store, key, value string) {
	t.Helper()
	if err := s.Update(key, func([]byte) ([]byte, error) { return []byte(value), nil }); err != nil {
		t.Fatal(err)
	}
}

func load(t *testing.T, s state.Store, key string) []byte {
	t.Helper()
	b, err := s.Load(key)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// gone waits until etcd has deleted key (its lease ran out), with a safety deadline against a hang.
func gone(t *testing.T, s *Store, key string) {
	t.Helper()
	deadline := time.Now().Add(modtest.HangDeadline)
	for load(t, s, key) != nil {
		if time.Now().After(deadline) {
			t.Fatalf("%s outlived its lease", key)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// leaseRunsOut grants a lease of ttl to a key of its own and waits until etcd deletes it: at least
// ttl has then passed on etcd's clock since the call, and every lease granted before with no more
// time has run out too. It replaces a sleep: etcd decides, however loaded the machine.
func leaseRunsOut(t *testing.T, s *Store, ttl time.Duration) {
	t.Helper()
	key := "/sentinel/" + randHex()
	if err := s.UpdateWithTTL(key, func([]byte) ([]byte, time.Duration, error) { return []byte("s"), ttl, nil }); err != nil {
		t.Fatal(err)
	}
	gone(t, s, key)
}

func TestLoadUpdateDelete(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	if got := load(t, s, "/run/g"); got != nil {
		t.Fatalf("missing key = %q, want nil", got)
	}
	set(t, s, "/run/g", "one")
	var seen []byte
	err := s.Update("/run/g", func(cur []byte) ([]byte, error) { seen = cur; return []byte("two"), nil })
	if err != nil || string(seen) != "one" || string(load(t, s, "/run/g")) != "two" {
		t.Fatalf("update saw %q, stored %q, err %v", seen, load(t, s, "/run/g"), err)
	}
	// ErrUnchanged keeps the document; an error is returned as it is.
	if err := s.Update("/run/g", func([]byte) ([]byte, error) { return nil, state.ErrUnchanged }); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	if err := s.Update("/run/g", func([]byte) ([]byte, error) { return nil, boom }); !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
	if got := string(load(t, s, "/run/g")); got != "two" {
		t.Fatalf("after refused updates = %q", got)
	}
	// An empty document exists and is not nil (a truncated guard file is corrupt, not absent).
	set(t, s, "/run/g", "")
	if got := load(t, s, "/run/g"); got == nil || len(got) != 0 {
		t.Fatalf("empty document = %#v, want empty and non-nil", got)
	}
	if err := s.Update("/run/g", func(cur []byte) ([]byte, error) {
		if cur == nil {
			t.Error("fn got nil for an empty document")
		}
		return nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	if got := load(t, s, "/run/g"); got != nil {
		t.Fatalf("deleted key = %q", got)
	}
}

func TestAppendAndLoadLog(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	for i := range 5 {
		if err := s.Append("/run/g.audit.jsonl", fmt.Appendf(nil, `{"n":%d}`+"\n", i)); err != nil {
			t.Fatal(err)
		}
	}
	want := "{\"n\":0}\n{\"n\":1}\n{\"n\":2}\n{\"n\":3}\n{\"n\":4}\n"
	if got := string(load(t, s, "/run/g.audit.jsonl")); got != want {
		t.Fatalf("log = %q, want %q", got, want)
	}
	// A log and a document of another name do not mix.
	if got := load(t, s, "/run/g"); got != nil {
		t.Fatalf("document beside the log = %q", got)
	}
}

func TestConcurrentUpdatesLoseNothing(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	const workers, each = 8, 10
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				err := s.Update("counter", func(cur []byte) ([]byte, error) {
					n := 0
					fmt.Sscan(string(cur), &n)
					return fmt.Append(nil, n+1), nil
				})
				if err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	if got, want := string(load(t, s, "counter")), fmt.Sprint(workers*each); got != want {
		t.Fatalf("counter = %s, want %s", got, want)
	}
}

func TestUpdateWithTTLExpires(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	err := s.UpdateWithTTL("lease", func([]byte) ([]byte, time.Duration, error) { return []byte("x"), time.Second, nil })
	if err != nil {
		t.Fatal(err)
	}
	if load(t, s, "lease") == nil {
		t.Fatal("the document is not there right after the write")
	}
	gone(t, s, "lease")
	// A later write without a TTL stays: after a lease as long as the first, granted after it, has
	// run out on etcd's own clock, the document is still there.
	set(t, s, "lease", "y")
	leaseRunsOut(t, s, time.Second)
	if string(load(t, s, "lease")) != "y" {
		t.Fatal("a document without TTL expired")
	}
}

func TestPrefixesKeepTeamsApart(t *testing.T) {
	t.Parallel()
	a, b := newStore(t), newStore(t)
	set(t, a, "/run/g", "team a")
	if got := load(t, b, "/run/g"); got != nil {
		t.Fatalf("team b sees %q", got)
	}
	if !strings.HasPrefix(a.Prefix(), "/test/") || a.Prefix() == b.Prefix() {
		t.Fatalf("prefixes %q %q", a.Prefix(), b.Prefix())
	}
}

func TestSlots(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	set1, set2 := s.Slots("/tmp/x/svc.slot", 2), s.Slots("/tmp/x/svc.slot", 2)
	defer set1.Close()
	defer set2.Close()
	i, h1, err := set1.Try(1)
	if err != nil || h1 == nil || i != 1 {
		t.Fatalf("first take = %d, %v, %v", i, h1, err)
	}
	j, h2, err := set2.Try(1)
	if err != nil || h2 == nil || j != 0 {
		t.Fatalf("second take = %d, %v, %v", j, h2, err)
	}
	if k, h, err := set2.Try(0); h != nil || k != -1 || err != nil {
		t.Fatalf("a third slot was taken: %d %v", k, err)
	}
	if free, err := set1.Free(); free != 0 || err != nil {
		t.Fatalf("free = %d, %v", free, err)
	}
	h1.Close()
	h1.Close() // twice is fine
	if free, _ := set1.Free(); free != 1 {
		t.Fatalf("free after a release = %d", free)
	}
	// A held slot outlives its lease: the holder keeps it alive, past the end of a lease of the
	// same length granted after it.
	leaseRunsOut(t, s, MinTTL)
	if k, h, _ := set2.Try(0); h == nil || k != 1 {
		t.Fatalf("after a release: %d", k)
	} else {
		h.Close()
	}
	if free, _ := set1.Free(); free != 1 {
		t.Fatalf("the kept-alive slot was lost: free = %d", free)
	}
	h2.Close()
}

func TestUnreachableFailsWithinTimeout(t *testing.T) {
	t.Parallel()
	// One member that refuses connections, one that accepts and never answers.
	hang, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer hang.Close()
	s, err := New(Config{Endpoints: []string{etcdtest.Unreachable(t), "http://" + hang.Addr().String()}, Timeout: 700 * time.Millisecond,
		Username: "u", Password: "s3cret-pass"})
	if err != nil {
		t.Fatal(err)
	}
	ops := map[string]func() error{
		"load":   func() error { _, err := s.Load("k"); return err },
		"update": func() error { return s.Update("k", func([]byte) ([]byte, error) { return []byte("v"), nil }) },
		"append": func() error { return s.Append("k", []byte("v")) },
		"slot":   func() error { _, _, err := s.Slots("k", 1).Try(0); return err },
	}
	// The member that never answers would hang an operation without the timeout
	// (modtest.Finishes); no duration is measured.
	for name, op := range ops {
		var err error
		modtest.Finishes(t, func() { err = op() })
		if !errors.Is(err, state.ErrUnavailable) {
			t.Errorf("%s: err = %v, want ErrUnavailable", name, err)
		}
		if err != nil && strings.Contains(err.Error(), "s3cret-pass") {
			t.Errorf("%s: the error shows the password: %v", name, err)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		cfg  Config
		want string
	}{
		{Config{}, "at least one endpoint"},
		{Config{Endpoints: []string{"http://user:pw@127.0.0.1:2379"}}, "holds credentials"},
		{Config{Endpoints: []string{"ftp://127.0.0.1:2379"}}, "scheme"},
		{Config{Endpoints: []string{"127.0.0.1:2379"}, CertFile: "c"}, "go together"},
		{Config{Endpoints: []string{"127.0.0.1:2379"}, Password: "p"}, "needs etcd_username"},
		{Config{Endpoints: []string{"127.0.0.1:2379"}, CAFile: "/nonexistent/ca.pem"}, "etcd_ca_file"},
		{Config{Endpoints: []string{"127.0.0.1:2379"}, Timeout: time.Millisecond}, "etcd_timeout"},
	}
	for _, tt := range tests {
		_, err := New(tt.cfg)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("New(%+v) = %v, want an error with %q", tt.cfg, err, tt.want)
		}
		if err != nil && strings.Contains(err.Error(), "pw@") {
			t.Errorf("error shows the credentials: %v", err)
		}
	}
	s, err := New(Config{Endpoints: []string{"127.0.0.1:2379", " https://10.0.0.1:2379/ "}, Prefix: "/team-a"})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(s.Endpoints(), " "); got != "http://127.0.0.1:2379 https://10.0.0.1:2379" {
		t.Errorf("endpoints = %s", got)
	}
	if s.Prefix() != "/team-a/" {
		t.Errorf("prefix = %s", s.Prefix())
	}
}

// A taker that waited longer than the slot TTL has a reserved lease that ran out: it takes a
// new one instead of failing (which would let the call through without a slot).
func TestSlotReservedLeaseExpired(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	set := s.Slots("svc", 1)
	defer set.Close()
	set.(*slotSet).lease = 0x7fffffff // a lease etcd does not know: as one that expired
	i, h, err := set.Try(0)
	if err != nil || h == nil || i != 0 {
		t.Fatalf("Try = %d, %v, %v", i, h, err)
	}
	h.Close()
}
