//go:build unix

package state

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

const oNoFollow = syscall.O_NOFOLLOW

// Lock takes an exclusive advisory lock on path (created 0600 if needed) and returns the
// function that releases it. The kernel releases the lock when the process dies, so a dead
// holder never blocks others.
//
// A holder may remove the lock file before it unlocks (retention does, for the files of a session
// it deletes): Lock then finds that the file it locked is no longer the one at path and starts
// over on the new file, so two processes never both hold "the" lock.
func Lock(path string) (unlock func(), err error) {
	for {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW, FileMode)
		if err != nil {
			if errors.Is(err, syscall.ELOOP) {
				return nil, fmt.Errorf("%s: %w", path, ErrSymlink)
			}
			return nil, fmt.Errorf("lock %s: %w", path, explain(err))
		}
		for {
			err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
			if !errors.Is(err, syscall.EINTR) {
				break
			}
		}
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		held, herr := f.Stat()
		cur, cerr := os.Lstat(path)
		if herr == nil && cerr == nil && os.SameFile(held, cur) {
			return func() { f.Close() }, nil
		}
		f.Close() // the locked file was removed or replaced while we waited: lock the current one
	}
}

func checkDirSafe(dir string, fi fs.FileInfo) error {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	if fi.Mode().Perm()&0o022 != 0 && fi.Mode()&fs.ModeSticky == 0 {
		return fmt.Errorf("refusing to use directory %s: other users can write to it (mode %o) and it has no sticky bit", dir, fi.Mode().Perm())
	}
	if uid := uint32(os.Geteuid()); st.Uid != uid && st.Uid != 0 {
		return fmt.Errorf("refusing to use directory %s: it belongs to uid %d, not to this user (%d) or root", dir, st.Uid, uid)
	}
	return nil
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}

func isReadOnlyFS(err error) bool { return errors.Is(err, syscall.EROFS) }
func isNoSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}
