package state

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"resilience.ops/internal/modtest"
)

// These tests play an unprivileged local user (modtest.Attacker, a real user and real processes)
// against state kept by root, as in issue 16. They run as root, as CI does.

// watchdog runs fn and fails t when it has not returned long after any sane bound: the calls under
// test used to block forever (a named pipe, a held lock). It never decides a passing test.
func watchdog(t *testing.T, what string, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		t.Fatalf("%s hangs", what)
	}
}

// wantRefusal checks that err refuses, wrapping kind, and names every one of words.
func wantRefusal(t *testing.T, what string, err, kind error, words ...string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s succeeded, want a refusal", what)
		return
	}
	t.Logf("%s: %v", what, err)
	if !errors.Is(err, kind) {
		t.Errorf("%s error = %v, want it to wrap %v", what, err, kind)
	}
	for _, w := range words {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%s error = %v, want it to name %q", what, err, w)
		}
	}
}

// entries lists dir as root (nil when it does not exist).
func entries(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// Finding 2: /tmp/ansible_retry made first by another user. Root must not use it, must not
// create circuit/ (or anything) in it, and must say whose it is.
func TestAttackerDirectoryIsRefused(t *testing.T) {
	t.Parallel()
	a := modtest.NewAttacker(t)
	for _, mode := range []string{"0700", "0755", "0777", "1777"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(modtest.SharedDir(t), "ansible_retry")
			a.Run(t, "mkdir", "-m", mode, dir)
			circuit := filepath.Join(dir, "circuit")
			doc := filepath.Join(circuit, "key.json")
			words := []string{dir, a.Name}
			wantRefusal(t, "EnsureDir(state_dir)", EnsureDir(dir), ErrUnsafe, words...)
			wantRefusal(t, "EnsureDir(state_dir/circuit)", EnsureDir(circuit), ErrUnsafe, words...)
			called := false
			err := FileStore{}.Update(doc, func([]byte) ([]byte, error) { called = true; return []byte("{}"), nil })
			wantRefusal(t, "Update", err, ErrUnsafe, words...)
			if called {
				t.Error("Update called its function in a refused directory")
			}
			wantRefusal(t, "Append", FileStore{}.Append(filepath.Join(dir, "log"), []byte("x")), ErrUnsafe, words...)
			_, err = ReadFile(filepath.Join(dir, "retry_session_x.json"))
			wantRefusal(t, "ReadFile", err, ErrUnsafe, words...)
			_, err = Lock(filepath.Join(dir, "x.lock"))
			wantRefusal(t, "Lock", err, ErrUnsafe, words...)
			if got := entries(t, dir); len(got) != 0 {
				t.Errorf("root created %v in the attacker's directory", got)
			}
		})
	}
}

// Finding 2, variation: no component of a state path is followed through a symbolic link, also
// one the attacker plants in /tmp before root's first run, whatever it points to.
func TestAttackerSymlinkIsNeverFollowed(t *testing.T) {
	t.Parallel()
	a := modtest.NewAttacker(t)
	shared := modtest.SharedDir(t)
	rootDir := modtest.PrivateDir(t) // root's, safe in itself
	attackerDir := filepath.Join(shared, "mine")
	a.Run(t, "mkdir", "-m", "0755", attackerDir)
	a.Sh(t, `printf '{"open_until":"9999-01-01T00:00:00Z"}' > `+attackerDir+`/key.json`)
	tests := []struct {
		name, link, target, path string
	}{
		{"state directory to a directory of root's", "ansible_retry", rootDir, "ansible_retry/circuit/key.json"},
		{"state directory to the attacker's", "ansible_retry2", attackerDir, "ansible_retry2/key.json"},
		{"file to the attacker's", "guard", attackerDir + "/key.json", "guard"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a.Run(t, "ln", "-s", tt.target, filepath.Join(shared, tt.link))
			path := filepath.Join(shared, tt.path)
			link := filepath.Join(shared, tt.link)
			_, err := ReadFile(path)
			wantRefusal(t, "ReadFile", err, ErrSymlink, link)
			err = FileStore{}.Update(path, func([]byte) ([]byte, error) { return []byte("x"), nil })
			wantRefusal(t, "Update", err, ErrSymlink, link)
			wantRefusal(t, "Append", FileStore{}.Append(path, []byte("x")), ErrSymlink, link)
			if got := entries(t, rootDir); len(got) != 0 {
				t.Errorf("root created %v through the link", got)
			}
			if got := entries(t, attackerDir); len(got) != 1 {
				t.Errorf("the attacker's directory holds %v, want only key.json", got)
			}
		})
	}
}

// Findings 2 and 3: files are opened without blocking, and a named pipe is refused (it used to
// hang status for ever).
func TestAttackerNamedPipeIsRefused(t *testing.T) {
	t.Parallel()
	a := modtest.NewAttacker(t)
	shared := modtest.SharedDir(t)
	fifo := filepath.Join(shared, "qos.guard")
	a.Run(t, "mkfifo", "-m", "0666", fifo)
	watchdog(t, "reading a named pipe", func() {
		_, err := ReadFile(fifo)
		wantRefusal(t, "ReadFile", err, ErrUnsafe, fifo, "named pipe")
	})
	watchdog(t, "appending to a named pipe", func() {
		wantRefusal(t, "Append", FileStore{}.Append(fifo, []byte("x")), ErrUnsafe, fifo, "named pipe")
	})
	lock := filepath.Join(shared, "state.lock")
	a.Run(t, "mkfifo", "-m", "0666", lock)
	watchdog(t, "locking a named pipe", func() {
		err := FileStore{}.Update(filepath.Join(shared, "state"), func([]byte) ([]byte, error) { return []byte("x"), nil })
		wantRefusal(t, "Update", err, ErrUnsafe, lock, "named pipe")
	})
	if _, err := os.Lstat(filepath.Join(shared, "state")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the state was written although its lock was refused: %v", err)
	}
}

// Finding 3: a file that another user owns (the audit trail included) is refused: root appends
// nothing to it, reads nothing from it, and replaces or removes nothing of it.
func TestAttackerFileIsRefused(t *testing.T) {
	t.Parallel()
	a := modtest.NewAttacker(t)
	shared := modtest.SharedDir(t)
	audit := filepath.Join(shared, "qos.guard.audit.jsonl")
	const forged = `{"event":"unlock","actor":"root@host"}` + "\n"
	a.Sh(t, "umask 0; printf '%s' '"+forged+"' > "+audit)
	words := []string{audit, a.Name}
	wantRefusal(t, "Append", FileStore{}.Append(audit, []byte(`{"event":"lock"}`)), ErrUnsafe, words...)
	wantRefusal(t, "CheckAppend", FileStore{}.CheckAppend(audit), ErrUnsafe, words...)
	_, err := ReadFile(audit)
	wantRefusal(t, "ReadFile", err, ErrUnsafe, words...)
	wantRefusal(t, "WriteFile", WriteFile(audit, []byte("x")), ErrUnsafe, words...)
	err = FileStore{}.UpdateUnreadable(audit, func([]byte, error) ([]byte, error) { return nil, nil })
	wantRefusal(t, "UpdateUnreadable (remove)", err, ErrUnsafe, words...)
	got, err := os.ReadFile(audit)
	if err != nil || string(got) != forged {
		t.Errorf("the attacker's file = %q, %v; want it untouched", got, err)
	}

	// A lock file of the attacker's, held by the attacker: refused at once, not waited for.
	lock := filepath.Join(shared, "state.lock")
	a.Sh(t, "umask 0; : > "+lock)
	a.HoldLock(t, lock)
	watchdog(t, "locking the attacker's lock file", func() {
		_, err := Lock(lock)
		wantRefusal(t, "Lock", err, ErrUnsafe, lock, a.Name)
	})
}

// Finding 2 and 3: a lock that another process holds makes the call fail after the lock wait,
// naming the holder, instead of hanging. The attacker can hold root's lock file here because it
// is readable (0644), as a lock file made by another tool may be.
func TestAttackerHeldLockFailsAfterTheWait(t *testing.T) {
	a := modtest.NewAttacker(t)
	dir := modtest.PrivateDir(t)
	path := filepath.Join(dir, "state")
	if err := os.WriteFile(path, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path+".lock", nil, 0o644); err != nil {
		t.Fatal(err)
	}
	pid, release := a.HoldLock(t, path+".lock")
	words := []string{path + ".lock", a.Name, "process " + strconv.Itoa(pid)}

	d, err := OpenDir(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	for _, wait := range []time.Duration{0, time.Millisecond} {
		watchdog(t, "a held lock", func() {
			_, err := d.LockWithin("state.lock", wait)
			wantRefusal(t, fmt.Sprintf("LockWithin(%s)", wait), err, ErrLockTimeout, words...)
		})
	}
	t.Setenv(LockWaitEnv, "0s")
	watchdog(t, "an update behind a held lock", func() {
		called := false
		err := FileStore{}.Update(path, func([]byte) ([]byte, error) { called = true; return []byte("new"), nil })
		wantRefusal(t, "Update", err, ErrLockTimeout, words...)
		if called {
			t.Error("Update ran its function without the lock")
		}
	})
	if got := readString(t, path); got != "old" {
		t.Errorf("state = %q, want it unchanged", got)
	}
	// Once the holder lets go, the lock is taken (the wait only bounds a failure: the kernel
	// wakes the waiter as soon as the lock is free).
	release()
	unlock, err := d.LockWithin("state.lock", time.Hour)
	if err != nil {
		t.Fatalf("LockWithin after the holder left: %v", err)
	}
	unlock()
}

func TestLockWaitEnv(t *testing.T) {
	tests := []struct {
		env  string
		want time.Duration
	}{
		{"", DefaultLockWait},
		{"0s", 0},
		{"250ms", 250 * time.Millisecond},
		{"1h", time.Hour},
		{"2h", DefaultLockWait},
		{"-1s", DefaultLockWait},
		{"soon", DefaultLockWait},
	}
	for _, tt := range tests {
		t.Setenv(LockWaitEnv, tt.env)
		if got := LockWait(); got != tt.want {
			t.Errorf("LockWait() with %q = %s, want %s", tt.env, got, tt.want)
		}
	}
}
