//go:build windows

package resilience

import (
	"fmt"
	"os"
	"syscall"
	"unsafe"
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
