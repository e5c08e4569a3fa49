package resilience

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"testing"

	"resilience.ops/internal/state"
)

func TestLocalStoreUpdate(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "circuit")
	path := filepath.Join(dir, "k.json")
	st := localStore{}
	if data, err := st.Load(path); data != nil || err != nil {
		t.Fatalf("Load of a missing file = %q, %v", data, err)
	}
	set := func(s string) func([]byte) ([]byte, error) {
		return func([]byte) ([]byte, error) { return []byte(s), nil }
	}
	if err := st.Update(path, set("one")); err != nil {
		t.Fatal(err)
	}
	if err := st.Update(path, func([]byte) ([]byte, error) { return []byte("x"), state.ErrUnchanged }); err != nil {
		t.Fatal(err)
	}
	if err := st.Update(path, func([]byte) ([]byte, error) { return []byte("x"), errors.New("boom") }); err == nil {
		t.Fatal("an error of fn was lost")
	}
	if got, _ := st.Load(path); string(got) != "one" {
		t.Fatalf("content = %q, want one", got)
	}
	// A temporary file left by a writer killed mid-write is reused, and none stays behind.
	tmp := filepath.Join(dir, ".k.json.tmp")
	if err := os.WriteFile(tmp, []byte("half a docu"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := st.Update(path, set("two")); err != nil {
		t.Fatal(err)
	}
	if got, _ := st.Load(path); string(got) != "two" {
		t.Fatalf("content = %q, want two", got)
	}
	if _, err := os.Lstat(tmp); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temporary file left behind: %v", err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != state.FileMode {
		t.Errorf("state file mode: %v, %v", fi, err)
	}
	if err := st.Update(path, func([]byte) ([]byte, error) { return nil, nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("nil content did not remove the file: %v", err)
	}
}

func TestLocalStoreRefusesSymlinks(t *testing.T) {
	t.Parallel()
	if runtime.GOOS == "windows" {
		t.Skip("symlinks need a privilege on Windows")
	}
	for _, link := range []string{"k.json", ".k.json.tmp", "k.json.lock"} {
		t.Run(link, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			target := filepath.Join(dir, "target")
			if err := os.WriteFile(target, []byte("secret"), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(target, filepath.Join(dir, link)); err != nil {
				t.Fatal(err)
			}
			err := localStore{}.Update(filepath.Join(dir, "k.json"), func([]byte) ([]byte, error) { return []byte("x"), nil })
			if err == nil {
				t.Error("Update through a symlink succeeded")
			}
			if got, _ := os.ReadFile(target); string(got) != "secret" {
				t.Errorf("the symlink's target was changed to %q", got)
			}
		})
	}
}

func TestLocalStoreConcurrent(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "counter")
	const workers = 50
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			err := localStore{}.Update(path, func(cur []byte) ([]byte, error) {
				n := 0
				if cur != nil {
					var err error
					if n, err = strconv.Atoi(string(cur)); err != nil {
						return nil, err // a torn file
					}
				}
				return []byte(strconv.Itoa(n + 1)), nil
			})
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if got, _ := (localStore{}).Load(path); string(got) != strconv.Itoa(workers) {
		t.Errorf("counter = %q, want %d (lost updates)", got, workers)
	}
}
