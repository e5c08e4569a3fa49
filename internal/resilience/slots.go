package resilience

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"strconv"

	"resilience.ops/internal/state"
)

// localSlots is the default state.SlotProvider: slot i of name is the lock file <name><i>, held
// by an flock (see slotSet). It needs nothing set up and holds on one host only.
type localSlots struct{}

var _ state.SlotProvider = localSlots{}

func (localSlots) Slots(name string, n int) state.SlotSet {
	file := func(i int) string { return name + strconv.Itoa(i) }
	return &localSet{set: newSlotSet(n, file), n: n, file: file}
}

// localSet adapts a slotSet to state.SlotSet.
type localSet struct {
	set  *slotSet
	n    int
	file func(int) string
}

func (l *localSet) Try(first int) (int, io.Closer, error) {
	i, f, err := l.set.try(first)
	if f == nil {
		return i, nil, err
	}
	return i, f, err
}

func (l *localSet) Free() (int, error) { return probeSlots(l.n, l.file) }

func (l *localSet) Close() { l.set.close() }

// slotSet is n lock files of which this process takes at most one: the bulkhead's slots or the
// half-open trial slots. A slot is held by holding a non-blocking exclusive lock on its file, so a
// process that dies never leaks one: the kernel drops its locks. Files stay open between tries,
// so a wait costs one lock call per slot per poll. A slotSet is used by one goroutine.
type slotSet struct {
	name  func(int) string
	files []*os.File // nil: not open yet
}

func newSlotSet(n int, name func(int) string) *slotSet {
	return &slotSet{name: name, files: make([]*os.File, n)}
}

// try tries every slot once, starting at first, and returns the index and the open file of the
// slot it locked (the caller closes the file to release it), or -1 and nil.
func (s *slotSet) try(first int) (int, *os.File, error) {
	n := len(s.files)
	for k := range n {
		i := (first + k) % n
		if s.files[i] == nil {
			f, err := state.OpenLockFile(s.name(i), true)
			if err != nil {
				return -1, nil, err
			}
			s.files[i] = f
		}
		f := s.files[i]
		ok, err := tryLock(f)
		if err != nil {
			return -1, nil, err
		}
		if !ok {
			continue
		}
		s.files[i] = nil
		if !sameFile(f, s.name(i)) {
			// The file was removed or replaced (a clean-up of old files in /tmp): a newcomer
			// would lock the new file, so this lock guards nothing. Open the current one
			// next time.
			f.Close()
			continue
		}
		return i, f, nil
	}
	return -1, nil, nil
}

// close closes the files of the slots not taken.
func (s *slotSet) close() {
	for i, f := range s.files {
		if f != nil {
			f.Close()
			s.files[i] = nil
		}
	}
}

// probeSlots counts the slots that are free now without taking any and without creating files
// (check mode): a slot whose file does not exist is free.
func probeSlots(n int, name func(int) string) (free int, err error) {
	for i := range n {
		f, err := state.OpenLockFile(name(i), false)
		if errors.Is(err, fs.ErrNotExist) {
			free++
			continue
		}
		if err != nil {
			return free, err
		}
		ok, err := tryLock(f)
		f.Close()
		if err != nil {
			return free, err
		}
		if ok {
			free++
		}
	}
	return free, nil
}

// sameFile reports whether the open file f is still the file at path.
func sameFile(f *os.File, path string) bool { return state.SameFile(f, path) }
