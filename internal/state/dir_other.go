//go:build !linux

package state

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Dir is a state directory checked by OpenDir. This is the portable version for systems other
// than Linux (Windows): it works with paths, checks every directory from the root down with
// Lstat and refuses symbolic links, but cannot hold the checked directory open as the Linux
// version does. A Dir is safe for concurrent use; Close it when done.
type Dir struct {
	path     string
	euid     uint32
	anyOwner bool
}

// OpenDir checks the state directory path, creating the missing directories (0700) when create
// is set. Every directory on the way must belong to this user or root and must not be writable by
// other users unless it has the sticky bit, where the system has owners; none may be a symbolic
// link. A missing directory without create gives an error that wraps fs.ErrNotExist.
func OpenDir(path string, create bool) (*Dir, error) { return openDir(path, create, false) }

func openDir(path string, create, anyOwner bool) (*Dir, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("directory %s: %w", path, err)
	}
	euid := uint32(os.Geteuid())
	vol := filepath.VolumeName(abs)
	cur := vol + string(filepath.Separator)
	if err := checkDirPath(cur, euid, anyOwner); err != nil {
		return nil, inDir(path, abs, cur, err)
	}
	for _, c := range strings.Split(strings.TrimPrefix(abs[len(vol):], string(filepath.Separator)), string(filepath.Separator)) {
		if c == "" {
			continue
		}
		next := filepath.Join(cur, c)
		_, err := os.Lstat(next)
		if errors.Is(err, fs.ErrNotExist) && create {
			if merr := os.Mkdir(next, DirMode); merr != nil && !errors.Is(merr, fs.ErrExist) {
				return nil, fmt.Errorf("create directory %s: %w", next, explain(merr))
			}
		} else if err != nil {
			return nil, inDir(path, abs, next, fmt.Errorf("directory %s: %w", next, explain(err)))
		}
		if err := checkDirPath(next, euid, anyOwner); err != nil {
			return nil, inDir(path, abs, next, err)
		}
		cur = next
	}
	return &Dir{path: path, euid: euid, anyOwner: anyOwner}, nil
}

func inDir(path, abs, at string, err error) error {
	if at == abs {
		return err
	}
	return fmt.Errorf("directory %s: %w", path, err)
}

func checkDirPath(path string, euid uint32, anyOwner bool) error {
	fi, err := os.Lstat(path)
	if err != nil {
		return fmt.Errorf("directory %s: %w", path, explain(err))
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		return symlinkRefusal("directory ", path)
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory", path)
	}
	uid, ok := fileOwner(fi)
	if !ok || anyOwner {
		return nil
	}
	if uid != euid && uid != 0 {
		return refusal(unsafeKinds, "refusing to use directory %s: it belongs to %s, and only directories of %s are trusted with state (another user could replace what is in it)",
			path, describeUser(uid), ownersText(euid))
	}
	if perm := fi.Mode().Perm(); perm&0o022 != 0 && fi.Mode()&fs.ModeSticky == 0 {
		return refusal(unsafeKinds, "refusing to use directory %s: other users can write to it (mode %o) and it has no sticky bit", path, perm)
	}
	return nil
}

// Path returns the directory's path as given to OpenDir.
func (d *Dir) Path() string { return d.path }

// Join returns the path of name in d.
func (d *Dir) Join(name string) string { return filepath.Join(d.path, name) }

// Close releases the directory.
func (d *Dir) Close() error { return nil }

func (d *Dir) checkFile(path string, fi fs.FileInfo) error {
	if fi.Mode()&fs.ModeSymlink != 0 {
		return symlinkRefusal("", path)
	}
	if !fi.Mode().IsRegular() {
		return refusal(unsafeKinds, "refusing to use %s: it is not a regular file", path)
	}
	uid, ok := fileOwner(fi)
	if !ok {
		return nil
	}
	if !d.anyOwner && uid != d.euid && uid != 0 {
		return refusal(unsafeKinds, "refusing to use %s: it belongs to %s, and only files of %s are trusted", path, describeUser(uid), ownersText(d.euid))
	}
	if perm := fi.Mode().Perm(); perm&0o022 != 0 {
		return refusal(unreadableKinds, "refusing to use %s: other users can write to it (mode %o)", path, perm)
	}
	return nil
}

// openFile checks name, then opens it.
func (d *Dir) openFile(name string, flag int, perm fs.FileMode) (*os.File, error) {
	if err := checkName(d.path, name); err != nil {
		return nil, err
	}
	path := d.Join(name)
	if fi, err := os.Lstat(path); err == nil {
		if err := d.checkFile(path, fi); err != nil {
			return nil, err
		}
	}
	f, err := os.OpenFile(path, flag, perm)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err == nil {
		err = d.checkFile(path, fi)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// ReadFile reads the file name. A missing file gives (nil, nil).
func (d *Dir) ReadFile(name string) ([]byte, error) {
	f, err := d.openFile(name, os.O_RDONLY, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, readError(d.Join(name), err)
	}
	defer f.Close()
	return readLimited(f)
}

// Lstat describes name without following a symbolic link.
func (d *Dir) Lstat(name string) (fs.FileInfo, error) {
	if err := checkName(d.path, name); err != nil {
		return nil, err
	}
	return os.Lstat(d.Join(name))
}

// ReadDir lists d.
func (d *Dir) ReadDir() ([]fs.DirEntry, error) {
	ents, err := os.ReadDir(d.path)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", d.path, err)
	}
	return ents, nil
}

// Remove removes the regular file name; nothing when it is missing.
func (d *Dir) Remove(name string) error {
	fi, err := d.Lstat(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("remove %s: %w", d.Join(name), err)
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		return symlinkRefusal("", d.Join(name))
	}
	if !fi.Mode().IsRegular() {
		return refusal(unsafeKinds, "refusing to remove %s: it is not a regular file", d.Join(name))
	}
	if err := os.Remove(d.Join(name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", d.Join(name), explain(err))
	}
	return nil
}

// Write replaces name with data atomically (see the Linux version).
func (d *Dir) Write(name string, data []byte, o WriteOptions) error {
	if err := checkName(d.path, name); err != nil {
		return err
	}
	path := d.Join(name)
	if len(data) > MaxFileSize {
		return tooLargeToWrite(path, len(data))
	}
	if fi, err := os.Lstat(path); err == nil {
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			return symlinkRefusal("", path)
		case fi.IsDir():
			return fmt.Errorf("write %s: it is a directory", path)
		case !fi.Mode().IsRegular():
			return refusal(unsafeKinds, "refusing to replace %s: it is not a regular file", path)
		}
	}
	mode := o.Mode
	if mode == 0 {
		mode = FileMode
	}
	tmp := o.Temp
	if tmp == "" {
		var b [8]byte
		_, _ = rand.Read(b[:])
		tmp = "." + name + ".tmp-" + hex.EncodeToString(b[:])
	}
	tmpPath := d.Join(tmp)
	f, err := os.OpenFile(tmpPath, os.O_WRONLY|os.O_CREATE|os.O_EXCL, FileMode)
	if errors.Is(err, fs.ErrExist) && o.Temp != "" {
		if rerr := d.Remove(tmp); rerr != nil {
			return fmt.Errorf("write %s: %w", path, rerr)
		}
		f, err = os.OpenFile(tmpPath, os.O_WRONLY|os.O_CREATE|os.O_EXCL, FileMode)
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, explain(err))
	}
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmpPath)
		}
	}()
	if err := f.Chmod(mode); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", path, explain(err))
	}
	if !o.NoSync {
		if err := f.Sync(); err != nil {
			return fmt.Errorf("write %s: %w", path, explain(err))
		}
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, explain(err))
	}
	if !o.ModTime.IsZero() {
		_ = os.Chtimes(tmpPath, o.ModTime, o.ModTime)
	}
	if err := os.Rename(tmpPath, path); err != nil {
		return fmt.Errorf("write %s: %w", path, explain(err))
	}
	ok = true
	return nil
}

// CheckAppend reports what would make Append of name fail its checks, without writing.
func (d *Dir) CheckAppend(name string) error {
	if err := checkName(d.path, name); err != nil {
		return err
	}
	fi, err := os.Lstat(d.Join(name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return openLogError(d.Join(name), err)
	}
	return d.checkFile(d.Join(name), fi)
}

// SameFile reports whether the open file f is still the file name of d.
func (d *Dir) SameFile(f *os.File, name string) bool {
	held, err := f.Stat()
	if err != nil {
		return false
	}
	cur, err := d.Lstat(name)
	return err == nil && os.SameFile(held, cur)
}

// holder names the process that holds a lock on f: this system does not tell.
func holder(*os.File) string { return "another process" }

// open opens name with flag (and FileMode when it is created), after the checks of openFile.
func (d *Dir) open(name string, flag int) (*os.File, error) { return d.openFile(name, flag, FileMode) }

// Sub opens the directory name in d, creating it (0700) when create is set; see the Linux
// version.
func (d *Dir) Sub(name string, create bool) (*Dir, error) {
	if err := checkName(d.path, name); err != nil {
		return nil, err
	}
	path := d.Join(name)
	_, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) && create {
		if merr := os.Mkdir(path, DirMode); merr != nil && !errors.Is(merr, fs.ErrExist) {
			return nil, fmt.Errorf("create directory %s: %w", path, explain(merr))
		}
	} else if err != nil {
		return nil, fmt.Errorf("directory %s: %w", path, explain(err))
	}
	if err := checkDirPath(path, d.euid, d.anyOwner); err != nil {
		return nil, err
	}
	return &Dir{path: path, euid: d.euid, anyOwner: d.anyOwner}, nil
}

// RemoveDir removes the empty directory name of d: nothing when it is missing; see the Linux
// version.
func (d *Dir) RemoveDir(name string) error {
	fi, err := d.Lstat(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("remove %s: %w", d.Join(name), err)
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		return symlinkRefusal("directory ", d.Join(name))
	}
	if !fi.IsDir() {
		return refusal(unsafeKinds, "refusing to remove %s: it is not a directory", d.Join(name))
	}
	if err := os.Remove(d.Join(name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", d.Join(name), explain(err))
	}
	return nil
}

// Touch sets the modification time of the file name to t; see the Linux version.
func (d *Dir) Touch(name string, t time.Time) error {
	f, err := d.openFile(name, os.O_RDONLY, 0)
	if err != nil {
		return err
	}
	f.Close()
	return os.Chtimes(d.Join(name), t, t)
}
