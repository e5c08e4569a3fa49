package qosguard

import (
	"os"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestMain lets the test binary act as qos_guard inside the scripts.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"qos_guard": func() { os.Exit(Main(os.Args[1:], os.Stdout, os.Stderr, os.Getenv)) },
	})
}

// TestScripts runs the built program on argument files, as ansible-core does, and from the
// command line (testdata/script/*.txtar).
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{Dir: "testdata/script"})
}
