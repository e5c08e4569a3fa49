//go:build unix && !linux

package operation

import "syscall"

// becomeSubreaper is false: only Linux lets a process adopt its orphaned descendants, so
// elsewhere the command's processes are its process group, and a process that leaves the group
// (setsid) is not ended.
func becomeSubreaper() bool { return false }

func (t *procTree) tracked() bool { return false }

func (t *procTree) signalRest(syscall.Signal, map[int]bool) []int { return nil }
