package resilience

import (
	"fmt"
	"os"

	"resilience.ops/internal/state"
)

// tryLock takes an exclusive lock on f without waiting (state.TryLock: flock, or LockFileEx on
// Windows): false when another open file holds it. The system drops the lock when f is closed or
// the process dies. An error names the file.
func tryLock(f *os.File) (bool, error) {
	ok, err := state.TryLock(f)
	if err != nil {
		return false, fmt.Errorf("lock %s: %w", f.Name(), err)
	}
	return ok, nil
}
