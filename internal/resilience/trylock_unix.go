//go:build unix

package resilience

import (
	"errors"
	"fmt"
	"os"
	"syscall"

	"resilience.ops/internal/state"
)

// oNoFollow makes opening a symbolic link fail.
const oNoFollow = syscall.O_NOFOLLOW

// openLockFile opens the lock file path, creating it (0600) when create is set, and refusing a
// symbolic link.
func openLockFile(path string, create bool) (*os.File, error) {
	flag := os.O_RDWR | syscall.O_NOFOLLOW
	if create {
		flag |= os.O_CREATE
	}
	f, err := os.OpenFile(path, flag, state.FileMode)
	if errors.Is(err, syscall.ELOOP) {
		return nil, fmt.Errorf("%s: %w", path, state.ErrSymlink)
	}
	return f, err
}

// tryLock takes an exclusive flock on f without waiting: false when another open file holds it.
// The kernel drops the lock when f is closed or the process dies.
func tryLock(f *os.File) (bool, error) {
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
		return false, fmt.Errorf("lock %s: %w", f.Name(), err)
	}
}
