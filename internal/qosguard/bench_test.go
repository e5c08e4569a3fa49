//go:build unix

package qosguard

import (
	"os/exec"
	"path/filepath"
	"testing"

	"resilience.ops/internal/modtest"
)

// BenchmarkModuleInvocation measures one run of the built module on an argument file, as
// ansible-core runs it on the target: the time per run. Peak memory is measured by make bench with
// GNU time: a child's rusage on Linux starts from the size of the process that started it.
// Goals: under 5 ms and under 10 MiB. A report, never a test.
func BenchmarkModuleInvocation(b *testing.B) {
	bin := modtest.BuildBinary(b, "resilience.ops/internal/cmd/qos_guard")
	dir := b.TempDir()
	prog, args := modtest.ModuleDir(b, bin, []byte(`{"path": "`+filepath.Join(dir, "guard")+`", "state": "status", "_ansible_check_mode": false}`))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		cmd := exec.Command(prog, args)
		if err := cmd.Run(); err != nil {
			b.Fatal(err)
		}
	}
}
