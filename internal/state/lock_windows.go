//go:build windows

package state

import (
	"fmt"
	"io/fs"
	"os"
	"syscall"
	"unsafe"
)

const oNoFollow = 0

var (
	kernel32       = syscall.NewLazyDLL("kernel32.dll")
	procLockFileEx = kernel32.NewProc("LockFileEx")
)

const lockfileExclusiveLock = 0x2

// Lock takes an exclusive lock on path with LockFileEx; Windows releases it when the process
// dies.
func Lock(path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, FileMode)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, explain(err))
	}
	var ol syscall.Overlapped
	r, _, e := procLockFileEx.Call(f.Fd(), lockfileExclusiveLock, 0, 1, 0, uintptr(unsafe.Pointer(&ol)))
	if r == 0 {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, e)
	}
	return func() { f.Close() }, nil
}

func checkDirSafe(string, fs.FileInfo) error { return nil }
func syncDir(string)                         {}
func isReadOnlyFS(error) bool                { return false }
func isNoSpace(error) bool                   { return false }
