// Package state keeps the collection's cross-run state: small files that many processes (Ansible
// forks, CI jobs) read and update at once.
//
// Every update is serialised by an exclusive lock on a side file (`<path>.lock`) and written
// atomically: a temporary file in the same directory is written, synced and renamed over the
// old one, so a reader or a process killed mid-write sees either the old or the new content,
// never a torn file. Files are created 0600 in directories created 0700.
//
// State lives only where the effective user alone can change it. A state directory is opened
// from / down, one directory at a time relative to the one above it, without following a
// symbolic link (OpenDir); each must belong to this user or root and must not be writable by
// others unless it has the sticky bit (/tmp is fine, a directory another user made in it is
// not). Files are then opened relative to that open directory, without following a symbolic
// link and without blocking, and must be regular files of this user or root, with one link, that
// others cannot write to. A lock held by another process is waited for at most LockWait, then the
// call fails naming the holder. Nothing read or written is larger than MaxFileSize.
package state

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"time"
)

// Modes of the files and directories this package creates.
const (
	FileMode = 0o600
	DirMode  = 0o700
)

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

// Replacer is implemented by stores that can replace a document they cannot read (FileStore: a
// file of this user that is larger than MaxFileSize, that other users can write to, or that has
// more than one hard link). A forced change of the guard uses it: what cannot be read is replaced.
type Replacer interface {
	// UpdateUnreadable is Update, except that when the current content is unusable for a
	// reason that wraps ErrUnreadable, fn is called with nil and that error, instead of the call
	// failing; what fn returns then replaces (nil: removes) the unusable file. A symbolic link,
	// anything but a regular file and a file of another user are never replaced: those still fail
	// with an error that wraps ErrUnsafe.
	UpdateUnreadable(key string, fn func(cur []byte, unreadable error) ([]byte, error)) error
}

// AppendChecker is implemented by stores that can tell, without writing, whether Append of key
// would be refused (FileStore: a log that is a symbolic link, a named pipe or a file of another
// user). A caller that must not change state without its audit line checks first.
type AppendChecker interface {
	CheckAppend(key string) error
}

// FileStore is the default Store: local files, nothing to set up. The zero value is ready.
// It is safe for concurrent use by goroutines and processes.
//
// A key is a path. Its directory is opened with OpenDir (created 0700 when missing): every
// directory from / down must belong to this user or root and must not be writable by others
// without the sticky bit, and no symbolic link is followed; the files in it must be regular files
// of this user or root, are opened without blocking (a named pipe is refused), and their locks are
// waited for at most LockWait.
type FileStore struct{}

var (
	_ Store         = FileStore{}
	_ Replacer      = FileStore{}
	_ AppendChecker = FileStore{}
)

// Load reads path. A missing file gives (nil, nil).
func (FileStore) Load(path string) ([]byte, error) { return ReadFile(path) }

// Update implements Store.
func (FileStore) Update(path string, fn func(cur []byte) ([]byte, error)) error {
	return update(path, WriteOptions{}, func(cur []byte, unreadable error) ([]byte, error) {
		if unreadable != nil {
			return nil, unreadable
		}
		return fn(cur)
	}, false)
}

// UpdateUnreadable implements Replacer.
func (FileStore) UpdateUnreadable(path string, fn func(cur []byte, unreadable error) ([]byte, error)) error {
	return update(path, WriteOptions{}, fn, true)
}

// CheckAppend implements AppendChecker.
func (FileStore) CheckAppend(path string) error {
	dir, name := splitPath(path)
	d, err := OpenDir(dir, false)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // Append creates it
	}
	if err != nil {
		return err
	}
	defer d.Close()
	return d.CheckAppend(name)
}

// UpdateWith is FileStore.Update with its own write options (a store that skips the fsyncs, or
// that reuses a fixed temporary name).
func UpdateWith(path string, o WriteOptions, fn func(cur []byte) ([]byte, error)) error {
	return update(path, o, func(cur []byte, unreadable error) ([]byte, error) {
		if unreadable != nil {
			return nil, unreadable
		}
		return fn(cur)
	}, false)
}

// update is the Update of FileStore: lock <path>.lock, read, call fn, write or remove. With
// replace, content that is unusable (ErrUnreadable) is given to fn as an error.
func update(path string, o WriteOptions, fn func(cur []byte, unreadable error) ([]byte, error), replace bool) error {
	dir, name := splitPath(path)
	d, err := OpenDir(dir, true)
	if err != nil {
		return err
	}
	defer d.Close()
	unlock, err := d.Lock(name + ".lock")
	if err != nil {
		return err
	}
	defer unlock()
	if o.Temp == "" {
		removeStaleTemps(d, name)
	}
	cur, err := d.ReadFile(name)
	var unreadable error
	if err != nil {
		if !replace || !errors.Is(err, ErrUnreadable) {
			return err
		}
		unreadable, cur = err, nil
	}
	next, err := fn(cur, unreadable)
	if errors.Is(err, ErrUnchanged) {
		return nil
	}
	if err != nil {
		return err
	}
	if next == nil {
		if cur == nil && unreadable == nil {
			return nil
		}
		return d.Remove(name)
	}
	if cur != nil && bytes.Equal(cur, next) {
		return nil
	}
	return d.Write(name, next, o)
}

// Append implements Store: it appends line and a newline to path in one write with O_APPEND,
// which the kernel serialises for local files, then syncs it. The log must be a regular file of
// this user or root: a symbolic link, a named pipe or a file of another user is refused.
func (FileStore) Append(path string, line []byte) error {
	dir, name := splitPath(path)
	d, err := OpenDir(dir, true)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Append(name, line)
}

// removeStaleTemps removes the temporary files that writers of name killed mid-write left behind.
// The caller holds name's lock, so no live writer of name has one in progress.
func removeStaleTemps(d *Dir, name string) {
	ents, err := d.ReadDir()
	if err != nil {
		return
	}
	prefix := "." + name + ".tmp-"
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), prefix) {
			_ = d.Remove(e.Name())
		}
	}
}

// ReadFile reads a state file (see FileStore for the checks). A missing file or directory gives
// (nil, nil).
func ReadFile(path string) ([]byte, error) {
	dir, name := splitPath(path)
	d, err := OpenDir(dir, false)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer d.Close()
	return d.ReadFile(name)
}

// WriteFile replaces path atomically with data, mode 0600: a temporary file in the same directory
// is written, synced and renamed over path, then the directory is synced. The directory must
// exist and pass OpenDir's checks. Callers that can race hold the path's lock.
func WriteFile(path string, data []byte) error {
	dir, name := splitPath(path)
	d, err := OpenDir(dir, false)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer d.Close()
	return d.Write(name, data, WriteOptions{})
}

// WriteFileMode is WriteFile with another mode, for files other programs must read from their own
// directory (node_exporter's textfile collector): that directory may belong to another user, but
// no symbolic link is followed on the way and the file is created new, by this process, then
// renamed into place. The temporary file's name starts with a dot and does not end like path, so
// collectors that read *.prom never see it.
func WriteFileMode(path string, data []byte, mode os.FileMode) error {
	dir, name := splitPath(path)
	d, err := openDir(dir, false, true)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer d.Close()
	return d.Write(name, data, WriteOptions{Mode: mode, AnyOwner: true})
}

// EnsureDir creates dir (and missing parents) with mode 0700 and checks it as OpenDir does.
func EnsureDir(dir string) error {
	d, err := OpenDir(dir, true)
	if err != nil {
		return err
	}
	return d.Close()
}

// Lock takes an exclusive advisory lock on path (created 0600 if needed) in an existing
// directory, waiting up to LockWait, and returns the function that releases it. See
// Dir.LockWithin.
func Lock(path string) (unlock func(), err error) {
	dir, name := splitPath(path)
	d, err := OpenDir(dir, false)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	defer d.Close()
	return d.Lock(name)
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

// OpenLockFile opens the lock file path in an existing state directory, creating the file (0600)
// when create is set, after the checks of OpenDir and Dir.OpenLockFile. The caller locks it with
// its own calls (the bulkhead's slots do, without waiting).
func OpenLockFile(path string, create bool) (*os.File, error) {
	dir, name := splitPath(path)
	d, err := OpenDir(dir, false)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	return d.OpenLockFile(name, create)
}

// SameFile reports whether the open file f is still the file at path (no symbolic link is
// followed): false once path was removed or replaced.
func SameFile(f *os.File, path string) bool {
	dir, name := splitPath(path)
	d, err := OpenDir(dir, false)
	if err != nil {
		return false
	}
	defer d.Close()
	return d.SameFile(f, name)
}
