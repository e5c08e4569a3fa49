// Package etcdtest starts etcd clusters on 127.0.0.1 for tests: Debian's /usr/bin/etcd (or
// $ETCD_BIN), each member on free ports with its own data directory. It is imported only from
// _test.go files.
package etcdtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Binary returns the etcd binary. When it is missing the test fails under CI (CI=true), where
// .ci/deps installs it, and is skipped elsewhere.
func Binary(t testing.TB) string {
	t.Helper()
	path, err := find()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("etcd is needed under CI: %v (.ci/deps installs etcd-server)", err)
		}
		t.Skipf("etcd is not installed (%v): apt-get install etcd-server", err)
	}
	return path
}

func find() (string, error) {
	if p := os.Getenv("ETCD_BIN"); p != "" {
		return p, nil
	}
	if _, err := os.Stat("/usr/bin/etcd"); err == nil {
		return "/usr/bin/etcd", nil
	}
	return exec.LookPath("etcd")
}

// Member is one etcd process of a Cluster.
type Member struct {
	Name      string
	ClientURL string
	PeerURL   string
	Dir       string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// Cluster is a running etcd cluster. Its methods are safe for concurrent use.
type Cluster struct {
	Members []*Member
	bin     string
	base    string
}

// Start starts a cluster of n members for t, waits until it has a leader and stops it (and
// removes its data) when t ends.
func Start(t testing.TB, n int) *Cluster {
	t.Helper()
	bin := Binary(t)
	c, err := start(bin, t.TempDir(), n)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Stop)
	return c
}

var shared struct {
	once sync.Once
	c    *Cluster
	dir  string
	err  error
}

// Shared returns a 3-member cluster shared by the tests of a package, started on first use.
// Tests keep apart by using keys under a prefix of their own. The package's TestMain calls
// StopShared after m.Run.
func Shared(t testing.TB) *Cluster {
	t.Helper()
	bin := Binary(t)
	shared.once.Do(func() {
		shared.dir, shared.err = os.MkdirTemp("", "etcdtest-")
		if shared.err == nil {
			shared.c, shared.err = start(bin, shared.dir, 3)
		}
	})
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.c
}

// StopShared stops the shared cluster, if one was started, and removes its data.
func StopShared() {
	if shared.c != nil {
		shared.c.Stop()
	}
	if shared.dir != "" {
		os.RemoveAll(shared.dir)
	}
}

func start(bin, base string, n int) (*Cluster, error) {
	var lastErr error
	for range 3 { // a free port may be taken between finding it and etcd binding it
		c := &Cluster{bin: bin, base: base}
		var initial []string
		for i := range n {
			ports, err := freePorts(2)
			if err != nil {
				return nil, err
			}
			m := &Member{
				Name:      fmt.Sprintf("m%d", i),
				ClientURL: fmt.Sprintf("http://127.0.0.1:%d", ports[0]),
				PeerURL:   fmt.Sprintf("http://127.0.0.1:%d", ports[1]),
			}
			m.Dir = filepath.Join(base, fmt.Sprintf("%s-%d", m.Name, ports[0]))
			c.Members = append(c.Members, m)
			initial = append(initial, m.Name+"="+m.PeerURL)
		}
		for _, m := range c.Members {
			if err := c.run(m, strings.Join(initial, ",")); err != nil {
				c.Stop()
				return nil, err
			}
		}
		if err := c.WaitHealthy(20 * time.Second); err != nil {
			lastErr = err
			c.Stop()
			continue
		}
		return c, nil
	}
	return nil, lastErr
}

func (c *Cluster) run(m *Member, initial string) error {
	if err := os.MkdirAll(m.Dir, 0o700); err != nil {
		return err
	}
	logf, err := os.Create(m.Dir + ".log")
	if err != nil {
		return err
	}
	cmd := exec.Command(c.bin,
		"--name", m.Name,
		"--data-dir", filepath.Join(m.Dir, "data"),
		"--listen-client-urls", m.ClientURL, "--advertise-client-urls", m.ClientURL,
		"--listen-peer-urls", m.PeerURL, "--initial-advertise-peer-urls", m.PeerURL,
		"--initial-cluster", initial, "--initial-cluster-state", "new",
		"--initial-cluster-token", filepath.Base(c.base)+"-"+m.Name[:1],
		// Fast elections, so that killing the leader costs well under a second.
		"--heartbeat-interval", "50", "--election-timeout", "500",
		"--logger", "zap", "--log-level", "warn",
	)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start etcd %s: %w", m.Name, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); logf.Close(); close(done) }()
	m.mu.Lock()
	m.cmd, m.done = cmd, done
	m.mu.Unlock()
	return nil
}

// Endpoints are the members' client URLs.
func (c *Cluster) Endpoints() []string {
	out := make([]string, len(c.Members))
	for i, m := range c.Members {
		out[i] = m.ClientURL
	}
	return out
}

// WaitHealthy waits until every running member reports a leader (GET /health).
func (c *Cluster) WaitHealthy(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for _, m := range c.Members {
		if !m.Running() {
			continue
		}
		for {
			err := health(m.ClientURL)
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				log, _ := os.ReadFile(m.Dir + ".log")
				return fmt.Errorf("etcd member %s at %s is not healthy after %s: %v\n%s", m.Name, m.ClientURL, timeout, err, tail(string(log), 2000))
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return nil
}

func health(url string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url+"/health", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var b [256]byte
	n, _ := resp.Body.Read(b[:])
	if !strings.Contains(string(b[:n]), `"health":"true"`) {
		return errors.New(strings.TrimSpace(string(b[:n])))
	}
	return nil
}

// Running reports whether the member's process is running.
func (m *Member) Running() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.done == nil {
		return false
	}
	select {
	case <-m.done:
		return false
	default:
		return true
	}
}

// Kill kills member i with SIGKILL, as a crash would, and waits until it is gone.
func (c *Cluster) Kill(i int) { c.Members[i].signal(syscall.SIGKILL) }

func (m *Member) signal(sig os.Signal) {
	m.mu.Lock()
	cmd, done := m.cmd, m.done
	m.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(sig)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

// Stop stops every member (SIGTERM, then SIGKILL).
func (c *Cluster) Stop() {
	var wg sync.WaitGroup
	for _, m := range c.Members {
		wg.Add(1)
		go func() { defer wg.Done(); m.signal(syscall.SIGTERM) }()
	}
	wg.Wait()
}

// freePorts returns n distinct free TCP ports on 127.0.0.1.
func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}

// Leader returns the index of the member that leads, as the running members report it.
func (c *Cluster) Leader() (int, error) {
	ids := map[string]int{}
	leader := ""
	for i, m := range c.Members {
		if !m.Running() {
			continue
		}
		var st struct {
			Header struct {
				MemberID string `json:"member_id"`
			} `json:"header"`
			Leader string `json:"leader"`
		}
		if err := postJSON(m.ClientURL+"/v3/maintenance/status", &st); err != nil {
			continue
		}
		ids[st.Header.MemberID] = i
		if st.Leader != "" && st.Leader != "0" {
			leader = st.Leader
		}
	}
	if i, ok := ids[leader]; ok {
		return i, nil
	}
	return -1, errors.New("no leader known")
}

func postJSON(url string, out any) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader("{}"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(out)
}

// Unreachable returns an etcd endpoint where nothing listens: a loopback port that was free a
// moment ago, for the tests of an etcd that cannot be reached.
func Unreachable(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}
