package resilience

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"resilience.ops/internal/retry"
	"resilience.ops/internal/state"
)

// tree returns every file below dir with its content.
func tree(t *testing.T, dir string) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) && path == dir {
			return filepath.SkipDir
		}
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		files[path] = string(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func TestCheckModeChangesNothing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := enabled(dir)
	s.CircuitBreaker.FailureThreshold = 3
	g, clk := newTest(t, s)
	openBreaker(t, g)
	held := before(t, g, "other")
	defer held.Release()
	check, _ := newTest(t, s, WithCheckMode(true))
	check.clock = clk
	before := tree(t, dir)

	adm, err := check.Before(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	if adm.Admitted || adm.ErrorType != retry.CircuitOpen {
		t.Errorf("check mode, open breaker: %s", toJSON(adm))
	}
	clk.Advance(s.CircuitBreaker.OpenDuration)
	adm, _ = check.Before(t.Context(), key)
	if !adm.Admitted || adm.Breaker.State != HalfOpen || !adm.Breaker.Trial || adm.Bulkhead.Acquired || *adm.Bulkhead.Available != s.Bulkhead.MaxConcurrent {
		t.Errorf("check mode, due breaker: %s", toJSON(adm))
	}
	if r := check.AfterAttempt(adm, retry.ConnectionError, true); r.Recorded {
		t.Errorf("check mode recorded an attempt: %s", toJSON(r))
	}
	if r, _ := check.Record(key, "", false); r.Recorded {
		t.Errorf("check mode recorded an attempt: %s", toJSON(r))
	}
	for range 20 {
		if d, _ := check.AllowRetry(key); !d.Allowed {
			t.Fatalf("check mode spent the budget: %s", toJSON(d))
		}
	}
	if _, a, _ := check.Adapt(key, retry.DefaultPolicy()); a.Calls != 3 {
		t.Errorf("check mode adaptation: %s", toJSON(a))
	}
	if adm, _ := check.Before(t.Context(), "other"); *adm.Bulkhead.Available != s.Bulkhead.MaxConcurrent-1 {
		t.Errorf("check mode, one slot held: %s", toJSON(adm))
	}
	if diff := cmp.Diff(before, tree(t, dir)); diff != "" {
		t.Errorf("check mode changed the state directory (-before +after):\n%s", diff)
	}

	// On a fresh host check mode creates nothing at all.
	empty := filepath.Join(t.TempDir(), "state")
	s.Dir = empty
	fresh, _ := newTest(t, s, WithCheckMode(true))
	adm, _ = fresh.Before(t.Context(), key)
	fresh.AfterAttempt(adm, "", false)
	fresh.AllowRetry(key)
	if !adm.Admitted || *adm.Bulkhead.Available != s.Bulkhead.MaxConcurrent {
		t.Errorf("check mode, no state: %s", toJSON(adm))
	}
	if _, err := os.Stat(empty); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("check mode created %s: %v", empty, err)
	}
}

func TestCorruptStateIsReplaced(t *testing.T) {
	t.Parallel()
	valid := `{"format_version": 1, "key": "` + key + `", "circuit_breaker": {"state": "closed"}}`
	tests := []struct {
		name, content, problem string
	}{
		{"not JSON", "{\"format_vers\x00", "not a JSON state document (14 bytes)"},
		{"empty", "", "not a JSON state document (0 bytes)"},
		{"truncated", valid[:40], "not a JSON state document (40 bytes)"},
		{"another format", strings.Replace(valid, `"format_version": 1`, `"format_version": 2`, 1), "format_version 2, want 1"},
		{"another key", strings.Replace(valid, key, "other", 1), `it belongs to key "other", not "` + key + `"`},
		{"unknown state", strings.Replace(valid, `"closed"`, `"ajar"`, 1), `unknown breaker state "ajar"`},
		{"open without open_until", strings.Replace(valid, `"closed"`, `"open"`, 1), "open without open_until"},
		{"negative counter", strings.Replace(valid, `"closed"`, `"closed", "opens": -1`, 1), "negative counter"},
		{"negative bucket", strings.Replace(valid, `}}`, `}, "history": [{"start": "2025-01-01T10:00:00Z", "failures": -3}]}`, 1), "negative counter"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			g, _ := newTest(t, enabled(t.TempDir()))
			path := g.StateFile(key)
			if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			adm := before(t, g, key)
			defer adm.Release()
			want := "state file " + path + " is corrupt (" + tt.problem
			if !adm.Admitted || len(adm.Warnings) != 1 || !strings.HasPrefix(adm.Warnings[0], want) ||
				!strings.HasSuffix(adm.Warnings[0], "): replaced by a fresh closed state") {
				t.Fatalf("Before on a corrupt file: %s\nwant a warning starting %q", toJSON(adm), want)
			}
			if doc := readDoc(t, g, key); doc.Breaker.State != Closed {
				t.Errorf("replaced by %s", toJSON(doc))
			}
			if r := g.AfterAttempt(adm, "", false); !r.Recorded || len(r.Warnings) != 0 {
				t.Errorf("after the repair: %s", toJSON(r))
			}
		})
	}
}

// A state file that cannot be read or written never fails an operation: the call goes through
// with warnings.
func TestUnusableStateFailsOpen(t *testing.T) {
	t.Parallel()
	g, _ := newTest(t, enabled(t.TempDir()))
	if err := os.MkdirAll(g.StateFile(key), 0o700); err != nil { // a directory where the file should be
		t.Fatal(err)
	}
	adm := before(t, g, key)
	if !adm.Admitted || len(adm.Warnings) == 0 || !strings.Contains(adm.Warnings[0], "not a regular file") || !adm.Bulkhead.Acquired {
		t.Fatalf("Before: %s", toJSON(adm))
	}
	if r := g.AfterAttempt(adm, retry.ConnectionError, true); r.Recorded || len(r.Warnings) == 0 {
		t.Errorf("AfterAttempt: %s", toJSON(r))
	}
	if d, _ := g.AllowRetry(key); !d.Allowed || len(d.Warnings) == 0 {
		t.Errorf("AllowRetry: %s", toJSON(d))
	}
	p := retry.DefaultPolicy()
	if q, a, _ := g.Adapt(key, p); a.Adapted || len(a.Warnings) == 0 || !cmp.Equal(p, q) {
		t.Errorf("Adapt: %s", toJSON(a))
	}
	if snap, _ := g.Inspect(key); len(snap.Warnings) == 0 || snap.Breaker.State != Closed {
		t.Errorf("Inspect: %s", toJSON(snap))
	}
}

// failingStore fails every update, as a full disk or a read-only directory would.
type failingStore struct{ state.FileStore }

func (failingStore) Update(string, func([]byte) ([]byte, error)) error {
	return errors.New("no space left on device")
}

func TestFailingStoreFailsOpen(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := enabled(dir)
	s.CircuitBreaker.FailureThreshold = 1
	g, clk := newTest(t, s)
	openBreaker(t, g)
	clk.Advance(s.CircuitBreaker.OpenDuration)
	broken, _ := newTest(t, s, WithStore(failingStore{}))
	broken.clock = clk
	// The half-open transition cannot be written: the call is let through with a warning.
	adm := before(t, broken, key)
	defer adm.Release()
	if !adm.Admitted || !strings.Contains(strings.Join(adm.Warnings, "\n"), "no space left on device; the call is let through") {
		t.Fatalf("Before: %s", toJSON(adm))
	}
	if d, _ := broken.AllowRetry(key); !d.Allowed || !strings.Contains(strings.Join(d.Warnings, "\n"), "no space left") {
		t.Errorf("AllowRetry: %s", toJSON(d))
	}
}

func TestInspect(t *testing.T) {
	t.Parallel()
	s := enabled(t.TempDir())
	s.CircuitBreaker.FailureThreshold = 2
	g, clk := newTest(t, s)
	openBreaker(t, g)
	snap, err := g.Inspect(key)
	if err != nil {
		t.Fatal(err)
	}
	if snap.Breaker.State != Open || snap.Breaker.NextTrialIn != s.CircuitBreaker.OpenDuration.Seconds() || snap.Budget.Calls != 2 || snap.File != g.StateFile(key) {
		t.Errorf("Inspect: %s", toJSON(snap))
	}
	clk.Advance(time.Hour)
	if snap, _ = g.Inspect(key); snap.Breaker.State != HalfOpen || len(snap.Breaker.Transitions) != 1 || len(snap.Document.Breaker.Transitions) != 1 {
		t.Errorf("Inspect after open_duration: %s", toJSON(snap))
	}
	if got := readDoc(t, g, key).Breaker.State; got != Open {
		t.Errorf("Inspect changed the state to %s", got)
	}
}
