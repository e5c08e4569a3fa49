//go:build windows

package resilience

import (
	"fmt"
	"io/fs"
	"os"
	"syscall"
	"unsafe"

	"resilience.ops/internal/state"
)

var (
	kernel32       = syscall.NewLazyDLL("kernel32.dll")
	procLockFileEx = kernel32.NewProc("LockFileEx")
)

const (
	lockfileFailImmediately = 0x1
	lockfileExclusiveLock   = 0x2
	errorLockViolation      = syscall.Errno(33) // ERROR_LOCK_VIOLATION
)

// oNoFollow is not needed on Windows, where creating symbolic links takes a privilege.
const oNoFollow = 0

// openLockFile opens the lock file path, creating it when create is set, and refusing a
// symbolic link.
func openLockFile(path string, create bool) (*os.File, error) {
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		return nil, fmt.Errorf("%s: %w", path, state.ErrSymlink)
	}
	flag := os.O_RDWR
	if create {
		flag |= os.O_CREATE
	}
	return os.OpenFile(path, flag, state.FileMode)
}

// tryLock takes an exclusive lock on f with LockFileEx and LOCKFILE_FAIL_IMMEDIATELY: false when
// another handle holds it. Windows releases the lock when f is closed or the process dies.
func tryLock(f *os.File) (bool, error) {
	var ol syscall.Overlapped
	r, _, e := procLockFileEx.Call(f.Fd(), lockfileExclusiveLock|lockfileFailImmediately, 0, 1, 0, uintptr(unsafe.Pointer(&ol)))
	if r != 0 {
		return true, nil
	}
	if e == errorLockViolation {
		return false, nil
	}
	return false, fmt.Errorf("lock %s: %w", f.Name(), e)
}
