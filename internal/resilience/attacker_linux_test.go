package resilience

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"resilience.ops/internal/modtest"
	"resilience.ops/internal/retry"
)

// Issue 16, finding 2: with /tmp/ansible_retry made first by another user, root created circuit/
// in it; the user then swapped circuit for a symbolic link to a directory of theirs with a breaker
// "open until 9999", and every operation on that key failed with circuit_open without running.
// Now the state directory is refused (a warning naming it and its owner), nothing is created in
// it, and the breaker's state there is never read: the call is let through, as for any state
// that cannot be read.
func TestAttackerCannotOpenTheBreaker(t *testing.T) {
	t.Parallel()
	a := modtest.NewAttacker(t)
	const key = "vcenter01"

	// The attacker's breaker document: open until the year 9999.
	doc := freshDocument(key)
	doc.Breaker.State, doc.Breaker.OpenUntil = Open, time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
	data, err := encode(doc)
	if err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(modtest.PrivateDir(t), "open.json")
	if err := os.WriteFile(src, data, 0o644); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		// plant runs as the attacker once root has run in stateDir: it puts the open breaker where
		// root would read it.
		plant string
	}{
		{"circuit swapped for a symlink to the attacker's directory",
			`mkdir -m 0755 "$D/../mine"; cp "$SRC" "$D/../mine/$F"; rm -rf "$D/circuit"; ln -s ../mine "$D/circuit"`},
		{"circuit made by the attacker", `mkdir -p -m 0755 "$D/circuit"; cp "$SRC" "$D/circuit/$F"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			stateDir := filepath.Join(modtest.SharedDir(t), "ansible_retry")
			a.Run(t, "mkdir", "-m", "0755", stateDir)
			s := enabled(stateDir)
			s.Bulkhead.Enabled = false
			g, _ := newTest(t, s)

			// Root's first run: refused with a warning; nothing created in the attacker's directory.
			adm := before(t, g, key)
			if !adm.Admitted {
				t.Fatalf("first run refused: %+v", adm)
			}
			rep := g.AfterAttempt(adm, retry.ConnectionError, true)
			warns := strings.Join(append(adm.Warnings, rep.Warnings...), "\n")
			for _, w := range []string{stateDir, a.Name, "let through"} {
				if !strings.Contains(warns, w) {
					t.Errorf("warnings %q do not name %q", warns, w)
				}
			}
			if ents, _ := os.ReadDir(stateDir); len(ents) != 0 {
				t.Fatalf("root created %v in the attacker's state directory", ents)
			}

			cmd := a.Command("sh", "-ec", tt.plant)
			cmd.Env = append(cmd.Env, "D="+stateDir, "SRC="+src, "F="+filepath.Base(g.StateFile(key)))
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("plant: %v\n%s", err, out)
			}
			for i := range 3 {
				adm := before(t, g, key)
				if !adm.Admitted || adm.ErrorType != "" {
					t.Fatalf("run %d after the attacker planted an open breaker: %+v, want it let through", i, adm)
				}
				if w := strings.Join(adm.Warnings, "\n"); !strings.Contains(w, a.Name) && !strings.Contains(w, "symbolic link") {
					t.Errorf("warnings %q do not say why the state was not used", w)
				}
				g.AfterAttempt(adm, "", false)
				adm.Release()
			}
		})
	}
}
