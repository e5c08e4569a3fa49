//go:build linux

package operation

import (
	"bytes"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// prSetChildSubreaper is PR_SET_CHILD_SUBREAPER of prctl(2) (Linux 3.4).
const prSetChildSubreaper = 36

var subreaper = sync.OnceValue(func() bool {
	_, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0)
	return errno == 0
})

// becomeSubreaper makes this process the child subreaper of its descendants, once: an orphan of
// a command (its parent exited, or it detached with setsid and a double fork) is re-parented to
// this process instead of init, so it stays among this process's descendants, where signalRest
// finds it. Any user may do this; it reports whether it worked.
func becomeSubreaper() bool { return subreaper() }

func (t *procTree) tracked() bool { return t.marker != "" }

// proc is one process as /proc/<pid>/stat shows it.
type proc struct {
	pid, ppid, pgid int
	zombie          bool
}

// readProc reads /proc/<pid>/stat; the command name in parentheses may hold anything, so the
// fields are read after its last ')'.
func readProc(pid int) (proc, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return proc{}, false
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return proc{}, false
	}
	f := bytes.Fields(b[i+1:]) // state ppid pgrp ...
	if len(f) < 3 {
		return proc{}, false
	}
	ppid, err1 := strconv.Atoi(string(f[1]))
	pgid, err2 := strconv.Atoi(string(f[2]))
	if err1 != nil || err2 != nil {
		return proc{}, false
	}
	return proc{pid: pid, ppid: ppid, pgid: pgid, zombie: f[0][0] == 'Z' || f[0][0] == 'X'}, true
}

// markerOf reads the attempt marker of a process from /proc/<pid>/environ (the environment it
// started with): ok false when it cannot be read (a zombie, another user's process). A process in
// the middle of execve shows an empty environment for a moment: it is read again, briefly.
func markerOf(pid int) (marker string, ok bool) {
	path := "/proc/" + strconv.Itoa(pid) + "/environ"
	var b []byte
	for try := 0; try < 100; try++ {
		var err error
		if b, err = os.ReadFile(path); err != nil {
			return "", false // gone, or not ours to read
		}
		if len(b) > 0 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if len(b) == 0 {
		return "", false
	}
	prefix := []byte(AttemptEnv + "=")
	for _, kv := range bytes.Split(b, []byte{0}) {
		if bytes.HasPrefix(kv, prefix) {
			marker = string(kv) // the last one wins, as getenv's
		}
	}
	return marker, true
}

// signalRest finds the processes of the command among this process's descendants and sends sig
// to those alive (0 only checks); it returns their pids. A descendant belongs to the command when
// it carries the command's marker, when its parent belongs to it, or when it is in the command's
// process group and carries no marker at all (it cleared its environment). known remembers the
// processes found, so that those that died are reaped once re-parented to this process: a zombie
// is reaped only when it is known, never a child that os/exec waits for.
func (t *procTree) signalRest(sig syscall.Signal, known map[int]bool) []int {
	self := os.Getpid()
	group := t.cmd.Process.Pid
	d, err := os.Open("/proc")
	if err != nil {
		return nil
	}
	names, _ := d.Readdirnames(-1)
	d.Close()
	children := map[int][]proc{}
	for _, n := range names {
		pid, err := strconv.Atoi(n)
		if err != nil || pid == self {
			continue
		}
		if p, ok := readProc(pid); ok {
			children[p.ppid] = append(children[p.ppid], p)
		}
	}
	var alive []int
	var walk func(parent int, parentIn bool)
	walk = func(parent int, parentIn bool) {
		for _, p := range children[parent] {
			in := parentIn || known[p.pid]
			if !in && !p.zombie {
				m, ok := markerOf(p.pid)
				in = m == t.marker || ok && m == "" && p.pgid == group
			}
			if in {
				known[p.pid] = true
				if p.zombie {
					if p.ppid == self && p.pid != group { // the command itself is os/exec's to wait for
						var ws syscall.WaitStatus
						_, _ = syscall.Wait4(p.pid, &ws, syscall.WNOHANG, nil)
					}
				} else {
					if sig != 0 {
						_ = syscall.Kill(p.pid, sig)
					}
					alive = append(alive, p.pid)
				}
			}
			walk(p.pid, in)
		}
	}
	walk(self, false)
	return alive
}
