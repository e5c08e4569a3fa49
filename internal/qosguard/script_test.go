package qosguard

import (
	"os"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"resilience.ops/internal/modtest"
)

// TestMain lets the test binary act as qos_guard inside the scripts, from a shell and as
// ansible-core runs it (AnsiballZ_qos_guard, see modtest.ScriptModule).
func TestMain(m *testing.M) {
	run := func() { os.Exit(Main(os.Args, os.Stdout, os.Stderr, os.Getenv)) }
	testscript.Main(m, map[string]func(){"qos_guard": run, "AnsiballZ_qos_guard": run})
}

// TestScripts runs the built program on argument files, as ansible-core does, and from the
// command line (testdata/script/*.txtar).
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:  "testdata/script",
		Cmds: map[string]func(*testscript.TestScript, bool, []string){"module": modtest.ScriptModule},
	})
}
