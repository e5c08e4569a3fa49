//go:build unix

package state

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// held reports whether another open file description cannot take the lock on path right now.
func held(t *testing.T, path string) bool {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if err == nil {
		return false
	}
	if !errors.Is(err, syscall.EWOULDBLOCK) {
		t.Fatalf("flock: %v", err)
	}
	return true
}

func TestLockIsExclusiveAndReleased(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "state.lock")
	unlock, err := Lock(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := fi.Mode().Perm(), fs.FileMode(FileMode); got != want {
		t.Errorf("lock file mode = %o, want %o", got, want)
	}
	if !held(t, path) {
		t.Error("lock is not held after Lock")
	}
	unlock()
	if held(t, path) {
		t.Error("lock is still held after unlock")
	}
	// The lock file is reused, not recreated.
	unlock, err = Lock(path)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	if !held(t, path) {
		t.Error("lock is not held after a second Lock")
	}
}

func TestUpdateHoldsTheLock(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "state")
	var during bool
	err := FileStore{}.Update(path, func([]byte) ([]byte, error) {
		during = held(t, path+".lock")
		return []byte("x"), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !during {
		t.Error("fn ran without the lock held")
	}
	if held(t, path+".lock") {
		t.Error("lock still held after Update returned")
	}
}

func TestLockErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Lock(filepath.Join(file, "x.lock"))
	if err == nil || errors.Is(err, ErrSymlink) {
		t.Errorf("Lock below a regular file = %v, want a plain error", err)
	}
}

// A holder that removes the lock file before unlocking (retention does) must not leave a waiter
// holding a lock on the removed file while a newcomer locks the new one.
func TestLockFollowsRemovedLockFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "state.lock")
	unlockA, err := Lock(path)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan func(), 1)
	go func() {
		unlock, err := Lock(path)
		if err != nil {
			t.Error(err)
			unlock = func() {}
		}
		got <- unlock
	}()
	time.Sleep(50 * time.Millisecond) // let the waiter block on the file about to be removed
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	unlockA()
	unlockB := <-got
	defer unlockB()
	if _, err := os.Lstat(path); err != nil {
		t.Fatalf("the waiter did not lock the current lock file: %v", err)
	}
	if !held(t, path) {
		t.Error("the waiter holds a lock on the removed file, not on the one at the path")
	}
}
