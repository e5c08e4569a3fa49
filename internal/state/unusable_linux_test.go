package state

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A file of ours that cannot be used as it is (too large, writable by others, hard-linked) is
// refused by Update and Load, and replaced only through UpdateUnreadable (a forced change).
func TestUnusableFiles(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		setup   func(t *testing.T, path string)
		wantErr []error
		words   []string
	}{
		{
			name: "larger than MaxFileSize",
			setup: func(t *testing.T, path string) {
				if err := os.WriteFile(path, bytes.Repeat([]byte("x"), MaxFileSize+1), 0o600); err != nil {
					t.Fatal(err)
				}
			},
			wantErr: []error{ErrUnreadable, ErrTooLarge},
			words:   []string{"larger than 8388608 bytes"},
		},
		{
			name: "writable by others",
			setup: func(t *testing.T, path string) {
				if err := os.WriteFile(path, []byte("forged"), 0o600); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(path, 0o666); err != nil {
					t.Fatal(err)
				}
			},
			wantErr: []error{ErrUnreadable},
			words:   []string{"other users can write to it (mode 666)"},
		},
		{
			name: "a second hard link (to a file elsewhere)",
			setup: func(t *testing.T, path string) {
				other := filepath.Join(filepath.Dir(filepath.Dir(path)), "elsewhere")
				if err := os.WriteFile(other, []byte("someone else's"), 0o600); err != nil {
					t.Fatal(err)
				}
				if err := os.Link(other, path); err != nil {
					t.Fatal(err)
				}
			},
			wantErr: []error{ErrUnreadable},
			words:   []string{"2 hard links"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(t.TempDir(), "state")
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, "doc")
			tt.setup(t, path)
			check := func(what string, err error) {
				t.Helper()
				for _, want := range tt.wantErr {
					if !errors.Is(err, want) {
						t.Errorf("%s error = %v, want it to wrap %v", what, err, want)
					}
				}
				for _, w := range append(tt.words, path) {
					if err != nil && !strings.Contains(err.Error(), w) {
						t.Errorf("%s error = %v, want it to name %q", what, err, w)
					}
				}
			}
			_, err := ReadFile(path)
			check("ReadFile", err)
			called := false
			err = FileStore{}.Update(path, func([]byte) ([]byte, error) { called = true; return []byte("new"), nil })
			check("Update", err)
			if called {
				t.Error("Update called its function on an unusable file")
			}
			if !errors.Is(tt.wantErr[len(tt.wantErr)-1], ErrTooLarge) { // a log may grow: only reads are bounded
				check("Append", FileStore{}.Append(path, []byte("line")))
			}

			var gotErr error
			err = FileStore{}.UpdateUnreadable(path, func(cur []byte, unreadable error) ([]byte, error) {
				if cur != nil {
					t.Errorf("UpdateUnreadable gave %d bytes, want nil", len(cur))
				}
				gotErr = unreadable
				return []byte("replaced"), nil
			})
			if err != nil {
				t.Fatalf("UpdateUnreadable: %v", err)
			}
			check("the error UpdateUnreadable gave", gotErr)
			if got, err := ReadFile(path); err != nil || string(got) != "replaced" {
				t.Errorf("after UpdateUnreadable: %q, %v; want the replacement", got, err)
			}
			if got, want := perm(t, path), fs.FileMode(FileMode); got != want {
				t.Errorf("mode after the replacement = %o, want %o", got, want)
			}
			if other := filepath.Join(filepath.Dir(dir), "elsewhere"); tt.name == "a second hard link (to a file elsewhere)" {
				if got := readString(t, other); got != "someone else's" {
					t.Errorf("the other link's file changed to %q", got)
				}
			}
		})
	}
}

// UpdateUnreadable may also remove what it cannot read (a forced unlock).
func TestUpdateUnreadableRemoves(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "doc")
	if err := os.WriteFile(path, bytes.Repeat([]byte("x"), MaxFileSize+1), 0o600); err != nil {
		t.Fatal(err)
	}
	err := FileStore{}.UpdateUnreadable(path, func(_ []byte, unreadable error) ([]byte, error) {
		if !errors.Is(unreadable, ErrTooLarge) {
			t.Errorf("unreadable = %v, want ErrTooLarge", unreadable)
		}
		return nil, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the unreadable file is still there: %v", err)
	}
}

// What is written can be read back: content over MaxFileSize is refused before anything is
// written, and the old content stays.
func TestWriteRefusesTooLarge(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "doc")
	if err := WriteFile(path, []byte("old")); err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte("x"), MaxFileSize+1)
	err := WriteFile(path, big)
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "nothing was written") {
		t.Errorf("WriteFile(too large) error = %v, want ErrTooLarge naming the path", err)
	}
	err = FileStore{}.Update(path, func([]byte) ([]byte, error) { return big, nil })
	if !errors.Is(err, ErrTooLarge) {
		t.Errorf("Update(too large) error = %v, want ErrTooLarge", err)
	}
	if got := readString(t, path); got != "old" {
		t.Errorf("state = %q, want the old content kept", got)
	}
	if err := WriteFile(path, big[:MaxFileSize]); err != nil {
		t.Errorf("WriteFile(MaxFileSize bytes): %v", err)
	}
	if got, err := ReadFile(path); err != nil || len(got) != MaxFileSize {
		t.Errorf("read back %d bytes, %v; want %d", len(got), err, MaxFileSize)
	}
}

// A relative path is taken from the working directory as the kernel names it: a $PWD that reaches
// it through a symbolic link does not make it refused.
func TestRelativePathInALinkedWorkingDirectory(t *testing.T) {
	base := t.TempDir()
	real := filepath.Join(base, "real")
	if err := os.Mkdir(real, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(real, filepath.Join(base, "link")); err != nil {
		t.Fatal(err)
	}
	t.Chdir(filepath.Join(base, "link")) // sets $PWD to the link
	if err := (FileStore{}).Update(filepath.Join("state", "doc"), func([]byte) ([]byte, error) { return []byte("x"), nil }); err != nil {
		t.Fatalf("Update of a relative path: %v", err)
	}
	if got := readString(t, filepath.Join(real, "state", "doc")); got != "x" {
		t.Errorf("doc = %q, want x", got)
	}
}
