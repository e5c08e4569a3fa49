package state

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Errors of the checks that OpenDir and the methods of Dir make. They are wrapped with the path
// and the reason, so a message says what was refused and why; test them with errors.Is.
var (
	// ErrUnsafe is wrapped by every refusal of a path that another user could have planted or
	// could change: a symbolic link, a directory or file that belongs to another user, a
	// directory that others can write to without the sticky bit, anything but a regular file
	// where a file is expected. Nothing is created, written or removed there.
	ErrUnsafe = errors.New("unsafe path")
	// ErrUnreadable is wrapped when a file is ours and regular but cannot be used as it is: it
	// is larger than MaxFileSize, other users can write to it, or it has more than one hard link.
	// Update refuses it; UpdateUnreadable hands it to its function, which may replace it.
	ErrUnreadable = errors.New("unusable state file")
	// ErrTooLarge is wrapped (with ErrUnreadable) when a file is larger than MaxFileSize, and
	// when content to write is: what is written can always be read back.
	ErrTooLarge = errors.New("larger than the state file limit")
	// ErrLockTimeout is wrapped when a lock stayed held by another process for the whole
	// lock wait (see LockWait).
	ErrLockTimeout = errors.New("lock held by another process")
)

// ErrSymlink is returned (wrapped, with ErrUnsafe) when a state path, its lock, its directory or
// any directory above it is a symbolic link. No symbolic link is ever followed.
var ErrSymlink = errors.New("refusing to follow a symbolic link")

// MaxFileSize bounds every state file: what is read and what is written. Ours are a few KiB;
// content larger than this is refused before anything is written, so that what the modules write
// they can always read back.
const MaxFileSize = 8 << 20

// maxStateSize is MaxFileSize under its older name, for the package's tests.
const maxStateSize = MaxFileSize

// Lock waits. A lock of ours is held for milliseconds (one read, one small write); a lock still
// held after DefaultLockWait is held by a process that hangs or by somebody else on purpose, and
// waiting for it longer would hang the module. It is long enough for 50 processes that queue on
// one lock on a busy 2-core host.
const (
	// DefaultLockWait is how long Lock waits for a lock another process holds.
	DefaultLockWait = 20 * time.Second
	// MaxLockWait bounds LockWaitEnv.
	MaxLockWait = time.Hour
	// LockWaitEnv names the environment variable that replaces DefaultLockWait: a Go duration
	// ("5s", "500ms", "0s" tries once) between 0 and MaxLockWait.
	LockWaitEnv = "RESILIENCE_OPS_LOCK_WAIT"
)

// LockWait is the lock wait of this process: LockWaitEnv when it holds a valid duration, else
// DefaultLockWait. It is read at each call, so a test may set the variable.
func LockWait() time.Duration {
	s := os.Getenv(LockWaitEnv)
	if s == "" {
		return DefaultLockWait
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 || d > MaxLockWait {
		return DefaultLockWait
	}
	return d
}

// WriteOptions tune Dir.Write. The zero value writes a 0600 file with fsync, through a temporary
// file of a random name.
type WriteOptions struct {
	// Mode is the file's mode; 0 means FileMode.
	Mode fs.FileMode
	// NoSync skips the fsync of the file and of the directory: the replacement is still atomic
	// for every process, but a crash of the whole host may lose it.
	NoSync bool
	// Temp is a fixed name for the temporary file, used by callers that hold the file's lock:
	// one left behind by a killed writer is removed and reused. "" means a random name.
	Temp string
	// ModTime, when set, is given to the file before it replaces the old one.
	ModTime time.Time
	// AnyOwner lets the directory and an existing file belong to another user: for files that
	// other programs read from their own directory (node_exporter's textfile collector). No
	// symbolic link is followed and the file is still created new and renamed into place.
	AnyOwner bool
}

// checkName refuses names that are not a single component of a path.
func checkName(dir, name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, `/\`) || strings.ContainsRune(name, 0) {
		return fmt.Errorf("%q is not a file name in %s", name, dir)
	}
	return nil
}

// splitPath returns the directory and the file name of path, for the path-based functions.
func splitPath(path string) (dir, name string) {
	return filepath.Dir(path), filepath.Base(path)
}

// describeUser names uid for messages: "uid 1001 (alice)", or "uid 1001" when it has no name.
func describeUser(uid uint32) string {
	s := "uid " + strconv.FormatUint(uint64(uid), 10)
	if u, err := user.LookupId(strconv.FormatUint(uint64(uid), 10)); err == nil && u.Username != "" {
		s += " (" + u.Username + ")"
	}
	return s
}

// kindError is an error with its own message that also matches the sentinel errors in kinds
// (and err, when set) with errors.Is.
type kindError struct {
	msg   string
	kinds []error
	err   error
}

func (e *kindError) Error() string { return e.msg }

func (e *kindError) Unwrap() []error {
	if e.err != nil {
		return append(append([]error{}, e.kinds...), e.err)
	}
	return e.kinds
}

// refusal builds a kindError from a message.
func refusal(kinds []error, format string, a ...any) error {
	return &kindError{msg: fmt.Sprintf(format, a...), kinds: kinds}
}

var (
	unsafeKinds     = []error{ErrUnsafe}
	symlinkKinds    = []error{ErrUnsafe, ErrSymlink}
	unreadableKinds = []error{ErrUnreadable}
	tooLargeKinds   = []error{ErrUnreadable, ErrTooLarge}
)

// tooLargeToRead is the error of a file larger than MaxFileSize.
func tooLargeToRead(path string) error {
	return refusal(tooLargeKinds, "read %s: larger than %d bytes, not a state file", path, MaxFileSize)
}

// tooLargeToWrite is the error of content larger than MaxFileSize: it is not written.
func tooLargeToWrite(path string, size int) error {
	return refusal([]error{ErrTooLarge}, "write %s: %d bytes is more than a state file may hold (%d bytes); nothing was written", path, size, MaxFileSize)
}

// symlinkRefusal is the error of a symbolic link met at path; what is "directory " when a
// directory was expected there.
func symlinkRefusal(what, path string) error {
	target := ""
	if t, err := os.Readlink(path); err == nil {
		target = " (to " + t + ")"
	}
	return refusal(symlinkKinds, "refusing to use %s%s: it is a symbolic link%s, and no symbolic link is followed in a state path: give the real path", what, path, target)
}

// euidText names the effective user for messages.
func ownersText(euid uint32) string {
	if euid == 0 {
		return "root"
	}
	return describeUser(euid) + " or root"
}

// isRefusal reports whether err is one of the package's own refusals, whose message already
// names the path and says why.
func isRefusal(err error) bool {
	var k *kindError
	return errors.As(err, &k)
}

// readError, lockError and openLogError give the errors of opening a file its context.
func readError(path string, err error) error {
	if isRefusal(err) {
		return err
	}
	return fmt.Errorf("read %s: %w", path, explain(err))
}

func lockError(path string, err error) error {
	if isRefusal(err) {
		return err
	}
	return fmt.Errorf("lock %s: %w", path, explain(err))
}

func openLogError(path string, err error) error {
	if isRefusal(err) {
		return err
	}
	return fmt.Errorf("open log %s: %w", path, explain(err))
}

// appendNewline returns line with exactly one trailing newline.
func appendNewline(line []byte) []byte {
	out := make([]byte, 0, len(line)+1)
	out = append(out, bytes.TrimRight(line, "\n")...)
	return append(out, '\n')
}

// readLimited reads f, refusing more than MaxFileSize bytes.
func readLimited(f *os.File) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", f.Name(), err)
	}
	if len(data) > MaxFileSize {
		return nil, tooLargeToRead(f.Name())
	}
	return data, nil
}

// Append adds line and a newline to the file name (created 0600) in one write with O_APPEND,
// which the kernel serialises for local files, then syncs it.
func (d *Dir) Append(name string, line []byte) error {
	f, err := d.open(name, os.O_WRONLY|os.O_APPEND|os.O_CREATE)
	if err != nil {
		return openLogError(d.Join(name), err)
	}
	defer f.Close()
	if _, err := f.Write(appendNewline(line)); err != nil {
		return fmt.Errorf("append to %s: %w", f.Name(), explain(err))
	}
	return f.Sync()
}

// OpenLockFile opens the lock file name (creating it, 0600, when create is set) for the caller to
// lock with its own calls, after the checks of every file of d. The bulkhead's slots use it.
func (d *Dir) OpenLockFile(name string, create bool) (*os.File, error) {
	flag := os.O_RDWR
	if create {
		flag |= os.O_CREATE
	}
	f, err := d.open(name, flag)
	if err != nil {
		return nil, lockError(d.Join(name), err)
	}
	return f, nil
}

// Lock takes an exclusive lock on the lock file name (created 0600 when missing), waiting up to
// LockWait for another holder, and returns the function that releases it. See LockWithin.
func (d *Dir) Lock(name string) (unlock func(), err error) { return d.LockWithin(name, LockWait()) }

// LockShared takes a shared lock on the lock file name (created 0600 when missing), waiting up to
// LockWait while another process holds it exclusively: any number of processes hold it shared at
// once, and none while one holds it exclusively (Lock). It returns the function that releases it.
func (d *Dir) LockShared(name string) (unlock func(), err error) {
	f, err := d.lockFile(name, os.O_RDWR|os.O_CREATE, lockShared, LockWait())
	if err != nil {
		return nil, err
	}
	return func() { f.Close() }, nil
}

// LockWithin is Lock with its own wait (0 tries once). A lock still held by another process after
// wait fails with an error that wraps ErrLockTimeout and says who holds it, where the system
// tells (Linux's /proc/locks). The kernel releases a lock when its holder dies, so a dead holder
// never blocks.
//
// A holder may remove the lock file before it unlocks (retention does, for the files of a session
// it deletes): the lock then taken on the removed file guards nothing, so LockWithin starts over
// on the file now at the name, and two processes never both hold "the" lock.
func (d *Dir) LockWithin(name string, wait time.Duration) (unlock func(), err error) {
	f, err := d.lockFile(name, os.O_RDWR|os.O_CREATE, lockExclusive, wait)
	if err != nil {
		return nil, err
	}
	return func() { f.Close() }, nil
}

// lockFile opens name with flag (after the checks of every file of d) and locks it with kind k,
// waiting up to wait; closing the file releases the lock. A missing file without O_CREATE gives
// an error that wraps fs.ErrNotExist.
func (d *Dir) lockFile(name string, flag int, k lockKind, wait time.Duration) (*os.File, error) {
	deadline := time.Now().Add(wait)
	for {
		f, err := d.open(name, flag)
		if err != nil {
			return nil, lockError(d.Join(name), err)
		}
		ok, err := tryLock(f, k)
		if err == nil && !ok {
			who := holder(f)
			ok, err = waitLock(f, k, time.Until(deadline))
			if err == nil && !ok {
				// f now belongs to waitLock's goroutine, which closes it.
				return nil, refusal([]error{ErrLockTimeout}, "lock %s: held by %s for longer than the lock wait (%s); the state was not changed (set %s to wait longer)",
					d.Join(name), who, wait, LockWaitEnv)
			}
		}
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", d.Join(name), err)
		}
		if d.SameFile(f, name) {
			return f, nil
		}
		f.Close() // the locked file was removed or replaced while we waited: lock the current one
	}
}

// OpenSegment opens the append-only file name of d (created 0600 when create is set) and takes
// its exclusive lock, waiting up to LockWait; see Segment. Without create, a missing file gives
// (nil, nil).
func (d *Dir) OpenSegment(name string, create bool) (*Segment, error) {
	flag := os.O_RDWR | os.O_APPEND
	if create {
		flag |= os.O_CREATE
	}
	f, err := d.lockFile(name, flag, lockData, LockWait())
	if !create && errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return newSegment(f)
}
