package qosguard

import (
	"io"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzCLI: any command line gives an exit status of 0, 1 or 2 and never a panic.
func FuzzCLI(f *testing.F) {
	for _, seed := range []string{"status", "lock 15", "lock abc", "unlock --id x", "--force lock 5", "-h", "", "lock 99999999999999999999", "--path"} {
		f.Add(seed)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, line string) {
		env := map[string]string{"QOS_GUARD_FILE": filepath.Join(dir, "g")}
		code := cli(strings.Fields(line), io.Discard, io.Discard, func(k string) string { return env[k] })
		if code < 0 || code > 2 {
			t.Fatalf("exit %d for %q", code, line)
		}
	})
}
