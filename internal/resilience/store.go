package resilience

import (
	"path/filepath"

	"resilience.ops/internal/state"
)

// localStore is the default store of the state documents: the locking, atomic replacement and
// path checks of state.FileStore (state.UpdateWith: the state directory opened without following
// a symbolic link and refused when another user could change it, the lock <file>.lock waited for
// at most state.LockWait), without its two fsyncs per update. The documents are advisory counters: a replacement by rename is atomic for
// every process, including one killed mid-write, so only a crash of the whole host could lose the
// last updates (or, on some file systems, leave an empty file, which decodes as corrupt and is
// replaced by a fresh closed state with a warning). Not syncing makes an update about 3 times
// cheaper on this project's CI disk, and far more on disks where fsync costs milliseconds; that
// is what keeps 50 forks on one key under the 2 ms per update goal. Use WithStore(state.FileStore{})
// for durable documents.
//
// The temporary file has a fixed name, <dir>/.<name>.tmp, used only under the lock: one left
// behind by a killed writer is removed and made again by the next, so killed processes leave no
// litter. localStore is safe for concurrent use by goroutines and processes.
type localStore struct{}

var _ state.Store = localStore{}

func (localStore) Load(path string) ([]byte, error) { return state.ReadFile(path) }

func (localStore) Append(path string, line []byte) error { return state.FileStore{}.Append(path, line) }

func (localStore) Update(path string, fn func(cur []byte) ([]byte, error)) error {
	tmp := "." + filepath.Base(path) + ".tmp"
	return state.UpdateWith(path, state.WriteOptions{NoSync: true, Temp: tmp}, fn)
}
