//go:build unix

package main

import (
	"os"
	"syscall"
)

// flushDisk asks the kernel to write dirty pages out, so that a measurement
// that follows does not pay for what was written before it.
func flushDisk() { syscall.Sync() }

// allocated is the space fi takes on disk, in bytes; false when unknown.
func allocated(fi os.FileInfo) (int64, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return st.Blocks * 512, true
}
