//go:build unix

package operation

import "syscall"

var syscallZero = syscall.Signal(0)
