//go:build unix

package retrymod

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// BenchmarkModuleInvocation measures one run of the built module on an argument file, as
// ansible-core runs it on the target: the time per run. Peak memory is measured by make bench with
// GNU time: a child's rusage on Linux starts from the size of the process that started it.
// One attempt of a command that succeeds. A report, never a test.
func BenchmarkModuleInvocation(b *testing.B) {
	bin := buildBinaryB(b)
	dir := b.TempDir()
	args := filepath.Join(dir, "args")
	if err := os.WriteFile(args, []byte(`{"operation": "noop", "argv": ["true"], "_ansible_check_mode": false}`), 0o600); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		cmd := exec.Command(bin, args)
		if err := cmd.Run(); err != nil {
			b.Fatal(err)
		}
	}
}

func buildBinaryB(b *testing.B) string {
	b.Helper()
	bin := filepath.Join(b.TempDir(), "retry_manager")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, "resilience.ops/internal/cmd/retry_manager")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}
