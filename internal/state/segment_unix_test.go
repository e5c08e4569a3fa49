//go:build unix

package state

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func openTestDir(t *testing.T) *Dir {
	t.Helper()
	d, err := OpenDir(filepath.Join(t.TempDir(), "state"), true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// Shared locks coexist; an exclusive lock waits for them and keeps new shared ones out.
func TestLockSharedAndExclusive(t *testing.T) {
	d := openTestDir(t)
	u1, err := d.LockShared("s.lock")
	if err != nil {
		t.Fatal(err)
	}
	u2, err := d.LockShared("s.lock")
	if err != nil {
		t.Fatalf("a second shared lock: %v", err)
	}
	if _, err := d.LockWithin("s.lock", 0); !errors.Is(err, ErrLockTimeout) {
		t.Errorf("exclusive lock while shared ones are held: %v", err)
	}
	u1()
	u2()
	unlock, err := d.LockWithin("s.lock", 0)
	if err != nil {
		t.Fatalf("exclusive lock once the shared ones are gone: %v", err)
	}
	t.Setenv(LockWaitEnv, "0s")
	if _, err := d.LockShared("s.lock"); !errors.Is(err, ErrLockTimeout) || !strings.Contains(err.Error(), "process") {
		t.Errorf("shared lock while an exclusive one is held: %v", err)
	}
	unlock()
	if fi, err := d.Lstat("s.lock"); err != nil || fi.Mode().Perm() != FileMode {
		t.Errorf("lock file: %v %v", fi, err)
	}
}

func TestSegmentAppendAndTornTail(t *testing.T) {
	d := openTestDir(t)
	if seg, err := d.OpenSegment("a.jsonl", false); seg != nil || err != nil {
		t.Fatalf("a missing segment without create: %v, %v", seg, err)
	}
	seg, err := d.OpenSegment("a.jsonl", true)
	if err != nil {
		t.Fatal(err)
	}
	if err := seg.Append([]byte(`{"n":1}` + "\n" + `{"n":2}`)); err != nil {
		t.Fatal(err)
	}
	if seg.Size() != 16 {
		t.Errorf("size %d", seg.Size())
	}
	seg.Close()
	// A writer killed in the middle of its write left a fragment without a newline.
	f, err := os.OpenFile(d.Join("a.jsonl"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"n":3,"cut`)
	f.Close()
	seg, err = d.OpenSegment("a.jsonl", false)
	if err != nil {
		t.Fatal(err)
	}
	if err := seg.Append([]byte(`{"n":4}` + "\n")); err != nil {
		t.Fatal(err)
	}
	seg.Close()
	data, _ := d.ReadFile("a.jsonl")
	want := `{"n":1}` + "\n" + `{"n":2}` + "\n" + `{"n":3,"cut` + "\n" + `{"n":4}` + "\n"
	if string(data) != want {
		t.Errorf("segment = %q, want %q (the fragment ends on its own line, no record is joined to it)", data, want)
	}
	fi, _ := d.Lstat("a.jsonl")
	if fi.Mode().Perm() != FileMode {
		t.Errorf("mode %o", fi.Mode().Perm())
	}
}

func TestSegmentRefusals(t *testing.T) {
	d := openTestDir(t)
	if err := os.Symlink("/etc/passwd", d.Join("link.jsonl")); err != nil {
		t.Fatal(err)
	}
	if _, err := d.OpenSegment("link.jsonl", true); !errors.Is(err, ErrSymlink) {
		t.Errorf("a symbolic link: %v", err)
	}
	if err := syscall.Mkfifo(d.Join("fifo.jsonl"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := d.OpenSegment("fifo.jsonl", true); !errors.Is(err, ErrUnsafe) {
		t.Errorf("a named pipe: %v", err)
	}
	seg, err := d.OpenSegment("big.jsonl", true)
	if err != nil {
		t.Fatal(err)
	}
	defer seg.Close()
	if err := seg.Append(bytes.Repeat([]byte("x"), MaxFileSize)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("a record beyond the limit: %v", err)
	}
	if seg.Size() != 0 || seg.Fits(MaxFileSize) || !seg.Fits(100) {
		t.Errorf("after a refused append: size %d", seg.Size())
	}
}

// Writers of one segment wait for each other: every line arrives whole, none is lost.
func TestSegmentConcurrentWriters(t *testing.T) {
	d := openTestDir(t)
	const writers, each = 20, 25
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				seg, err := d.OpenSegment("c.jsonl", true)
				if err != nil {
					t.Error(err)
					return
				}
				if err := seg.Append([]byte(fmt.Sprintf(`{"w":%d,"i":%d,"pad":"%s"}`, w, i, strings.Repeat("p", 3000)))); err != nil {
					t.Error(err)
				}
				seg.Close()
			}
		}(w)
	}
	wg.Wait()
	data, _ := d.ReadFile("c.jsonl")
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	if len(lines) != writers*each {
		t.Fatalf("%d lines, want %d", len(lines), writers*each)
	}
	seen := map[string]bool{}
	for _, l := range lines {
		if !strings.HasPrefix(l, `{"w":`) || !strings.HasSuffix(l, `"}`) || len(l) < 3000 {
			t.Fatalf("a torn line: %.60q", l)
		}
		seen[l[:strings.Index(l, `,"pad"`)]] = true
	}
	if len(seen) != writers*each {
		t.Errorf("%d distinct lines", len(seen))
	}
}

func TestSubAndRemoveDir(t *testing.T) {
	d := openTestDir(t)
	if _, err := d.Sub("parts", false); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a missing directory without create: %v", err)
	}
	sub, err := d.Sub("parts", true)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := d.Lstat("parts"); err != nil || fi.Mode().Perm() != DirMode || !fi.IsDir() {
		t.Errorf("parts: %v %v", fi, err)
	}
	if err := sub.Write("f", []byte("x"), WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	sub.Close()
	if err := d.RemoveDir("parts"); err == nil {
		t.Error("removed a directory that is not empty")
	}
	sub, _ = d.Sub("parts", false)
	_ = sub.Remove("f")
	sub.Close()
	if err := d.RemoveDir("parts"); err != nil {
		t.Fatal(err)
	}
	if err := d.RemoveDir("parts"); err != nil {
		t.Errorf("removing a missing directory: %v", err)
	}
	// A symbolic link to a directory is neither opened nor removed.
	other := t.TempDir()
	if err := os.Symlink(other, d.Join("link")); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Sub("link", true); !errors.Is(err, ErrSymlink) {
		t.Errorf("Sub of a symbolic link: %v", err)
	}
	if err := d.RemoveDir("link"); !errors.Is(err, ErrSymlink) {
		t.Errorf("RemoveDir of a symbolic link: %v", err)
	}
	// A directory others can write to is refused.
	if err := os.Mkdir(d.Join("open"), 0o777); err != nil {
		t.Fatal(err)
	}
	_ = os.Chmod(d.Join("open"), 0o777)
	if _, err := d.Sub("open", false); !errors.Is(err, ErrUnsafe) {
		t.Errorf("a directory others can write to: %v", err)
	}
	if _, err := d.Sub("../x", true); err == nil {
		t.Error("a name with a separator")
	}
}

func TestTouch(t *testing.T) {
	d := openTestDir(t)
	if err := d.Write("f", []byte("x"), WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := d.Touch("f", at); err != nil {
		t.Fatal(err)
	}
	if fi, _ := d.Lstat("f"); !fi.ModTime().Equal(at) {
		t.Errorf("mtime %v, want %v", fi.ModTime(), at)
	}
	if err := d.Touch("missing", at); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("touch of a missing file: %v", err)
	}
	if err := os.Symlink(d.Join("f"), d.Join("l")); err != nil {
		t.Fatal(err)
	}
	if err := d.Touch("l", at); !errors.Is(err, ErrSymlink) {
		t.Errorf("touch of a symbolic link: %v", err)
	}
}
