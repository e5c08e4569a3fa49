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

// TryLock takes an exclusive flock on f without waiting: false when another open file
// description holds it.
func TryLock(f *os.File) (bool, error) {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
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

// waitLock waits up to wait for the exclusive flock on f: the kernel wakes the waiter as soon as
// the holder lets go, so waiting costs no polling. When wait runs out, f is handed to the
// goroutine still blocked in flock, which closes it once that returns: the caller must not use
// f any more.
func waitLock(f *os.File, wait time.Duration) (bool, error) {
	if wait <= 0 {
		return false, nil
	}
	fd := int(f.Fd())
	done := make(chan error, 1)
	go func() {
		var err error
		for {
			err = syscall.Flock(fd, syscall.LOCK_EX)
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
