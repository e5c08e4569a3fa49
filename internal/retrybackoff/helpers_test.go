package retrybackoff

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"resilience.ops/internal/fakeclock"
)

// fakeClock is the test clock (package fakeclock): nothing sleeps for real.
type fakeClock = fakeclock.Clock

// newFakeClock returns a clock on which every reading is a millisecond after the one before:
// attempts take a little time.
func newFakeClock() *fakeClock {
	c := fakeclock.New(time.Date(2026, 1, 2, 3, 4, 5, int(time.Millisecond), time.UTC))
	c.SetTick(time.Millisecond)
	return c
}

// slept returns the waits of clk in seconds.
func slept(clk *fakeClock) []float64 {
	var out []float64
	for _, d := range clk.Sleeps() {
		out = append(out, d.Seconds())
	}
	return out
}

func zero() float64 { return 0 }

// flaky is a shell command that fails with msg until it has run n times.
func flaky(t *testing.T, n int, msg string) string {
	counter := filepath.Join(t.TempDir(), "count")
	return fmt.Sprintf(`c=$(cat %[1]s 2>/dev/null || echo 0); c=$((c+1)); echo $c > %[1]s; `+
		`if [ $c -ge %[2]d ]; then echo done at $c; else echo '%[3]s' >&2; exit 1; fi`, counter, n, msg)
}
