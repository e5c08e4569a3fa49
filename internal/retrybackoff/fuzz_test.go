package retrybackoff

import (
	"context"
	"io"
	"strings"
	"testing"
)

// FuzzBackoffArgs: any retry_backoff command line before -- gives exit 0, 1, 2 or 130 and never
// a panic. The command itself is `true`, so nothing slow runs.
func FuzzBackoffArgs(f *testing.F) {
	for _, seed := range []string{"3 5", "", "0 5", "abc", "--max-delay 1 3 0", "--jitter full 2 0", "--retry-exit-codes 1,x 2 0", "-h", "--timeout -1 1 0"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, line string) {
		args := append(strings.Fields(line), "--", "true")
		code := Backoff(context.Background(), args, io.Discard, io.Discard, func(string) string { return "" },
			Deps{Clock: newFakeClock(), Rand: zero})
		switch code {
		case 0, 1, 2, 130:
		default:
			t.Fatalf("exit %d for %q", code, line)
		}
	})
}
