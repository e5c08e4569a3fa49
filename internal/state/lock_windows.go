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

// lockKind says which lock to take: exclusive, shared (many holders at once, none while an
// exclusive one is held), or exclusive on a data file that others read meanwhile. Windows byte
// range locks are mandatory: a lock on byte 0 of a data file would keep readers out, so the
// lock of a data file is taken on one byte far beyond its end (dataLockOffset), which no read
// ever reaches.
type lockKind int

const (
	lockExclusive lockKind = iota
	lockShared
	lockData
)

// dataLockOffset is the byte that lockData locks: 2^62, beyond any state file.
const dataLockOffset = 1 << 62

// flags and overlapped are the LockFileEx arguments of kind k.
func (k lockKind) flags() uintptr {
	if k == lockShared {
		return 0
	}
	return lockfileExclusiveLock
}

func (k lockKind) overlapped() *syscall.Overlapped {
	ol := new(syscall.Overlapped)
	if k == lockData {
		ol.Offset, ol.OffsetHigh = uint32(dataLockOffset&0xffffffff), uint32(dataLockOffset>>32)
	}
	return ol
}

// tryLock takes the lock of kind k on f with LockFileEx without waiting: false when another
// handle holds a conflicting one. Windows releases a lock when its handle is closed or its
// process dies.
func tryLock(f *os.File, k lockKind) (bool, error) {
	ol := k.overlapped()
	r, _, e := procLockFileEx.Call(f.Fd(), k.flags()|lockfileFailImmediately, 0, 1, 0, uintptr(unsafe.Pointer(ol)))
	if r != 0 {
		return true, nil
	}
	if e == errorLockViolation {
		return false, nil
	}
	return false, e
}

// waitLock waits up to wait for the lock of kind k on f (see the Unix version): when wait runs
// out, f belongs to the goroutine still waiting, which closes it.
func waitLock(f *os.File, k lockKind, wait time.Duration) (bool, error) {
	if wait <= 0 {
		return false, nil
	}
	h := f.Fd()
	done := make(chan error, 1)
	go func() {
		ol := k.overlapped()
		r, _, e := procLockFileEx.Call(h, k.flags(), 0, 1, 0, uintptr(unsafe.Pointer(ol)))
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

// TryLock takes an exclusive lock on f with LockFileEx without waiting: false when another
// handle holds it. Windows releases a lock when its handle is closed or its process dies.
func TryLock(f *os.File) (bool, error) { return tryLock(f, lockExclusive) }
