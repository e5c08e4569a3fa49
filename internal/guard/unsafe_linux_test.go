package guard

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"resilience.ops/internal/fakeclock"
	"resilience.ops/internal/modtest"
	"resilience.ops/internal/state"
)

// The guard's files in shared directories, and oversized values (issue 16, findings 3 and 4).

// fileGuard is a guard kept in local files at path, with the test clock and ids.
func fileGuard(path string) *Guard {
	ids := &seqIDs{}
	return &Guard{Path: path, Store: state.FileStore{}, Clock: fakeclock.New(t0), NewID: ids.Next, Actor: actor}
}

// watchdog fails t when fn has not returned long after any sane bound (these calls used to block
// for ever). It never decides a passing test.
func watchdog(t *testing.T, what string, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		t.Fatalf("%s hangs", what)
	}
}

func wantErrWith(t *testing.T, what string, err error, kind error, words ...string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s succeeded, want an error", what)
		return
	}
	t.Logf("%s: %v", what, err)
	if kind != nil && !errors.Is(err, kind) {
		t.Errorf("%s error = %v, want it to wrap %v", what, err, kind)
	}
	for _, w := range words {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%s error = %v, want it to contain %q", what, err, w)
		}
	}
}

func fileContent(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	return string(b)
}

var lockedUnknown = Status{Locked: true, Unknown: true}

// Finding 4: a free text over its limit is refused before anything is written, in check mode too.
func TestOversizedTextIsRefused(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "run", "qos.guard")
	g := fileGuard(path)
	huge := strings.Repeat("r", 15<<20)
	for _, check := range []bool{true, false} {
		_, err := g.Lock(LockRequest{Minutes: 5, Reason: huge}, check)
		var le *LimitError
		if !errors.As(err, &le) || le.Field != "reason" || le.Max != MaxReasonBytes || le.Got != len(huge) {
			t.Errorf("Lock(reason of 15 MiB, check=%v) error = %v, want a LimitError of reason", check, err)
		}
		_, err = g.Lock(LockRequest{Minutes: 5, Owner: strings.Repeat("o", MaxOwnerBytes+1)}, check)
		if !errors.As(err, &le) || le.Field != "owner" {
			t.Errorf("Lock(long owner) error = %v, want a LimitError of owner", err)
		}
		_, err = g.Unlock(UnlockRequest{Reason: huge, Force: true}, check)
		if !errors.As(err, &le) || le.Field != "reason" {
			t.Errorf("Unlock(reason of 15 MiB) error = %v, want a LimitError of reason", err)
		}
		_, err = g.Unlock(UnlockRequest{LockID: strings.Repeat("i", MaxLockIDBytes+1)}, check)
		if !errors.As(err, &le) || le.Field != "lock_id" {
			t.Errorf("Unlock(long lock_id) error = %v, want a LimitError of lock_id", err)
		}
	}
	if _, err := os.Stat(filepath.Dir(path)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("something was created for a refused request: %v", err)
	}
	// The largest allowed texts are written and read back.
	long := Status{}
	res, err := g.Lock(LockRequest{Minutes: 5, Owner: strings.Repeat("o", MaxOwnerBytes), Reason: strings.Repeat("\x01", MaxReasonBytes)}, false)
	if err != nil {
		t.Fatal(err)
	}
	long = res.After
	got, err := g.Status(true)
	if err != nil || got.After != long {
		t.Errorf("status after the largest lock = %+v, %v; want %+v", got.After, err, long)
	}
}

// Finding 4: a guard file that cannot be read (15 MB, as an older version wrote with a huge
// reason; a document over MaxDocumentBytes; one other users can write to; one with a second
// link) is corrupt: it counts as locked, and force always clears it, through the module's and
// the command line's lock and unlock.
func TestForceClearsAnUnreadableGuard(t *testing.T) {
	t.Parallel()
	bigReason := `{"id":"a","expires_at":"2099-01-01T00:00:00Z","reason":"` + strings.Repeat("r", 15<<20) + `"}`
	tests := []struct {
		name  string
		setup func(t *testing.T, path string)
		words []string
	}{
		{"15 MB reason", func(t *testing.T, path string) { write(t, path, bigReason, 0o600) }, []string{"larger than 8388608 bytes"}},
		{"over MaxDocumentBytes", func(t *testing.T, path string) {
			write(t, path, `{"id":"a","expires_at":"2099-01-01T00:00:00Z","reason":"`+strings.Repeat("r", MaxDocumentBytes)+`"}`, 0o600)
		}, []string{"larger than 65536 bytes"}},
		{"writable by others", func(t *testing.T, path string) {
			write(t, path, `{"id":"a","expires_at":"2000-01-01T00:00:00Z"}`, 0o666)
		}, []string{"other users can write"}},
		{"a second hard link", func(t *testing.T, path string) {
			write(t, path+".elsewhere", `{"id":"a","expires_at":"2099-01-01T00:00:00Z"}`, 0o600)
			if err := os.Link(path+".elsewhere", path); err != nil {
				t.Fatal(err)
			}
		}, []string{"2 hard links"}},
	}
	type op struct {
		name     string
		do       func(g *Guard, check bool) (Result, error)
		wantFile bool // the guard file exists afterwards
	}
	ops := []op{
		{"force unlock", func(g *Guard, check bool) (Result, error) { return g.Unlock(UnlockRequest{Force: true}, check) }, false},
		{"force lock", func(g *Guard, check bool) (Result, error) {
			return g.Lock(LockRequest{Minutes: 5, Force: true, Reason: "replace"}, check)
		}, true},
	}
	for _, tt := range tests {
		for _, o := range ops {
			t.Run(tt.name+"/"+o.name, func(t *testing.T) {
				t.Parallel()
				dir := filepath.Join(t.TempDir(), "run")
				if err := os.Mkdir(dir, 0o700); err != nil {
					t.Fatal(err)
				}
				path := filepath.Join(dir, "qos.guard")
				tt.setup(t, path)
				before := fileContent(t, path)
				g := fileGuard(path)
				corrupt := Status{Path: path, Locked: true, Corrupt: true}

				for _, check := range []bool{true, false} {
					res, err := g.Status(check)
					wantErrWith(t, "Status", err, ErrCorrupt, append([]string{path}, tt.words...)...)
					if diff := cmp.Diff(Result{Before: corrupt, After: corrupt}, res); diff != "" {
						t.Errorf("Status(%v) (-want +got):\n%s", check, diff)
					}
					res, err = g.Unlock(UnlockRequest{}, check)
					wantErrWith(t, "Unlock without force", err, ErrCorrupt, "force")
					if res.After != corrupt {
						t.Errorf("Unlock without force: after = %+v, want corrupt", res.After)
					}
					_, err = g.Lock(LockRequest{Minutes: 5, Extend: true}, check)
					wantErrWith(t, "Lock without force", err, ErrCorrupt, "force")
				}
				if fileContent(t, path) != before {
					t.Fatal("the unreadable guard changed without force")
				}
				// Check mode predicts the forced change and writes nothing.
				res, err := o.do(g, true)
				if err != nil || !res.Changed || res.Before != corrupt {
					t.Errorf("%s in check mode = %+v, %v; want a change from corrupt", o.name, res, err)
				}
				if fileContent(t, path) != before {
					t.Fatal("check mode changed the guard")
				}
				res, err = o.do(g, false)
				if err != nil || !res.Changed || res.Before != corrupt {
					t.Fatalf("%s = %+v, %v; want a change from corrupt", o.name, res, err)
				}
				st, err := g.Status(true)
				if err != nil || st.After.Locked != o.wantFile {
					t.Errorf("status after %s = %+v, %v; want locked %v", o.name, st.After, err, o.wantFile)
				}
				if _, err := os.Stat(path); (err == nil) != o.wantFile {
					t.Errorf("guard file exists %v after %s, want %v", err == nil, o.name, o.wantFile)
				}
				if b, err := os.ReadFile(path + ".elsewhere"); err == nil && string(b) != `{"id":"a","expires_at":"2099-01-01T00:00:00Z"}` {
					t.Errorf("the other link's file changed to %q", b)
				}
				evs, err := g.ReadAudit()
				if err != nil || len(evs) != 1 || !evs[0].Forced {
					t.Errorf("audit = %+v, %v; want one forced event", evs, err)
				}
			})
		}
	}
}

func write(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

// Finding 3: the guard in a shared directory like /tmp, against a real unprivileged user.
func TestAttackerGuardFiles(t *testing.T) {
	t.Parallel()
	a := modtest.NewAttacker(t)

	t.Run("a named pipe at the guard path", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(modtest.SharedDir(t), "qos.guard")
		a.Run(t, "mkfifo", "-m", "0666", path)
		g := fileGuard(path)
		watchdog(t, "status of a named pipe", func() {
			res, err := g.Status(false)
			wantErrWith(t, "Status", err, state.ErrUnsafe, path, "named pipe", "counts as locked")
			if !res.After.Locked || !res.After.Unknown {
				t.Errorf("status = %+v, want locked and unknown (fail closed)", res.After)
			}
			for _, force := range []bool{false, true} {
				res, err = g.Lock(LockRequest{Minutes: 5, Force: force}, false)
				wantErrWith(t, "Lock", err, state.ErrUnsafe, path, "named pipe")
				if !res.After.Locked {
					t.Errorf("lock result = %+v, want locked", res.After)
				}
				res, err = g.Unlock(UnlockRequest{Force: force}, false)
				wantErrWith(t, "Unlock", err, state.ErrUnsafe, path, "named pipe")
				if !res.After.Locked {
					t.Errorf("unlock result = %+v, want locked (fail closed)", res.After)
				}
			}
		})
		if fi, err := os.Lstat(path); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
			t.Errorf("force removed or replaced the attacker's pipe: %v, %v", fi, err)
		}
	})

	t.Run("a guard file of the attacker's", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(modtest.SharedDir(t), "qos.guard")
		const forged = `{"id":"x","expires_at":"2000-01-01T00:00:00Z"}`
		a.Sh(t, "umask 0; printf '%s' '"+forged+"' > "+path)
		g := fileGuard(path)
		res, err := g.Status(false)
		wantErrWith(t, "Status", err, state.ErrUnsafe, path, a.Name)
		if res.After != (Status{Path: path, Locked: true, Unknown: true}) {
			t.Errorf("status = %+v, want locked, unknown", res.After)
		}
		_, err = g.Lock(LockRequest{Minutes: 5, Force: true}, false)
		wantErrWith(t, "force Lock", err, state.ErrUnsafe, path, a.Name)
		_, err = g.Unlock(UnlockRequest{Force: true}, false)
		wantErrWith(t, "force Unlock", err, state.ErrUnsafe, path, a.Name)
		if got := fileContent(t, path); got != forged {
			t.Errorf("the attacker's file changed to %q", got)
		}
	})

	t.Run("a lock file of the attacker's, held", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(modtest.SharedDir(t), "qos.guard")
		a.Sh(t, "umask 0; : > "+path+".lock")
		a.HoldLock(t, path+".lock")
		g := fileGuard(path)
		watchdog(t, "lock behind the attacker's lock file", func() {
			res, err := g.Lock(LockRequest{Minutes: 5}, false)
			wantErrWith(t, "Lock", err, state.ErrUnsafe, path+".lock", a.Name, "counts as locked")
			if !res.After.Locked {
				t.Errorf("lock result = %+v, want locked (unknown)", res.After)
			}
		})
		if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("the guard was written without its lock: %v", err)
		}
	})

	for _, audit := range []struct {
		name  string
		plant func(t *testing.T, auditPath string) (check func(t *testing.T))
	}{
		{"an audit trail of the attacker's (0666)", func(t *testing.T, p string) func(*testing.T) {
			const forged = `{"event":"unlock","actor":"root@prod"}` + "\n"
			a.Sh(t, "umask 0; printf '%s' '"+forged+"' > "+p)
			return func(t *testing.T) {
				if got := fileContent(t, p); got != forged {
					t.Errorf("the attacker's audit trail = %q, want it untouched (no entry of root's)", got)
				}
			}
		}},
		{"a symlinked audit trail", func(t *testing.T, p string) func(*testing.T) {
			sink := filepath.Join(filepath.Dir(p), "sink")
			a.Sh(t, "umask 0; : > "+sink+"; ln -s "+sink+" "+p)
			return func(t *testing.T) {
				if got := fileContent(t, sink); got != "" {
					t.Errorf("the symlink's target received %q", got)
				}
			}
		}},
		{"a symlink to /dev/null", func(t *testing.T, p string) func(*testing.T) {
			a.Run(t, "ln", "-s", "/dev/null", p)
			return func(*testing.T) {}
		}},
	} {
		t.Run(audit.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(modtest.SharedDir(t), "qos.guard")
			auditPath := path + AuditSuffix
			check := audit.plant(t, auditPath)
			g := fileGuard(path)
			// Lock: the guard fails closed (it is locked), but the call fails: the missing audit
			// line is not silent.
			res, err := g.Lock(LockRequest{Minutes: 5, Reason: "rollback"}, false)
			wantErrWith(t, "Lock", err, ErrAudit, auditPath, "is locked, but")
			if !res.Changed || !res.After.Locked {
				t.Errorf("lock = %+v, want it made", res)
			}
			// Unlock (forced too) is not made without its audit line: the guard stays locked.
			for _, force := range []bool{false, true} {
				for _, check := range []bool{true, false} {
					res, err = g.Unlock(UnlockRequest{Force: force}, check)
					wantErrWith(t, "Unlock", err, ErrAudit, auditPath)
					if res.Changed || !res.After.Locked {
						t.Errorf("unlock(force %v, check %v) = %+v, want the guard still locked", force, check, res)
					}
				}
			}
			if st, err := g.Status(true); err != nil || !st.After.Locked {
				t.Errorf("status = %+v, %v; want locked", st.After, err)
			}
			_, err = g.ReadAudit()
			wantErrWith(t, "ReadAudit", err, state.ErrUnsafe, auditPath)
			check(t)
		})
	}
}

// Findings 2 and 3: a lock that another user's process holds (a lock file root made readable)
// fails the change after the lock wait, naming the holder; the guard is unchanged and counts as
// locked. The wait is set to 0 here; its default is state.DefaultLockWait.
func TestAttackerHeldGuardLock(t *testing.T) {
	a := modtest.NewAttacker(t)
	path := filepath.Join(modtest.PrivateDir(t), "qos.guard")
	g := fileGuard(path)
	if _, err := g.Lock(LockRequest{Minutes: 5, Reason: "rollback"}, false); err != nil {
		t.Fatal(err)
	}
	before := fileContent(t, path)
	if err := os.Chmod(path+".lock", 0o644); err != nil {
		t.Fatal(err)
	}
	pid, _ := a.HoldLock(t, path+".lock")
	t.Setenv(state.LockWaitEnv, "0s")
	words := []string{path + ".lock", a.Name, "process " + strconv.Itoa(pid), "counts as locked"}
	watchdog(t, "a held guard lock", func() {
		res, err := g.Unlock(UnlockRequest{Force: true}, false)
		wantErrWith(t, "Unlock", err, state.ErrLockTimeout, words...)
		if res.After != (Status{Path: path, Locked: true, Unknown: true}) {
			t.Errorf("unlock result = %+v, want locked, unknown", res.After)
		}
		_, err = g.Lock(LockRequest{Minutes: 60, Force: true}, false)
		wantErrWith(t, "Lock", err, state.ErrLockTimeout, words...)
	})
	if got := fileContent(t, path); got != before {
		t.Errorf("the guard changed behind a held lock: %q", got)
	}
	if res, err := g.Status(true); err != nil || !res.After.Locked {
		t.Errorf("status = %+v, %v; want the lock still there", res.After, err)
	}
}

// The audit trail of an unsafe log is not forged into the guard's: a line the attacker wrote
// before the file was refused is never read as root's.
func TestReadAuditRefusesForeignTrail(t *testing.T) {
	t.Parallel()
	a := modtest.NewAttacker(t)
	path := filepath.Join(modtest.SharedDir(t), "qos.guard")
	a.Sh(t, `umask 0; printf '{"event":"release","actor":"root@prod"}\n' > `+path+AuditSuffix)
	evs, err := fileGuard(path).ReadAudit()
	wantErrWith(t, "ReadAudit", err, state.ErrUnsafe, a.Name)
	if len(evs) != 0 || bytes.Contains([]byte(err.Error()), []byte("release")) {
		t.Errorf("ReadAudit returned %+v from the attacker's file", evs)
	}
}
