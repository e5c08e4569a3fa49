//go:build unix

package retrymod

import (
	"os/exec"
	"testing"

	"resilience.ops/internal/modtest"
)

// BenchmarkModuleInvocation measures one run of the built module on an argument file, as
// ansible-core runs it on the target: the time per run. Peak memory is measured by make bench with
// GNU time: a child's rusage on Linux starts from the size of the process that started it.
// One attempt of a command that succeeds. A report, never a test.
func BenchmarkModuleInvocation(b *testing.B) {
	bin := modtest.BuildBinary(b, "resilience.ops/internal/cmd/retry_manager")
	prog, args := modtest.ModuleDir(b, bin, []byte(`{"operation": "noop", "argv": ["true"], "_ansible_check_mode": false}`))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		cmd := exec.Command(prog, args)
		if err := cmd.Run(); err != nil {
			b.Fatal(err)
		}
	}
}
