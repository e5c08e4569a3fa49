package modtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"resilience.ops/internal/module"
)

// ModuleCommand returns the command that runs the built binary bin on argsJSON as ansible-core
// runs a binary module (see ModuleDir).
func ModuleCommand(tb testing.TB, bin string, argsJSON []byte) *exec.Cmd {
	tb.Helper()
	return exec.Command(ModuleDir(tb, bin, argsJSON))
}

// ModuleDir lays out a task's temporary directory the way ansible-core does for a binary module:
// the program as AnsiballZ_<name>, its arguments in a file named args beside it. It returns both
// paths, the program's first. bin is a built binary; argsJSON the content of the argument file.
func ModuleDir(tb testing.TB, bin string, argsJSON []byte) (prog, args string) {
	tb.Helper()
	dir := tb.TempDir()
	prog = filepath.Join(dir, module.ModulePrefix+filepath.Base(bin))
	if err := os.Link(bin, prog); err != nil { // a hard link: argv[0] is the task's copy
		if err := copyFile(bin, prog); err != nil {
			tb.Fatal(err)
		}
	}
	args = filepath.Join(dir, "args")
	if err := os.WriteFile(args, argsJSON, 0o600); err != nil {
		tb.Fatal(err)
	}
	return prog, args
}

func copyFile(from, to string) error {
	data, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, data, 0o700)
}

// ScriptModule is the testscript command `module <program> <file>`: it runs the registered
// command AnsiballZ_<program> on a copy of file named args in the script's directory, which is
// how ansible-core runs a binary module (module.ArgsFile). The scripts register
// AnsiballZ_<program> beside <program>.
func ScriptModule(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: module program file")
	}
	ts.Check(os.WriteFile(ts.MkAbs("args"), []byte(ts.ReadFile(args[1])), 0o600))
	err := ts.Exec(module.ModulePrefix+args[0], "args")
	switch {
	case err == nil && neg:
		ts.Fatalf("unexpected module success")
	case err != nil && !neg:
		ts.Fatalf("module %s %s: %v", args[0], args[1], err)
	}
}
