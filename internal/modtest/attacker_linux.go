//go:build linux

package modtest

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// AttackerName is the unprivileged local user that the attacker tests create (once per host) and
// run as: a system user without a home or a login shell.
const AttackerName = "rops-attacker"

// SkipAttackerEnv, when set to a non-empty value, lets the attacker tests skip where they cannot
// run (not root). Without it they fail: CI runs as root, and a silent skip would hide that the
// guarantees they prove were not tested.
const SkipAttackerEnv = "RESILIENCE_OPS_SKIP_ATTACKER_TESTS"

// Attacker is a real unprivileged local user, for tests that play an attacker on the host
// against modules run as root. Safe for concurrent use.
type Attacker struct {
	Name     string
	UID, GID uint32
}

var attacker struct {
	sync.Mutex
	a *Attacker
}

// NewAttacker returns the user AttackerName, creating it with useradd when it does not exist. It
// fails t when the test does not run as root, unless SkipAttackerEnv is set.
func NewAttacker(t testing.TB) Attacker {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv(SkipAttackerEnv) != "" {
			t.Skipf("not root and %s is set: the attacker tests need root to create the user %s", SkipAttackerEnv, AttackerName)
		}
		t.Fatalf("the attacker tests need root, to create the unprivileged user %s and run processes as it (CI runs as root); set %s=1 to skip them", AttackerName, SkipAttackerEnv)
	}
	attacker.Lock()
	defer attacker.Unlock()
	if attacker.a != nil {
		return *attacker.a
	}
	u, err := user.Lookup(AttackerName)
	if err != nil {
		out, aerr := exec.Command("useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent",
			"--shell", "/usr/sbin/nologin", "--user-group", AttackerName).CombinedOutput()
		// Another test binary may have created it meanwhile: look again either way.
		if u, err = user.Lookup(AttackerName); err != nil {
			t.Fatalf("create the user %s: %v: %s (lookup: %v)", AttackerName, aerr, out, err)
		}
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil || uid == 0 {
		t.Fatalf("user %s has uid %q gid %q: not a usable unprivileged user", AttackerName, u.Uid, u.Gid)
	}
	attacker.a = &Attacker{Name: AttackerName, UID: uint32(uid), GID: uint32(gid)}
	return *attacker.a
}

// Command returns a command that runs as the attacker (its uid and gid, no supplementary groups),
// in /, with a minimal environment.
func (a Attacker) Command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: a.UID, Gid: a.GID, Groups: []uint32{}}}
	cmd.Dir = "/"
	cmd.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C"}
	return cmd
}

// Run runs a command as the attacker and returns its output; it fails t when the command fails.
func (a Attacker) Run(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := a.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("as %s: %s %s: %v\n%s", a.Name, name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// Sh runs a shell script as the attacker (sh -c script); it fails t when the script fails.
func (a Attacker) Sh(t testing.TB, script string) string {
	t.Helper()
	return a.Run(t, "sh", "-ec", script)
}

// LockHolder is a process of the attacker's that holds an exclusive flock on a file.
type LockHolder struct {
	Pid  int
	once sync.Once
	done func()
}

// Release ends the holder and with it the lock; it returns once the lock is free.
func (h *LockHolder) Release() { h.once.Do(h.done) }

// StartLockHolder makes the attacker hold an exclusive flock on path from a process of its own
// (flock(1), which opens path read-only, creating it when missing: the attacker must be able to
// read it), and returns once the lock is held. The caller releases it.
func (a Attacker) StartLockHolder(path string) (*LockHolder, error) {
	// --no-fork: the process that takes the lock becomes sh, then cat, under the same pid, and
	// holds the lock until its standard input is closed.
	cmd := a.Command("flock", "--exclusive", "--nonblock", "--no-fork", path, "sh", "-c", "echo held; exec cat")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("as %s: flock %s: %w", a.Name, path, err)
	}
	h := &LockHolder{Pid: cmd.Process.Pid, done: func() {
		stdin.Close() // cat ends, and with it the lock
		_ = cmd.Wait()
	}}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "held" {
		h.Release()
		return nil, fmt.Errorf("as %s: flock %s did not take the lock: %q, %v", a.Name, path, line, err)
	}
	go io.Copy(io.Discard, stdout) //nolint:errcheck // drain until the holder exits
	return h, nil
}

// HoldLock is StartLockHolder for a test: the lock is held until the end of t, or until release
// is called, and the pid of the holding process is returned.
func (a Attacker) HoldLock(t testing.TB, path string) (pid int, release func()) {
	t.Helper()
	h, err := a.StartLockHolder(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Release)
	return h.Pid, h.Release
}

// NewSharedDir makes a directory that works like /tmp (see SharedDir) and returns it with the
// function that removes it.
func NewSharedDir() (dir string, remove func(), err error) {
	base, err := os.MkdirTemp("", "rops-attack-")
	if err != nil {
		return "", nil, err
	}
	remove = func() { os.RemoveAll(base) }
	shared := filepath.Join(base, "tmp")
	if err := os.Chmod(base, 0o755); err == nil {
		if err = os.Mkdir(shared, 0o700); err == nil {
			err = os.Chmod(shared, 0o777|os.ModeSticky)
		}
	}
	if err != nil {
		remove()
		return "", nil, err
	}
	return shared, remove, nil
}

// SharedDir returns a new directory that works like /tmp for the attacker tests: world-writable
// with the sticky bit, owned by root, below directories that everyone can traverse. It is
// removed at the end of t. Tests use it instead of the real /tmp, so that they never touch the
// real /tmp/ansible_retry or /run/threader.qos.guard and can run beside each other.
func SharedDir(t testing.TB) string {
	t.Helper()
	dir, remove, err := NewSharedDir()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(remove)
	return dir
}

// PrivateDir returns a new directory of root's (0755) that the attacker can read and traverse but
// not write: where root keeps state that the attacker may look at.
func PrivateDir(t testing.TB) string {
	t.Helper()
	base, err := os.MkdirTemp("", "rops-private-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	return base
}
