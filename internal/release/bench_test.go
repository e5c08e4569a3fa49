//go:build unix

package release

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"resilience.ops/internal/modtest"
)

// BenchmarkModuleInvocation measures one run of the built module on an argument file, as
// ansible-core runs it on the target (time per run; make bench measures peak memory with GNU time),
// with all three built-in checks answered by local fake servers and an unlocked guard. The binary
// size (goal: at most 12 MiB) is reported by tests/bench/run.sh. A report, never a test.
func BenchmarkModuleInvocation(b *testing.B) {
	bin := modtest.BuildBinary(b, "resilience.ops/internal/cmd/qos_guard_release")
	srv := startBackend()
	defer srv.close()
	dir := b.TempDir()
	prog, args := modtest.ModuleDir(b, bin, []byte(`{"path": "`+filepath.Join(dir, "guard")+`", "prom_url": "`+srv.prom.URL+
		`", "loki_url": "`+srv.loki.URL+`", "_ansible_check_mode": false}`))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		cmd := exec.Command(prog, args)
		if out, err := cmd.Output(); err != nil {
			b.Fatalf("%v: %s", err, out)
		}
	}
	if fi, err := os.Stat(bin); err == nil {
		b.ReportMetric(float64(fi.Size())/(1<<20), "binary-MiB")
	}
}
