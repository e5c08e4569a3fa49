//go:build linux

package state

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

const crashWriterEnv = "RESILIENCE_OPS_STATE_CRASH_WRITER"

type doc struct {
	N   int    `json:"n"`
	Pad string `json:"pad"`
}

// TestCrashWriter is not a test: it is the process TestKillMidWrite kills. It updates the document
// at $RESILIENCE_OPS_STATE_CRASH_WRITER in a loop, each time a little bigger.
func TestCrashWriter(t *testing.T) {
	path := os.Getenv(crashWriterEnv)
	if path == "" {
		t.Skip("the writer process of TestKillMidWrite")
	}
	for first := true; ; first = false {
		err := FileStore{}.Update(path, func(cur []byte) ([]byte, error) {
			var d doc
			if cur != nil {
				if err := json.Unmarshal(cur, &d); err != nil {
					return nil, err
				}
			}
			d.N++
			d.Pad = strings.Repeat("x", 64<<10+d.N%4096) // big enough that a kill lands mid-write
			return json.Marshal(d)
		})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(3)
		}
		if first {
			fmt.Println("wrote") // the killer waits for this: a slow start (-race) is not a kill
		}
	}
}

// TestKillMidWrite kills a writer with SIGKILL at random points, many times: the file always holds
// a whole document, the previous one or the next, and the count never goes back.
func TestKillMidWrite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	last := 0
	for i := 0; i < 25; i++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashWriter$")
		cmd.Env = append(os.Environ(), crashWriterEnv+"="+path)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 { // every other writer is killed after its first write, the rest anywhere
			line, _ := bufio.NewReader(out).ReadString('\n')
			if line != "wrote\n" {
				t.Fatalf("the writer did not start: %q", line)
			}
		}
		go io.Copy(io.Discard, out)                                   //nolint:errcheck // until it dies
		time.Sleep(time.Duration(1+rand.IntN(30)) * time.Millisecond) // a random point of its work
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
		data, err := ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if data == nil {
			continue // killed before its first write
		}
		var d doc
		if err := json.Unmarshal(data, &d); err != nil {
			t.Fatalf("kill %d left a torn file (%d bytes): %v", i, len(data), err)
		}
		if d.N < last {
			t.Fatalf("kill %d: the count went back from %d to %d", i, last, d.N)
		}
		last = d.N
	}
	if last == 0 {
		t.Fatal("the writer never wrote: the test exercised nothing")
	}
	// A new writer after all the kills works, and leaves no temporary files of the dead ones.
	if err := (FileStore{}).Update(path, func(cur []byte) ([]byte, error) { return []byte(`{"n":0}`), nil }); err != nil {
		t.Fatal(err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".state.json.tmp-*")); len(left) > 0 {
		t.Errorf("temporary files of killed writers are left behind: %d", len(left))
	}
}

// smallFS mounts a tmpfs of size bytes on a fresh directory (root only) and unmounts it at the end.
func smallFS(t *testing.T, size int) string {
	t.Helper()
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%d,mode=0700", size)); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("cannot mount a small tmpfs to fill (CI runs as root): %v", err)
		}
		t.Skipf("needs root to mount a small tmpfs: %v", err)
	}
	t.Cleanup(func() { _ = syscall.Unmount(dir, syscall.MNT_DETACH) })
	return dir
}

// TestFullDiskKeepsOldState: a write that does not fit gives a clear error and the old state stays.
func TestFullDiskKeepsOldState(t *testing.T) {
	dir := smallFS(t, 64<<10)
	path := filepath.Join(dir, "guard")
	old := []byte(`{"id":"old"}`)
	if err := WriteFile(path, old); err != nil {
		t.Fatal(err)
	}
	err := FileStore{}.Update(path, func([]byte) ([]byte, error) { return bytes.Repeat([]byte("x"), 256<<10), nil })
	if err == nil || !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), "disk is full") || !strings.Contains(err.Error(), path) {
		t.Fatalf("err = %v; want a full-disk error naming %s", err, path)
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, old) {
		t.Errorf("the old state was not kept: %q", got)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".guard.tmp-*")); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

// TestReadOnlyKeepsOldState: a read-only file system gives a clear error and the old state stays.
func TestReadOnlyKeepsOldState(t *testing.T) {
	dir := smallFS(t, 64<<10)
	path := filepath.Join(dir, "guard")
	old := []byte(`{"id":"old"}`)
	if err := WriteFile(path, old); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("", dir, "", syscall.MS_REMOUNT|syscall.MS_RDONLY, ""); err != nil {
		t.Fatalf("remount read-only: %v", err)
	}
	err := FileStore{}.Update(path, func([]byte) ([]byte, error) { return []byte(`{"id":"new"}`), nil })
	if err == nil || !strings.Contains(err.Error(), "read-only") || !strings.Contains(err.Error(), dir) {
		t.Fatalf("err = %v; want a read-only error naming the path", err)
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, old) {
		t.Errorf("the old state was not kept: %q", got)
	}
}

const lockHolderEnv = "RESILIENCE_OPS_STATE_LOCK_HOLDER"

// TestLockHolder is not a test: it is the process TestDeadHolderNeverBlocks kills while it holds a
// lock.
func TestLockHolder(t *testing.T) {
	path := os.Getenv(lockHolderEnv)
	if path == "" {
		t.Skip("the lock holder of TestDeadHolderNeverBlocks")
	}
	if _, err := Lock(path); err != nil {
		os.Exit(3)
	}
	fmt.Println("locked")
	select {} // hold it until killed
}

// TestDeadHolderNeverBlocks: a process killed while it holds a state file's lock does not block the
// next writer.
func TestDeadHolderNeverBlocks(t *testing.T) {
	path := filepath.Join(t.TempDir(), "guard")
	cmd := exec.Command(os.Args[0], "-test.run=^TestLockHolder$")
	cmd.Env = append(os.Environ(), lockHolderEnv+"="+path+".lock")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 6)
	if _, err := io.ReadFull(out, buf); err != nil || string(buf) != "locked" {
		t.Fatalf("the holder did not take the lock: %q %v", buf, err)
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
	done := make(chan error, 1)
	go func() {
		done <- FileStore{}.Update(path, func([]byte) ([]byte, error) { return []byte("{}"), nil })
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the lock of a killed process still blocks")
	}
}
