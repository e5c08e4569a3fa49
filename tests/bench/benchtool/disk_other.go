//go:build !unix

package main

import "os"

// flushDisk does nothing where there is no sync(2); the bench runs on Unix.
func flushDisk() {}

// allocated is unknown off Unix.
func allocated(os.FileInfo) (int64, bool) { return 0, false }
