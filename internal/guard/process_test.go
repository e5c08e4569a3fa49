package guard

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"resilience.ops/internal/clock"
	"resilience.ops/internal/etcdstore"
	"resilience.ops/internal/etcdtest"
	"resilience.ops/internal/state"
)

// The multi-process tests re-run the test binary as a helper process: TestMain sees helperEnv
// and runs one helper instead of the tests, as a separate qos_guard run on another node would.
const helperEnv = "GUARD_TEST_HELPER"

// helperArgs tell a helper what to do.
type helperArgs struct {
	Mode      string // "lock": wait for a line on stdin, then lock; "stale": lock a guard that ends in Left
	Endpoints []string
	Prefix    string
	Path      string
	Owner     string
	Left      time.Duration // stale: the time left of the lock taken
}

// helperResult is what a helper prints.
type helperResult struct {
	Changed bool   `json:"changed"`
	LockID  string `json:"lock_id"`
	Locked  bool   `json:"locked"`
	Error   string `json:"error,omitempty"`
}

// ttlCap caps the time to live of what it writes: a guard whose window ends in a few seconds.
type ttlCap struct {
	*etcdstore.Store
	max time.Duration
}

func (s ttlCap) UpdateWithTTL(key string, fn func([]byte) ([]byte, time.Duration, error)) error {
	return s.Store.UpdateWithTTL(key, func(cur []byte) ([]byte, time.Duration, error) {
		next, ttl, err := fn(cur)
		return next, min(ttl, s.max), err
	})
}

func runHelper() int {
	var a helperArgs
	if err := json.Unmarshal([]byte(os.Getenv(helperEnv)), &a); err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		return 2
	}
	st, err := etcdstore.New(etcdstore.Config{Endpoints: a.Endpoints, Prefix: a.Prefix})
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		return 2
	}
	g := &Guard{Path: a.Path, Store: st, Actor: a.Owner}
	switch a.Mode {
	case "stale":
		// A one-minute lock taken 60s-Left ago, whose lease ends with it.
		shift := time.Minute - a.Left
		g.Clock = clock.Func(func() time.Time { return time.Now().Add(-shift) })
		g.Store = ttlCap{Store: st, max: a.Left + LeaseMargin}
	case "lock":
		fmt.Println("ready") // at the barrier
		if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
			fmt.Fprintln(os.Stderr, "helper: barrier:", err)
			return 2
		}
	}
	res, err := g.Lock(LockRequest{Minutes: 1, Owner: a.Owner, Reason: "contention test"}, false)
	out := helperResult{Changed: res.Changed, LockID: res.After.LockID, Locked: res.After.Locked}
	if err != nil {
		out.Error = err.Error()
	}
	b, _ := json.Marshal(out)
	fmt.Println(string(b))
	return 0
}

// proc is a running helper.
type proc struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Reader
}

func startHelper(t *testing.T, a helperArgs) *proc {
	t.Helper()
	raw, _ := json.Marshal(a)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+string(raw))
	p := &proc{cmd: cmd}
	cmd.Stderr = os.Stderr
	var err error
	if p.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.out = bufio.NewReader(stdout)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return p
}

// ready waits until the helper says it waits at the barrier.
func (p *proc) ready(t *testing.T) {
	t.Helper()
	if line, err := p.out.ReadString('\n'); err != nil || line != "ready\n" {
		t.Fatalf("helper said %q (%v), want ready", line, err)
	}
}

func (p *proc) result(t *testing.T) helperResult {
	t.Helper()
	rest, _ := io.ReadAll(p.out)
	if err := p.cmd.Wait(); err != nil {
		t.Fatalf("helper: %v", err)
	}
	var r helperResult
	if err := json.Unmarshal([]byte(strings.TrimSpace(string(rest))), &r); err != nil {
		t.Fatalf("helper printed %q: %v", rest, err)
	}
	return r
}

// contenders starts n helpers and returns once all of them wait at the barrier.
func contenders(t *testing.T, n int, a helperArgs) []*proc {
	t.Helper()
	var ps []*proc
	for i := range n {
		a := a
		a.Mode, a.Owner = "lock", fmt.Sprintf("proc-%d", i)
		ps = append(ps, startHelper(t, a))
	}
	for _, p := range ps {
		p.ready(t)
	}
	return ps
}

// release lets the helpers lock at once, calls during (if set) right after, and returns their
// results.
func release(t *testing.T, ps []*proc, during func()) []helperResult {
	t.Helper()
	var wg sync.WaitGroup
	for _, p := range ps {
		wg.Add(1)
		go func() { defer wg.Done(); _, _ = io.WriteString(p.stdin, "go\n"); p.stdin.Close() }()
	}
	wg.Wait()
	if during != nil {
		during()
	}
	out := make([]helperResult, len(ps))
	for i, p := range ps {
		out[i] = p.result(t)
	}
	return out
}

// contend starts n helpers, lets them lock at once, calls during (if set) right after, and
// returns their results.
func contend(t *testing.T, n int, a helperArgs, during func()) []helperResult {
	t.Helper()
	ps := contenders(t, n, a) // all wait at the barrier: they lock at once
	return release(t, ps, during)
}

// winner checks that exactly one of rs took the guard, that nobody failed and that everybody
// saw the winner's lock, and returns its lock id.
func winner(t *testing.T, rs []helperResult) string {
	t.Helper()
	var ids []string
	for _, r := range rs {
		if r.Error != "" {
			t.Errorf("a contender failed: %s", r.Error)
		}
		if r.Changed {
			ids = append(ids, r.LockID)
		}
	}
	if len(ids) != 1 {
		t.Fatalf("%d contenders took the guard (%v), want exactly 1", len(ids), ids)
	}
	for _, r := range rs {
		if !r.Locked || r.LockID != ids[0] {
			t.Errorf("a contender saw lock %q (locked %v), not the winner's %s", r.LockID, r.Locked, ids[0])
		}
	}
	return ids[0]
}

// leader returns the index of the cluster's leader.
func leader(t *testing.T, c *etcdtest.Cluster) int {
	t.Helper()
	for range 50 {
		if i, err := c.Leader(); err == nil {
			return i
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("the cluster has no leader")
	return -1
}

// 20 processes contend for one guard kept in a 3-member etcd cluster: exactly one holds it, a
// stale holder's lease frees it, and killing the leader in the middle of a round neither loses
// nor doubles a lock.
func TestProcessesContendOnEtcd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an etcd cluster and 100 processes")
	}
	cluster := etcdtest.Start(t, 3)
	st := newEtcdStore(t, cluster.Endpoints())
	a := helperArgs{Endpoints: cluster.Endpoints(), Prefix: st.Prefix(), Path: "/run/fleet.qos.guard"}
	g := &Guard{Path: a.Path, Store: st, Actor: "test"}
	const n = 20

	// A stale holder: a lock with 10 s left, taken by a process that is gone. The contenders
	// are started first and wait at the barrier, so that they contend while it is still active
	// however slowly processes start: between the stale lock and theirs there is only one etcd
	// transaction each.
	ps := contenders(t, n, a)
	stale := a
	stale.Mode, stale.Owner, stale.Left = "stale", "stale-holder", 10*time.Second
	p := startHelper(t, stale)
	p.stdin.Close()
	staleLock := p.result(t)
	if !staleLock.Changed {
		t.Fatalf("the stale holder did not lock: %+v", staleLock)
	}
	for _, r := range release(t, ps, nil) {
		if r.Changed || r.LockID != staleLock.LockID || r.Error != "" {
			t.Fatalf("a contender got past the stale holder's active lock: %+v", r)
		}
	}
	// Nobody touches the guard now: etcd deletes it when its lease runs out.
	deadline := time.Now().Add(2 * time.Minute) // a safety net: etcd drops the lease when it can
	for {
		data, err := st.Load(a.Path)
		if err != nil {
			t.Fatal(err)
		}
		if data == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the stale holder's guard is still there after its lease: %s", data)
		}
		time.Sleep(100 * time.Millisecond)
	}
	id := winner(t, contend(t, n, a, nil))

	// Rounds with a member killed during the first: the leader, the worst case.
	killed := -1
	for round := range 3 {
		if _, err := g.Unlock(UnlockRequest{LockID: id}, false); err != nil {
			t.Fatalf("round %d: unlock %s: %v", round, id, err)
		}
		var during func()
		if round == 0 {
			killed = leader(t, cluster)
			during = func() { time.Sleep(20 * time.Millisecond); cluster.Kill(killed) }
		}
		id = winner(t, contend(t, n, a, during))
		res, err := g.Status(true)
		if err != nil || res.After.LockID != id {
			t.Fatalf("round %d: status = %+v, %v; want lock %s", round, res.After, err, id)
		}
	}
	if cluster.Members[killed].Running() {
		t.Fatal("the member was not killed")
	}

	// The audit trail: the stale lock, the first winner, and per round an unlock and a lock.
	evs, err := g.ReadAudit()
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, ev := range evs {
		kinds = append(kinds, ev.Event)
	}
	want := "lock lock unlock lock unlock lock unlock lock"
	if got := strings.Join(kinds, " "); got != want {
		t.Errorf("audit events = %s, want %s", got, want)
	}
	var _ state.Store = st
}
