package session

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"resilience.ops/internal/modtest"
	"resilience.ops/internal/record"
	"resilience.ops/internal/state"
)

// Issue 16, finding 2, against a real unprivileged user: a state directory that user made first
// is refused, whatever is asked of it, and nothing is created in it; a session lock that user
// holds fails the update after the lock wait instead of hanging root's run.

func TestAttackerStateDirIsRefused(t *testing.T) {
	t.Parallel()
	a := modtest.NewAttacker(t)
	dir := filepath.Join(modtest.SharedDir(t), "ansible_retry")
	a.Run(t, "mkdir", "-m", "0777", dir)
	a.Sh(t, `umask 0; printf '{"session_id":"retry_1_1","session_status":"active"}' > `+dir+`/retry_session_retry_1_1.json`)
	st := &Store{Dir: dir}
	check := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, state.ErrUnsafe) || !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), a.Name) {
			t.Errorf("%s error = %v, want a refusal naming %s and %s", what, err, dir, a.Name)
		}
	}
	_, _, _, err := st.Start("retry_2_2", nil)
	check("Start", err)
	_, err = st.RecordOperation("retry_1_1", record.Operation{OperationID: "op_1", OperationName: "op"})
	check("RecordOperation", err)
	_, err = st.Load("retry_1_1")
	check("Load", err)
	check("WriteAttempt", st.WriteAttempt("retry_1_1", &record.Operation{OperationID: "op_1"}, record.Attempt{AttemptNumber: 1}))
	_, err = st.Cleanup(Retention{MaxAge: time.Nanosecond}, "")
	check("Cleanup", err)
	_, err = st.Compress(Retention{CompressAfter: time.Nanosecond}, "")
	check("Compress", err)
	ents, err := os.ReadDir(dir)
	if err != nil || len(ents) != 1 {
		t.Errorf("the attacker's directory holds %v (%v), want only its own file", ents, err)
	}
}

func TestAttackerHeldSessionLock(t *testing.T) {
	a := modtest.NewAttacker(t)
	dir := modtest.PrivateDir(t)
	st := &Store{Dir: dir}
	if _, _, _, err := st.Start("retry_3_3", nil); err != nil {
		t.Fatal(err)
	}
	lock := st.Files().Session("retry_3_3") + ".lock"
	if err := os.Chmod(lock, 0o644); err != nil {
		t.Fatal(err)
	}
	pid, _ := a.HoldLock(t, lock)
	t.Setenv(state.LockWaitEnv, "0s")
	done := make(chan error, 1)
	go func() {
		_, err := st.RecordOperation("retry_3_3", record.Operation{OperationID: "op_1", OperationName: "op"})
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, state.ErrLockTimeout) || !strings.Contains(err.Error(), a.Name) || !strings.Contains(err.Error(), strconv.Itoa(pid)) {
			t.Errorf("RecordOperation behind a held lock = %v, want ErrLockTimeout naming %s and pid %d", err, a.Name, pid)
		}
	case <-time.After(2 * time.Minute): // a watchdog: the call used to wait for ever
		t.Fatal("RecordOperation hangs behind a lock another user holds")
	}
}
