// Package state keeps the collection's cross-run state: small files that many processes (Ansible
// forks, CI jobs) read and update at once.
//
// Every update is serialised by an exclusive lock on a side file (`<path>.lock`) and written
// atomically: a temporary file in the same directory is written, synced and renamed over the
// old one, so a reader or a process killed mid-write sees either the old or the new content,
// never a torn file. Files are created 0600 in directories created 0700; symlinks are refused,
// and so are directories that other users could write to without the sticky bit.
package state

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Modes of the files and directories this package creates.
const (
	FileMode = 0o600
	DirMode  = 0o700
)

// maxStateSize bounds what is read from a state file: ours are a few KiB.
const maxStateSize = 8 << 20

// ErrSymlink is returned when a state path, its lock or its directory is a symbolic link.
var ErrSymlink = errors.New("refusing to follow a symbolic link")

// ErrUnchanged may be returned by an Update function to keep the current content.
var ErrUnchanged = errors.New("state unchanged")

// Store is the small interface behind which cross-run state sits. Keys are file paths for the
// local FileStore. Implementations are safe for concurrent use by many processes.
type Store interface {
	// Load returns the current content of key, or nil when it does not exist.
	Load(key string) ([]byte, error)
	// Update replaces the content of key with what fn returns, under an exclusive lock; fn gets
	// the current content (nil when absent). fn returning nil content deletes key; fn returning
	// ErrUnchanged leaves it as it is and Update returns nil.
	Update(key string, fn func(cur []byte) ([]byte, error)) error
	// Append adds one line to the append-only log named key. Each line is written whole by
	// one write, so concurrent appenders never tear or lose a line.
	Append(key string, line []byte) error
}

// ErrUnavailable is wrapped by the errors of a store that could not be reached within its timeout
// (a network store such as etcd). Whether anything was written is then unknown: callers fail
// closed where it matters (a guard counts as locked).
var ErrUnavailable = errors.New("state store unavailable")

// Expiring is implemented by stores that can make a key expire on its own (etcd leases). A
// caller that knows how long its content is valid uses UpdateWithTTL instead of Update; the
// store deletes the key once ttl has passed, also when nobody is left to do it. fn is Update's
// function that also returns the time to live of the new content (0: no expiry). fn may be
// called more than once (a store that retries on a conflicting write calls it again with the
// new content), so it must not have side effects beyond its return values. The local FileStore
// does not implement it: there an expired document stays until the next update removes it.
type Expiring interface {
	Store
	UpdateWithTTL(key string, fn func(cur []byte) (next []byte, ttl time.Duration, err error)) error
}

// SlotProvider hands out sets of n slots, of which a process holds at most one at a time: the
// bulkhead's slots and the half-open trial slots of a circuit breaker. A slot held by a process
// that dies is freed by the provider (the kernel drops a lock file's lock; etcd drops a key
// whose lease is no longer kept alive). Implementations are safe for concurrent use.
type SlotProvider interface {
	// Slots returns the set of n slots named name (a path for local lock files, a key for etcd).
	Slots(name string, n int) SlotSet
}

// SlotSet is n slots for one taker. It is used by one goroutine; the slots it hands out may be
// released from any goroutine.
type SlotSet interface {
	// Try tries every slot once, starting at first, and returns the index of the slot taken and
	// what releases it, or -1 and nil when every slot is taken.
	Try(first int) (int, io.Closer, error)
	// Free counts the slots that are free now, without taking one and without creating
	// anything (check mode).
	Free() (int, error)
	// Close gives back what the set holds besides the slots it handed out.
	Close()
}

// FileStore is the default Store: local files, nothing to set up. The zero value is ready.
// It is safe for concurrent use by goroutines and processes.
type FileStore struct{}

var _ Store = FileStore{}

// Load reads path. A missing file gives (nil, nil).
func (FileStore) Load(path string) ([]byte, error) { return ReadFile(path) }

// Update implements Store.
func (FileStore) Update(path string, fn func(cur []byte) ([]byte, error)) error {
	if err := EnsureDir(filepath.Dir(path)); err != nil {
		return err
	}
	unlock, err := Lock(path + ".lock")
	if err != nil {
		return err
	}
	defer unlock()
	removeStaleTemps(path)
	cur, err := ReadFile(path)
	if err != nil {
		return err
	}
	next, err := fn(cur)
	if errors.Is(err, ErrUnchanged) {
		return nil
	}
	if err != nil {
		return err
	}
	if next == nil {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove %s: %w", path, err)
		}
		return nil
	}
	if cur != nil && bytes.Equal(cur, next) {
		return nil
	}
	return WriteFile(path, next)
}

// Append implements Store: it appends line and a newline to path in one write with O_APPEND,
// which the kernel serialises for local files, then syncs it.
func (FileStore) Append(path string, line []byte) error {
	if err := EnsureDir(filepath.Dir(path)); err != nil {
		return err
	}
	if err := refuseSymlink(path); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE|oNoFollow, FileMode)
	if err != nil {
		return fmt.Errorf("open log %s: %w", path, explain(err))
	}
	defer f.Close()
	if _, err := f.Write(append(bytes.TrimRight(line, "\n"), '\n')); err != nil {
		return fmt.Errorf("append to %s: %w", path, explain(err))
	}
	return f.Sync()
}

// removeStaleTemps removes the temporary files that writers of path killed mid-write left behind.
// The caller holds path's lock, so no live writer of path has one in progress.
func removeStaleTemps(path string) {
	left, _ := filepath.Glob(filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*"))
	for _, f := range left {
		_ = os.Remove(f)
	}
}

// ReadFile reads a state file, refusing symlinks. A missing file gives (nil, nil).
func ReadFile(path string) ([]byte, error) {
	if err := refuseSymlink(path); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDONLY|oNoFollow, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, explain(err))
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("read %s: not a regular file", path)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxStateSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(data) > maxStateSize {
		return nil, fmt.Errorf("read %s: larger than %d bytes, not a state file", path, maxStateSize)
	}
	return data, nil
}

// WriteFile replaces path atomically with data, mode 0600: a temporary file in the same directory
// is written, synced and renamed over path, then the directory is synced. Callers that can race
// hold the path's lock.
func WriteFile(path string, data []byte) error { return WriteFileMode(path, data, FileMode) }

// WriteFileMode is WriteFile with another mode, for files other users must read (node_exporter's
// textfile collector). The temporary file's name starts with a dot and does not end like path, so
// collectors that read *.prom never see it.
func WriteFileMode(path string, data []byte, mode os.FileMode) error {
	if err := refuseSymlink(path); err != nil {
		return err
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, explain(err))
	}
	name := tmp.Name()
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(name)
		}
	}()
	if err := tmp.Chmod(mode); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", path, explain(err))
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("write %s: %w", path, explain(err))
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, explain(err))
	}
	if err := os.Rename(name, path); err != nil {
		return fmt.Errorf("write %s: %w", path, explain(err))
	}
	ok = true
	syncDir(dir)
	return nil
}

// EnsureDir creates dir (and missing parents) with mode 0700, and refuses a directory that is a
// symlink or that other users can write to without the sticky bit (anyone could plant a file
// there). Existing system directories such as /run or /tmp are fine.
func EnsureDir(dir string) error {
	fi, err := os.Lstat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, DirMode); err != nil {
			return fmt.Errorf("create directory %s: %w", dir, explain(err))
		}
		fi, err = os.Lstat(dir)
	}
	if err != nil {
		return fmt.Errorf("directory %s: %w", dir, explain(err))
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		// A symlinked directory given by an administrator (/var/run -> /run) is common;
		// resolve it once and check the target instead.
		real, err := filepath.EvalSymlinks(dir)
		if err != nil {
			return fmt.Errorf("directory %s: %w", dir, err)
		}
		if fi, err = os.Stat(real); err != nil {
			return fmt.Errorf("directory %s: %w", dir, err)
		}
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	return checkDirSafe(dir, fi)
}

// refuseSymlink fails when path exists and is a symbolic link.
func refuseSymlink(path string) error {
	fi, err := os.Lstat(path)
	if err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		return fmt.Errorf("%s: %w", path, ErrSymlink)
	}
	return nil
}

// explain adds the usual cause to permission and read-only errors, which otherwise read as a
// bare "permission denied".
func explain(err error) error {
	switch {
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("%w (the directory is not writable by this user: run with become or choose another path)", err)
	case isReadOnlyFS(err):
		return fmt.Errorf("%w (the file system is read-only: choose another path)", err)
	case isNoSpace(err):
		return fmt.Errorf("%w (the disk is full: the previous state is kept)", err)
	}
	return err
}

// SafeName reports whether s can be used as part of a file name in a state directory: letters,
// digits, '.', '_' and '-', not starting with a dot, at most 128 bytes.
func SafeName(s string) bool {
	if s == "" || len(s) > 128 || strings.HasPrefix(s, ".") {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}
