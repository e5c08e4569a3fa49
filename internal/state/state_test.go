package state

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// dirNames lists the names in dir, sorted.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

func perm(t *testing.T, path string) fs.FileMode {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func readString(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestWriteFileModeAndContent(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	// An existing file with a looser mode is replaced by a 0600 one.
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	for i, content := range []string{"first", "second, longer content", ""} {
		if err := WriteFile(path, []byte(content)); err != nil {
			t.Fatalf("WriteFile #%d: %v", i, err)
		}
		if got := readString(t, path); got != content {
			t.Errorf("content #%d = %q, want %q", i, got, content)
		}
		if got, want := perm(t, path), fs.FileMode(FileMode); got != want {
			t.Errorf("mode #%d = %o, want %o", i, got, want)
		}
	}
	if diff := cmp.Diff([]string{"state.json"}, dirNames(t, dir)); diff != "" {
		t.Errorf("temporary files left behind (-want +got):\n%s", diff)
	}
}

func TestWriteFileFailureLeavesNoTemp(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "state")
	// A directory where the file should be: the rename fails after the temp file was written.
	if err := os.Mkdir(path, 0o700); err != nil {
		t.Fatal(err)
	}
	err := WriteFile(path, []byte("data"))
	if err == nil {
		t.Fatal("WriteFile over a directory succeeded")
	}
	if !strings.Contains(err.Error(), path) {
		t.Errorf("error %q does not name %s", err, path)
	}
	if diff := cmp.Diff([]string{"state"}, dirNames(t, dir)); diff != "" {
		t.Errorf("temporary files left behind (-want +got):\n%s", diff)
	}
}

func TestReadFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()

	got, err := ReadFile(filepath.Join(dir, "missing"))
	if got != nil || err != nil {
		t.Errorf("ReadFile(missing) = %q, %v; want nil, nil", got, err)
	}

	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	got, err = ReadFile(empty)
	if err != nil || got == nil || len(got) != 0 {
		t.Errorf("ReadFile(empty) = %#v, %v; want a non-nil empty slice (an existing file)", got, err)
	}

	full := filepath.Join(dir, "full")
	if err := os.WriteFile(full, []byte("abc\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := ReadFile(full); err != nil || string(got) != "abc\n" {
		t.Errorf("ReadFile(full) = %q, %v; want %q", got, err, "abc\n")
	}

	if _, err := ReadFile(dir); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("ReadFile(dir) error = %v, want 'not a regular file'", err)
	}

	big := filepath.Join(dir, "big")
	if err := os.WriteFile(big, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(big, maxStateSize+1); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadFile(big); err == nil || !strings.Contains(err.Error(), "not a state file") {
		t.Errorf("ReadFile(big) error = %v, want 'not a state file'", err)
	}
	if err := os.Truncate(big, maxStateSize); err != nil {
		t.Fatal(err)
	}
	if got, err := ReadFile(big); err != nil || len(got) != maxStateSize {
		t.Errorf("ReadFile(max size) = %d bytes, %v; want %d bytes", len(got), err, maxStateSize)
	}
}

func TestEnsureDirCreates0700(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	leaf := filepath.Join(base, "a", "b", "c")
	if err := EnsureDir(leaf); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{filepath.Join(base, "a"), filepath.Join(base, "a", "b"), leaf} {
		if got, want := perm(t, d), fs.FileMode(DirMode); got != want {
			t.Errorf("mode of %s = %o, want %o", d, got, want)
		}
	}
	// Idempotent.
	if err := EnsureDir(leaf); err != nil {
		t.Errorf("EnsureDir on an existing directory: %v", err)
	}
}

func TestEnsureDirSafety(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		mode    fs.FileMode
		wantErr string
	}{
		{name: "private", mode: 0o700},
		{name: "readable by all", mode: 0o755},
		{name: "read-only", mode: 0o500},
		{name: "world-writable", mode: 0o777, wantErr: "other users can write to it (mode 777) and it has no sticky bit"},
		{name: "group-writable", mode: 0o770, wantErr: "other users can write to it (mode 770)"},
		{name: "others-writable only", mode: 0o703, wantErr: "other users can write to it (mode 703)"},
		{name: "sticky world-writable like /tmp", mode: 0o777 | fs.ModeSticky},
		{name: "sticky group-writable", mode: 0o770 | fs.ModeSticky},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(t.TempDir(), "d")
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(dir, tt.mode); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.Chmod(dir, 0o700) })
			err := EnsureDir(dir)
			if tt.wantErr == "" {
				if err != nil {
					t.Errorf("EnsureDir(mode %v): %v", tt.mode, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("EnsureDir(mode %v) succeeded, want refusal", tt.mode)
			}
			if !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), dir) {
				t.Errorf("error = %q, want it to contain %q and the directory", err, tt.wantErr)
			}
			// Update and Append go through the same check and write nothing there.
			path := filepath.Join(dir, "state")
			if err := (FileStore{}).Update(path, func([]byte) ([]byte, error) { return []byte("x"), nil }); err == nil {
				t.Error("Update in an unsafe directory succeeded")
			}
			if err := (FileStore{}).Append(path+".log", []byte("x")); err == nil {
				t.Error("Append in an unsafe directory succeeded")
			}
			if names := dirNames(t, dir); len(names) != 0 {
				t.Errorf("files were created in an unsafe directory: %v", names)
			}
		})
	}
}

func TestEnsureDirForeignOwner(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("needs root to give a directory to another user")
	}
	dir := filepath.Join(t.TempDir(), "d")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	err := EnsureDir(dir)
	if err == nil || !strings.Contains(err.Error(), "belongs to uid 65534") {
		t.Errorf("EnsureDir(foreign) error = %v, want 'belongs to uid 65534'", err)
	}
}

func TestEnsureDirSymlinksAndFiles(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	safe := filepath.Join(base, "safe")
	unsafe := filepath.Join(base, "unsafe")
	file := filepath.Join(base, "file")
	for _, d := range []string{safe, unsafe} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(unsafe, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	mustLink := func(target, name string) string {
		p := filepath.Join(base, name)
		if err := os.Symlink(target, p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name    string
		dir     string
		wantErr string
	}{
		// No symbolic link is followed, not even one to a safe directory (issue 16): give the
		// real path (/run, not /var/run).
		{name: "symlink to a safe directory (like /var/run)", dir: mustLink(safe, "to-safe"), wantErr: "is a symbolic link"},
		{name: "symlink to an unsafe directory", dir: mustLink(unsafe, "to-unsafe"), wantErr: "is a symbolic link"},
		{name: "below a symlink to a safe directory", dir: filepath.Join(mustLink(safe, "to-safe-2"), "sub"), wantErr: "is a symbolic link"},
		{name: "dangling symlink", dir: mustLink(filepath.Join(base, "nowhere"), "dangling"), wantErr: "directory"},
		{name: "a regular file", dir: file, wantErr: "is not a directory"},
		{name: "below a regular file", dir: filepath.Join(file, "sub"), wantErr: "not a directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := EnsureDir(tt.dir)
			if tt.wantErr == "" {
				if err != nil {
					t.Errorf("EnsureDir: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), tt.dir) {
				t.Errorf("EnsureDir error = %v, want it to contain %q and %s", err, tt.wantErr, tt.dir)
			}
		})
	}
}

func TestSymlinkRefused(t *testing.T) {
	t.Parallel()
	const secret = "target content\n"
	tests := []struct {
		name string
		link string // which name in the directory is a symlink to the target
		op   func(dir string) error
	}{
		{name: "ReadFile", link: "state", op: func(dir string) error {
			_, err := ReadFile(filepath.Join(dir, "state"))
			return err
		}},
		{name: "Load", link: "state", op: func(dir string) error {
			_, err := FileStore{}.Load(filepath.Join(dir, "state"))
			return err
		}},
		{name: "WriteFile", link: "state", op: func(dir string) error {
			return WriteFile(filepath.Join(dir, "state"), []byte("x"))
		}},
		{name: "Lock", link: "state.lock", op: func(dir string) error {
			unlock, err := Lock(filepath.Join(dir, "state.lock"))
			if err == nil {
				unlock()
			}
			return err
		}},
		{name: "Update through the state file", link: "state", op: func(dir string) error {
			return FileStore{}.Update(filepath.Join(dir, "state"), func([]byte) ([]byte, error) { return []byte("x"), nil })
		}},
		{name: "Update through the lock file", link: "state.lock", op: func(dir string) error {
			return FileStore{}.Update(filepath.Join(dir, "state"), func([]byte) ([]byte, error) { return []byte("x"), nil })
		}},
		{name: "Append", link: "log", op: func(dir string) error {
			return FileStore{}.Append(filepath.Join(dir, "log"), []byte("x"))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			target := filepath.Join(dir, "target")
			if err := os.WriteFile(target, []byte(secret), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(target, filepath.Join(dir, tt.link)); err != nil {
				t.Fatal(err)
			}
			err := tt.op(dir)
			if !errors.Is(err, ErrSymlink) {
				t.Errorf("error = %v, want ErrSymlink", err)
			}
			if got := readString(t, target); got != secret {
				t.Errorf("target changed to %q", got)
			}
			if fi, err := os.Lstat(filepath.Join(dir, tt.link)); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
				t.Errorf("the symlink was replaced: %v, %v", fi, err)
			}
		})
	}
}

func TestUpdate(t *testing.T) {
	t.Parallel()
	errBoom := errors.New("boom")
	tests := []struct {
		name      string
		initial   *string // nil: no file
		fn        func(cur []byte) ([]byte, error)
		wantErr   error
		wantCur   *string // what fn must get (nil: nil)
		wantAfter *string // nil: no file
	}{
		{
			name:      "create",
			fn:        func([]byte) ([]byte, error) { return []byte("new"), nil },
			wantAfter: ptr("new"),
		},
		{
			name:      "replace",
			initial:   ptr("old"),
			fn:        func(cur []byte) ([]byte, error) { return append(cur, "+new"...), nil },
			wantCur:   ptr("old"),
			wantAfter: ptr("old+new"),
		},
		{
			name:      "ErrUnchanged keeps the content",
			initial:   ptr("old"),
			fn:        func([]byte) ([]byte, error) { return []byte("ignored"), ErrUnchanged },
			wantCur:   ptr("old"),
			wantAfter: ptr("old"),
		},
		{
			name:      "wrapped ErrUnchanged keeps the content",
			initial:   ptr("old"),
			fn:        func([]byte) ([]byte, error) { return nil, errors.Join(ErrUnchanged) },
			wantCur:   ptr("old"),
			wantAfter: ptr("old"),
		},
		{
			name:    "ErrUnchanged on a missing file creates nothing",
			fn:      func([]byte) ([]byte, error) { return nil, ErrUnchanged },
			wantErr: nil,
		},
		{
			name:    "nil deletes",
			initial: ptr("old"),
			fn:      func([]byte) ([]byte, error) { return nil, nil },
			wantCur: ptr("old"),
		},
		{
			name: "nil on a missing file is fine",
			fn:   func([]byte) ([]byte, error) { return nil, nil },
		},
		{
			name:      "an error keeps the old content",
			initial:   ptr("old"),
			fn:        func([]byte) ([]byte, error) { return []byte("half"), errBoom },
			wantErr:   errBoom,
			wantCur:   ptr("old"),
			wantAfter: ptr("old"),
		},
		{
			name:    "an error on a missing file creates nothing",
			fn:      func([]byte) ([]byte, error) { return []byte("half"), errBoom },
			wantErr: errBoom,
		},
		{
			name:      "empty content is kept as an empty file",
			initial:   ptr("old"),
			fn:        func([]byte) ([]byte, error) { return []byte{}, nil },
			wantCur:   ptr("old"),
			wantAfter: ptr(""),
		},
		{
			name:      "an empty file is passed as non-nil",
			initial:   ptr(""),
			fn:        func(cur []byte) ([]byte, error) { return append(cur, "x"...), nil },
			wantCur:   ptr(""),
			wantAfter: ptr("x"),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			path := filepath.Join(dir, "sub", "state")
			if tt.initial != nil {
				if err := os.Mkdir(filepath.Dir(path), 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(*tt.initial), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			calls := 0
			err := FileStore{}.Update(path, func(cur []byte) ([]byte, error) {
				calls++
				if (cur == nil) != (tt.wantCur == nil) || (cur != nil && string(cur) != *tt.wantCur) {
					t.Errorf("fn got %q (nil %v), want %v", cur, cur == nil, deref(tt.wantCur))
				}
				return tt.fn(cur)
			})
			if !errors.Is(err, tt.wantErr) || (err != nil && tt.wantErr == nil) {
				t.Errorf("Update error = %v, want %v", err, tt.wantErr)
			}
			if calls != 1 {
				t.Errorf("fn called %d times, want 1", calls)
			}
			got, rerr := os.ReadFile(path)
			switch {
			case tt.wantAfter == nil && !errors.Is(rerr, fs.ErrNotExist):
				t.Errorf("file exists with %q, want none", got)
			case tt.wantAfter != nil && (rerr != nil || string(got) != *tt.wantAfter):
				t.Errorf("file = %q, %v; want %q", got, rerr, *tt.wantAfter)
			}
			// Only the state and its lock side file: no temporary file is left behind.
			for _, n := range dirNames(t, filepath.Dir(path)) {
				if n != "state" && n != "state.lock" {
					t.Errorf("unexpected file %s left behind", n)
				}
			}
			if got, want := perm(t, filepath.Dir(path)), fs.FileMode(DirMode); got != want {
				t.Errorf("directory mode = %o, want %o", got, want)
			}
			if got, want := perm(t, path+".lock"), fs.FileMode(FileMode); got != want {
				t.Errorf("lock file mode = %o, want %o", got, want)
			}
		})
	}
}

func ptr(s string) *string { return &s }

func deref(s *string) any {
	if s == nil {
		return nil
	}
	return *s
}

func TestUpdateSameContentDoesNotRewrite(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "state")
	if err := WriteFile(path, []byte("same")); err != nil {
		t.Fatal(err)
	}
	before, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := (FileStore{}).Update(path, func(cur []byte) ([]byte, error) { return []byte("same"), nil }); err != nil {
		t.Fatal(err)
	}
	after, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if !os.SameFile(before, after) {
		t.Error("Update with identical content replaced the file")
	}
	if err := (FileStore{}).Update(path, func(cur []byte) ([]byte, error) { return []byte("other"), nil }); err != nil {
		t.Fatal(err)
	}
	changed, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if os.SameFile(after, changed) {
		t.Error("Update with new content did not replace the file atomically (same inode)")
	}
}

func TestUpdateConcurrent(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "state", "counter")
	const workers = 50
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- FileStore{}.Update(path, func(cur []byte) ([]byte, error) {
				n := 0
				if cur != nil {
					var err error
					if n, err = strconv.Atoi(string(cur)); err != nil {
						return nil, err // a torn or foreign file
					}
				}
				return []byte(strconv.Itoa(n + 1)), nil
			})
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("Update: %v", err)
		}
	}
	got, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := strconv.Itoa(workers); string(got) != want {
		t.Errorf("counter = %q, want %q (lost updates)", got, want)
	}
}

// TestUpdateWriteFailureKeepsOldState makes the write fail after the lock was taken and the old
// state read, and checks that the old state is still there and that the message names the path.
func TestUpdateWriteFailureKeepsOldState(t *testing.T) {
	t.Parallel()
	t.Run("temporary file cannot be created", func(t *testing.T) {
		t.Parallel()
		// Works as root too: the temporary name ".<name>.tmp-<random>" of a 250-byte name is
		// longer than NAME_MAX, while the state file and "<name>.lock" still fit.
		dir := t.TempDir()
		path := filepath.Join(dir, strings.Repeat("s", 250))
		if err := os.WriteFile(path, []byte("old"), 0o600); err != nil {
			t.Fatal(err)
		}
		err := FileStore{}.Update(path, func([]byte) ([]byte, error) { return []byte("new"), nil })
		if err == nil {
			t.Fatal("Update succeeded, want a write error")
		}
		if !strings.Contains(err.Error(), "write "+path) {
			t.Errorf("error %q does not name the path", err)
		}
		if got := readString(t, path); got != "old" {
			t.Errorf("state = %q, want the old state kept", got)
		}
		for _, n := range dirNames(t, dir) {
			if strings.Contains(n, ".tmp-") {
				t.Errorf("temporary file %s left behind", n)
			}
		}
	})
	t.Run("read-only directory", func(t *testing.T) {
		t.Parallel()
		if os.Geteuid() == 0 {
			t.Skip("root ignores directory permissions; covered by the other subtests")
		}
		dir := filepath.Join(t.TempDir(), "ro")
		path := filepath.Join(dir, "state")
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte("old"), 0o600); err != nil {
			t.Fatal(err)
		}
		unlock, err := Lock(path + ".lock") // the lock file exists, as after any earlier update
		if err != nil {
			t.Fatal(err)
		}
		unlock()
		if err := os.Chmod(dir, 0o500); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Chmod(dir, 0o700) })
		err = FileStore{}.Update(path, func([]byte) ([]byte, error) { return []byte("new"), nil })
		if err == nil {
			t.Fatal("Update in a read-only directory succeeded")
		}
		if !errors.Is(err, fs.ErrPermission) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "not writable") {
			t.Errorf("error = %q, want a permission error naming %s and explaining it", err, path)
		}
		if got := readString(t, path); got != "old" {
			t.Errorf("state = %q, want the old state kept", got)
		}
	})
	t.Run("parent is a regular file", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		parent := filepath.Join(dir, "notadir")
		if err := os.WriteFile(parent, []byte("old"), 0o600); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(parent, "state")
		called := false
		err := FileStore{}.Update(path, func([]byte) ([]byte, error) { called = true; return []byte("new"), nil })
		if err == nil {
			t.Fatal("Update below a regular file succeeded")
		}
		if called {
			t.Error("fn was called although the directory is unusable")
		}
		if !strings.Contains(err.Error(), parent) {
			t.Errorf("error %q does not name %s", err, parent)
		}
		if got := readString(t, parent); got != "old" {
			t.Errorf("%s = %q, want it kept", parent, got)
		}
		if err := (FileStore{}).Append(filepath.Join(parent, "log"), []byte("x")); err == nil || !strings.Contains(err.Error(), parent) {
			t.Errorf("Append below a regular file: %v, want an error naming %s", err, parent)
		}
	})
}

func TestAppend(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "logs", "audit.jsonl")
	for _, line := range []string{`{"n":1}`, "{\"n\":2}\n", "", "x\n\n"} {
		if err := (FileStore{}).Append(path, []byte(line)); err != nil {
			t.Fatalf("Append(%q): %v", line, err)
		}
	}
	if got, want := readString(t, path), "{\"n\":1}\n{\"n\":2}\n\nx\n"; got != want {
		t.Errorf("log = %q, want %q", got, want)
	}
	if got, want := perm(t, path), fs.FileMode(FileMode); got != want {
		t.Errorf("log mode = %o, want %o", got, want)
	}
	if got, want := perm(t, filepath.Dir(path)), fs.FileMode(DirMode); got != want {
		t.Errorf("directory mode = %o, want %o", got, want)
	}
}

func TestAppendConcurrent(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "log")
	const workers = 50
	line := bytes.Repeat([]byte("a"), 200)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := (FileStore{}).Append(path, line); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	lines := strings.Split(strings.TrimSuffix(readString(t, path), "\n"), "\n")
	if len(lines) != workers {
		t.Fatalf("got %d lines, want %d", len(lines), workers)
	}
	for i, l := range lines {
		if l != string(line) {
			t.Errorf("line %d is torn: %q", i, l)
		}
	}
}

func TestSafeName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want bool
	}{
		{"guard", true},
		{"qos-guard_1.json", true},
		{"A.b-C_9", true},
		{strings.Repeat("a", 128), true},
		{strings.Repeat("a", 129), false},
		{"", false},
		{".hidden", false},
		{".", false},
		{"..", false},
		{"a/b", false},
		{"../etc", false},
		{"a b", false},
		{"a\x00b", false},
		{"naïve", false},
		{"a:b", false},
		{"a\\b", false},
		{"tail.", true},
	}
	for _, tt := range tests {
		if got := SafeName(tt.in); got != tt.want {
			t.Errorf("SafeName(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}
