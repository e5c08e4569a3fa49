//go:build windows

package state

import (
	"io/fs"
	"os"
	"runtime"
	"syscall"
	"time"
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

// TryLock takes an exclusive lock on f with LockFileEx without waiting: false when another
// handle holds it. Windows releases a lock when its handle is closed or its process dies.
func TryLock(f *os.File) (bool, error) {
	var ol syscall.Overlapped
	r, _, e := procLockFileEx.Call(f.Fd(), lockfileExclusiveLock|lockfileFailImmediately, 0, 1, 0, uintptr(unsafe.Pointer(&ol)))
	if r != 0 {
		return true, nil
	}
	if e == errorLockViolation {
		return false, nil
	}
	return false, e
}

// waitLock waits up to wait for the exclusive lock on f (see the Unix version): when wait runs
// out, f belongs to the goroutine still waiting, which closes it.
func waitLock(f *os.File, wait time.Duration) (bool, error) {
	if wait <= 0 {
		return false, nil
	}
	h := f.Fd()
	done := make(chan error, 1)
	go func() {
		var ol syscall.Overlapped
		r, _, e := procLockFileEx.Call(h, lockfileExclusiveLock, 0, 1, 0, uintptr(unsafe.Pointer(&ol)))
		if r != 0 {
			e = nil
		}
		if e == nil {
			done <- nil
			return
		}
		done <- e
	}()
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case err := <-done:
		runtime.KeepAlive(f)
		return err == nil, err
	case <-t.C:
		go func() {
			<-done
			f.Close()
		}()
		return false, nil
	}
}

// fileOwner: Windows files have no Unix owner.
func fileOwner(fs.FileInfo) (uint32, bool) { return 0, false }

func isReadOnlyFS(error) bool { return false }
func isNoSpace(error) bool    { return false }
