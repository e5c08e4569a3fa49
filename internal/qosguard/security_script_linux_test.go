package qosguard

import (
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"resilience.ops/internal/guard"
	"resilience.ops/internal/modtest"
)

// TestSecurityScripts runs the built program (testdata/security/*.txtar) against the guard files
// of issue 16, findings 3 and 4: in a directory like /tmp ($SHARED) where a real unprivileged user
// (modtest.AttackerName) plants files and holds locks with processes of its own, and with oversized
// values. Commands besides testscript's own:
//
//	module qos_guard file        run the module on file as ansible-core does (modtest.ScriptModule)
//	attacker prog args...        run prog as the attacker (! when it must fail)
//	attacker-hold path           the attacker holds an flock on path until the script ends
//	subst file...                expand $VARIABLES in files (argument files that name $SHARED)
//	bigreason file path n        write the argument file of a lock of path with a reason of n bytes
//	bigguard path n              write a guard document with a reason of n bytes at path, as an
//	                             older version wrote it
func TestSecurityScripts(t *testing.T) {
	a := modtest.NewAttacker(t)
	testscript.Run(t, testscript.Params{
		Dir: "testdata/security",
		Setup: func(env *testscript.Env) error {
			dir, remove, err := modtest.NewSharedDir()
			if err != nil {
				return err
			}
			env.Defer(remove)
			env.Setenv("SHARED", dir)
			env.Setenv("ATTACKER", a.Name)
			env.Setenv("LONG", strings.Repeat("r", guard.MaxReasonBytes+1))
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"module": modtest.ScriptModule,
			"attacker": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) == 0 {
					ts.Fatalf("usage: attacker prog args...")
				}
				out, err := a.Command(args[0], args[1:]...).CombinedOutput()
				ts.Logf("as %s: %s: %s", a.Name, strings.Join(args, " "), out)
				if (err != nil) != neg {
					ts.Fatalf("as %s: %s: %v", a.Name, strings.Join(args, " "), err)
				}
			},
			"attacker-hold": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 1 || neg {
					ts.Fatalf("usage: attacker-hold path")
				}
				h, err := a.StartLockHolder(ts.MkAbs(args[0]))
				ts.Check(err)
				ts.Defer(h.Release)
				ts.Setenv("HOLDER_PID", strconv.Itoa(h.Pid))
			},
			"subst": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg || len(args) == 0 {
					ts.Fatalf("usage: subst file...")
				}
				for _, f := range args {
					ts.Check(os.WriteFile(ts.MkAbs(f), []byte(os.Expand(ts.ReadFile(f), ts.Getenv)), 0o600))
				}
			},
			"bigreason": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 3 || neg {
					ts.Fatalf("usage: bigreason file path n")
				}
				n, err := strconv.Atoi(args[2])
				ts.Check(err)
				b, err := json.Marshal(map[string]any{"path": args[1], "state": "locked", "minutes": 5,
					"reason": strings.Repeat("r", n), "_ansible_check_mode": false})
				ts.Check(err)
				ts.Check(os.WriteFile(ts.MkAbs(args[0]), b, 0o600))
			},
			"bigguard": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 2 || neg {
					ts.Fatalf("usage: bigguard path n")
				}
				n, err := strconv.Atoi(args[1])
				ts.Check(err)
				doc := `{"id":"0123456789abcdef","locked_at":"2025-01-01T00:00:00Z","expires_at":"2099-01-01T00:00:00Z","owner":"old@host","reason":"` +
					strings.Repeat("r", n) + `","window_minutes":15}`
				ts.Check(os.WriteFile(ts.MkAbs(args[0]), []byte(doc), 0o600))
			},
		},
	})
}
