package release

import (
	"os"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"resilience.ops/internal/modtest"
	"resilience.ops/internal/qosguard"
)

// TestMain lets the test binary act as qos_guard_release (and qos_guard, to lock a guard) inside
// the scripts.
func TestMain(m *testing.M) {
	release := func() { os.Exit(Main(os.Args, os.Stdout, os.Stderr, os.Getenv)) }
	guard := func() { os.Exit(qosguard.Main(os.Args, os.Stdout, os.Stderr, os.Getenv)) }
	testscript.Main(m, map[string]func(){
		"qos_guard_release": release, "AnsiballZ_qos_guard_release": release,
		"qos_guard": guard, "AnsiballZ_qos_guard": guard,
	})
}

// TestScripts runs the built program on argument files, as ansible-core does, and from the
// command line (testdata/script/*.txtar), against the fake Prometheus and Loki of fake_test.go,
// whose URLs are $PROM and $LOKI.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(env *testscript.Env) error {
			b := startBackend()
			env.Defer(b.close)
			env.Setenv("PROM", b.prom.URL)
			env.Setenv("LOKI", b.loki.URL)
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"module": modtest.ScriptModule,
			// subst file...: expand $VARIABLES in the files, so that argument files can name the servers.
			"subst": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg || len(args) == 0 {
					ts.Fatalf("usage: subst file...")
				}
				for _, f := range args {
					ts.Check(os.WriteFile(ts.MkAbs(f), []byte(os.Expand(ts.ReadFile(f), ts.Getenv)), 0o600))
				}
			},
		},
	})
}
