//go:build unix

package state

import (
	"errors"
	"io/fs"
	"os"
	"runtime"
	"syscall"
	"time"
)

// lockKind says which lock to take: exclusive, shared (many holders at once, none while an
// exclusive one is held), or exclusive on a data file that others read meanwhile (on Unix the
// same as exclusive: flock is advisory and never keeps a reader out).
type lockKind int

const (
	lockExclusive lockKind = iota
	lockShared
	lockData
)

func (k lockKind) flockOp() int {
	if k == lockShared {
		return syscall.LOCK_SH
	}
	return syscall.LOCK_EX
}

// tryLock takes the flock of kind k on f without waiting: false when another open file
// description holds a conflicting one.
func tryLock(f *os.File, k lockKind) (bool, error) {
	for {
		err := syscall.Flock(int(f.Fd()), k.flockOp()|syscall.LOCK_NB)
		switch {
		case err == nil:
			return true, nil
		case errors.Is(err, syscall.EINTR):
			continue
		case errors.Is(err, syscall.EWOULDBLOCK):
			return false, nil
		}
		return false, err
	}
}

// waitLock waits up to wait for the flock of kind k on f: the kernel wakes the waiter as soon as
// the holder lets go, so waiting costs no polling. When wait runs out, f is handed to the
// goroutine still blocked in flock, which closes it once that returns: the caller must not use
// f any more.
func waitLock(f *os.File, k lockKind, wait time.Duration) (bool, error) {
	if wait <= 0 {
		return false, nil
	}
	fd := int(f.Fd())
	done := make(chan error, 1)
	go func() {
		var err error
		for {
			err = syscall.Flock(fd, k.flockOp())
			if !errors.Is(err, syscall.EINTR) {
				break
			}
		}
		done <- err
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

// fileOwner returns the owner of fi and true, where the system has owners.
func fileOwner(fi fs.FileInfo) (uint32, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return st.Uid, true
}

func isReadOnlyFS(err error) bool { return errors.Is(err, syscall.EROFS) }
func isNoSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

// TryLock takes an exclusive flock on f without waiting: false when another open file
// description holds it.
func TryLock(f *os.File) (bool, error) { return tryLock(f, lockExclusive) }
