//go:build linux

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
	"syscall"
	"time"
	"unsafe"
)

// oPath is Linux's O_PATH (the same value on every architecture Go runs Linux on): an open file
// description that only stats, which with O_NOFOLLOW stats a symbolic link itself. The syscall
// package has no fstatat on linux/amd64.
const oPath = 0x200000

const (
	dirFlags  = syscall.O_RDONLY | syscall.O_DIRECTORY | syscall.O_NOFOLLOW | syscall.O_CLOEXEC | syscall.O_NONBLOCK
	fileFlags = syscall.O_NOFOLLOW | syscall.O_CLOEXEC | syscall.O_NONBLOCK
)

// Dir is a state directory opened by OpenDir: every directory from / down to it was opened
// relative to its parent without following a symbolic link, and checked, so what its methods do
// happens in that very directory even if a path above it is renamed meanwhile. Names given to its
// methods are single file names. A Dir is safe for concurrent use; Close it when done.
type Dir struct {
	path     string
	f        *os.File
	fd       int
	euid     uint32
	anyOwner bool
}

// OpenDir opens the state directory path, creating the missing directories (0700) when create is
// set. Every directory on the way, / included, must belong to this user or root, and must not be
// writable by other users unless it has the sticky bit (as /tmp has); none may be a symbolic link.
// Nothing is created inside a directory that fails these checks. A missing directory without
// create gives an error that wraps fs.ErrNotExist.
func OpenDir(path string, create bool) (*Dir, error) { return openDir(path, create, false) }

func openDir(path string, create, anyOwner bool) (*Dir, error) {
	abs := filepath.Clean(path)
	if !filepath.IsAbs(path) {
		// The kernel's name of the working directory, not $PWD, which may name it through a
		// symbolic link that the walk below would refuse.
		wd, err := syscall.Getwd()
		if err != nil {
			return nil, fmt.Errorf("directory %s: %w", path, err)
		}
		abs = filepath.Join(wd, path)
	}
	euid := uint32(os.Geteuid())
	fd, err := openat(-1, "/", dirFlags)
	if err != nil {
		return nil, fmt.Errorf("directory /: %w", err)
	}
	cur := "/"
	if err := checkDirFD(fd, cur, euid, anyOwner); err != nil {
		syscall.Close(fd)
		return nil, inDir(path, abs, cur, err)
	}
	for _, c := range strings.Split(abs, "/") {
		if c == "" {
			continue
		}
		next := filepath.Join(cur, c)
		nfd, err := openat(fd, c, dirFlags)
		if errors.Is(err, syscall.ENOENT) && create {
			if merr := syscall.Mkdirat(fd, c, DirMode); merr != nil && !errors.Is(merr, syscall.EEXIST) {
				syscall.Close(fd)
				return nil, fmt.Errorf("create directory %s: %w", next, explain(&os.PathError{Op: "mkdir", Path: next, Err: merr}))
			}
			nfd, err = openat(fd, c, dirFlags)
		}
		if err != nil {
			err = dirOpenError(fd, c, next, err)
			syscall.Close(fd)
			return nil, inDir(path, abs, next, err)
		}
		syscall.Close(fd)
		fd, cur = nfd, next
		if err := checkDirFD(fd, cur, euid, anyOwner); err != nil {
			syscall.Close(fd)
			return nil, inDir(path, abs, cur, err)
		}
	}
	return &Dir{path: path, f: os.NewFile(uintptr(fd), path), fd: fd, euid: euid, anyOwner: anyOwner}, nil
}

// inDir names the directory asked for when the problem is with a directory above it.
func inDir(path, abs, at string, err error) error {
	if at == abs {
		return err
	}
	return fmt.Errorf("directory %s: %w", path, err)
}

// dirOpenError explains why component name of parent (at path) could not be opened as a directory.
func dirOpenError(parent int, name, path string, err error) error {
	if errors.Is(err, syscall.ENOTDIR) || errors.Is(err, syscall.ELOOP) {
		if st, serr := lstatAt(parent, name); serr == nil {
			if st.Mode&syscall.S_IFMT == syscall.S_IFLNK {
				return symlinkRefusal("directory ", path)
			}
			return fmt.Errorf("%s is not a directory (it is %s)", path, kindOf(st.Mode))
		}
		return fmt.Errorf("%s is not a directory", path)
	}
	return fmt.Errorf("directory %s: %w", path, explain(&os.PathError{Op: "open", Path: path, Err: err}))
}

func checkDirFD(fd int, path string, euid uint32, anyOwner bool) error {
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return fmt.Errorf("directory %s: %w", path, err)
	}
	return checkDirStat(path, st.Uid, st.Mode, euid, anyOwner)
}

// checkDirStat is the check of one directory: who owns it and who can write to it.
func checkDirStat(path string, uid, mode, euid uint32, anyOwner bool) error {
	if anyOwner {
		return nil
	}
	if uid != euid && uid != 0 {
		return refusal(unsafeKinds, "refusing to use directory %s: it belongs to %s, and only directories of %s are trusted with state (another user could replace what is in it)",
			path, describeUser(uid), ownersText(euid))
	}
	if perm := mode & 0o777; perm&0o022 != 0 && mode&syscall.S_ISVTX == 0 {
		return refusal(unsafeKinds, "refusing to use directory %s: other users can write to it (mode %o) and it has no sticky bit", path, perm)
	}
	return nil
}

// kindOf names the file type of a stat mode.
func kindOf(mode uint32) string {
	switch mode & syscall.S_IFMT {
	case syscall.S_IFREG:
		return "a regular file"
	case syscall.S_IFDIR:
		return "a directory"
	case syscall.S_IFLNK:
		return "a symbolic link"
	case syscall.S_IFIFO:
		return "a named pipe (FIFO)"
	case syscall.S_IFSOCK:
		return "a socket"
	case syscall.S_IFCHR:
		return "a character device"
	case syscall.S_IFBLK:
		return "a block device"
	}
	return "a special file"
}

// openat is syscall.Openat that retries on EINTR; dirfd -1 means an absolute path.
func openat(dirfd int, name string, flags int, perm ...uint32) (int, error) {
	var mode uint32
	if len(perm) > 0 {
		mode = perm[0]
	}
	for {
		var fd int
		var err error
		if dirfd == -1 {
			fd, err = syscall.Open(name, flags, mode)
		} else {
			fd, err = syscall.Openat(dirfd, name, flags, mode)
		}
		if !errors.Is(err, syscall.EINTR) {
			return fd, err
		}
	}
}

// lstatAt stats name in dirfd without following a symbolic link.
func lstatAt(dirfd int, name string) (*syscall.Stat_t, error) {
	fd, err := openat(dirfd, name, oPath|syscall.O_NOFOLLOW|syscall.O_CLOEXEC)
	if err != nil {
		return nil, err
	}
	defer syscall.Close(fd)
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return nil, err
	}
	return &st, nil
}

// Path returns the directory's path as given to OpenDir.
func (d *Dir) Path() string { return d.path }

// Join returns the path of name in d.
func (d *Dir) Join(name string) string { return filepath.Join(d.path, name) }

// Close closes the directory.
func (d *Dir) Close() error { return d.f.Close() }

// ours reports whether a file of uid may be used: it belongs to this user or root.
func (d *Dir) ours(uid uint32) bool { return d.anyOwner || uid == d.euid || uid == 0 }

// checkFile is the check of a file opened or found in d.
func (d *Dir) checkFile(path string, st *syscall.Stat_t) error {
	if st.Mode&syscall.S_IFMT == syscall.S_IFLNK {
		return symlinkRefusal("", path)
	}
	if st.Mode&syscall.S_IFMT != syscall.S_IFREG {
		return refusal(unsafeKinds, "refusing to use %s: it is %s, not a regular file", path, kindOf(st.Mode))
	}
	if !d.ours(st.Uid) {
		return refusal(unsafeKinds, "refusing to use %s: it belongs to %s, and only files of %s are trusted", path, describeUser(st.Uid), ownersText(d.euid))
	}
	if perm := st.Mode & 0o777; perm&0o022 != 0 {
		return refusal(unreadableKinds, "refusing to use %s: other users can write to it (mode %o)", path, perm)
	}
	if st.Nlink > 1 {
		return refusal(unreadableKinds, "refusing to use %s: it has %d hard links, and a state file has one", path, st.Nlink)
	}
	return nil
}

// openFile opens name in d with flag (O_NOFOLLOW and O_NONBLOCK added, so that a symbolic link
// is refused and a named pipe never blocks) and checks what it opened before anything is read
// or written.
func (d *Dir) openFile(name string, flag int, perm uint32) (*os.File, *syscall.Stat_t, error) {
	fd, st, err := d.openFD(name, flag, perm)
	if err != nil {
		return nil, nil, err
	}
	_ = syscall.SetNonblock(fd, false)
	return os.NewFile(uintptr(fd), d.Join(name)), st, nil
}

// openFD is openFile that returns the file descriptor (still O_NONBLOCK, which does nothing to a
// regular file), for callers that read it with a few system calls of their own.
func (d *Dir) openFD(name string, flag int, perm uint32) (int, *syscall.Stat_t, error) {
	if err := checkName(d.path, name); err != nil {
		return -1, nil, err
	}
	path := d.Join(name)
	fd, err := openat(d.fd, name, flag|fileFlags, perm)
	if err != nil {
		switch {
		case errors.Is(err, syscall.ELOOP):
			return -1, nil, symlinkRefusal("", path)
		case errors.Is(err, syscall.ENXIO), errors.Is(err, syscall.EISDIR):
			kind := "not a regular file"
			if st, serr := lstatAt(d.fd, name); serr == nil {
				kind = kindOf(st.Mode) + ", not a regular file"
			}
			return -1, nil, refusal(unsafeKinds, "refusing to use %s: it is %s", path, kind)
		}
		if !errors.Is(err, syscall.ENOENT) {
			// Say what is there rather than a bare "permission denied" (fs.protected_regular
			// and fs.protected_fifos refuse root's O_CREAT on a file another user left in /tmp).
			if st, serr := lstatAt(d.fd, name); serr == nil {
				if cerr := d.checkFile(path, st); cerr != nil {
					return -1, nil, cerr
				}
			}
		}
		return -1, nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		syscall.Close(fd)
		return -1, nil, &os.PathError{Op: "stat", Path: path, Err: err}
	}
	if err := d.checkFile(path, &st); err != nil {
		syscall.Close(fd)
		return -1, nil, err
	}
	return fd, &st, nil
}

// ReadFile reads the file name. A missing file gives (nil, nil); an empty one a non-nil empty
// slice.
func (d *Dir) ReadFile(name string) ([]byte, error) {
	fd, st, err := d.openFD(name, syscall.O_RDONLY, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, readError(d.Join(name), err)
	}
	defer syscall.Close(fd)
	if st.Size > MaxFileSize {
		return nil, tooLargeToRead(d.Join(name))
	}
	// What the file held when it was opened: state files are replaced whole, never rewritten in
	// place, and an append-only file that grows meanwhile is read up to a line it had then.
	buf := make([]byte, st.Size)
	for off := 0; off < len(buf); {
		n, err := syscall.Read(fd, buf[off:])
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", d.Join(name), err)
		}
		if n == 0 { // shorter than it was: truncated meanwhile
			return buf[:off], nil
		}
		off += n
	}
	return buf, nil
}

// Lstat describes name without following a symbolic link.
func (d *Dir) Lstat(name string) (fs.FileInfo, error) {
	if err := checkName(d.path, name); err != nil {
		return nil, err
	}
	st, err := lstatAt(d.fd, name)
	if err != nil {
		return nil, &os.PathError{Op: "lstat", Path: d.Join(name), Err: err}
	}
	return statInfo(name, st), nil
}

// ReadDir lists d.
func (d *Dir) ReadDir() ([]fs.DirEntry, error) {
	fd, err := openat(d.fd, ".", syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: d.path, Err: err}
	}
	f := os.NewFile(uintptr(fd), d.path)
	defer f.Close()
	ents, err := f.ReadDir(-1)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", d.path, err)
	}
	out := make([]fs.DirEntry, len(ents))
	for i, e := range ents {
		out[i] = dirEntry{d: d, name: e.Name(), typ: e.Type()}
	}
	return out, nil
}

// dirEntry is an entry of Dir.ReadDir whose Info is taken relative to the directory.
type dirEntry struct {
	d    *Dir
	name string
	typ  fs.FileMode
}

func (e dirEntry) Name() string               { return e.name }
func (e dirEntry) IsDir() bool                { return e.typ.IsDir() }
func (e dirEntry) Type() fs.FileMode          { return e.typ }
func (e dirEntry) Info() (fs.FileInfo, error) { return e.d.Lstat(e.name) }

// Remove removes the file name: nothing when it is missing. Only a regular file of this user
// (or root) is removed; anything else is refused and left.
func (d *Dir) Remove(name string) error {
	if err := checkName(d.path, name); err != nil {
		return err
	}
	path := d.Join(name)
	st, err := lstatAt(d.fd, name)
	if errors.Is(err, syscall.ENOENT) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("remove %s: %w", path, err)
	}
	if st.Mode&syscall.S_IFMT == syscall.S_IFLNK {
		return symlinkRefusal("", path)
	}
	if st.Mode&syscall.S_IFMT != syscall.S_IFREG {
		return refusal(unsafeKinds, "refusing to remove %s: it is %s, not a regular file", path, kindOf(st.Mode))
	}
	if !d.ours(st.Uid) {
		return refusal(unsafeKinds, "refusing to remove %s: it belongs to %s", path, describeUser(st.Uid))
	}
	if err := syscall.Unlinkat(d.fd, name); err != nil && !errors.Is(err, syscall.ENOENT) {
		return fmt.Errorf("remove %s: %w", path, explain(err))
	}
	return nil
}

// Write replaces name with data atomically: a temporary file in d is written, given its mode,
// synced and renamed over name, then d is synced (see WriteOptions). An existing name that is a
// symbolic link, not a regular file, or a file of another user is refused and left as it is.
// Content larger than MaxFileSize is refused before anything is written.
func (d *Dir) Write(name string, data []byte, o WriteOptions) error {
	if err := checkName(d.path, name); err != nil {
		return err
	}
	path := d.Join(name)
	if len(data) > MaxFileSize {
		return tooLargeToWrite(path, len(data))
	}
	if st, err := lstatAt(d.fd, name); err == nil {
		switch {
		case st.Mode&syscall.S_IFMT == syscall.S_IFLNK:
			return symlinkRefusal("", path)
		case st.Mode&syscall.S_IFMT == syscall.S_IFDIR:
			return fmt.Errorf("write %s: it is a directory", path)
		case st.Mode&syscall.S_IFMT != syscall.S_IFREG:
			return refusal(unsafeKinds, "refusing to replace %s: it is %s, not a regular file", path, kindOf(st.Mode))
		case !o.AnyOwner && !d.ours(st.Uid):
			return refusal(unsafeKinds, "refusing to replace %s: it belongs to %s", path, describeUser(st.Uid))
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
	if err := checkName(d.path, tmp); err != nil {
		return err
	}
	const createFlags = syscall.O_WRONLY | syscall.O_CREAT | syscall.O_EXCL | syscall.O_NOFOLLOW | syscall.O_CLOEXEC
	fd, err := openat(d.fd, tmp, createFlags, FileMode)
	if errors.Is(err, syscall.EEXIST) && o.Temp != "" {
		// Left behind by a writer that was killed: ours to remove (the caller holds the lock).
		if rerr := d.Remove(tmp); rerr != nil {
			return fmt.Errorf("write %s: %w", path, rerr)
		}
		fd, err = openat(d.fd, tmp, createFlags, FileMode)
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, explain(&os.PathError{Op: "create", Path: d.Join(tmp), Err: err}))
	}
	f := os.NewFile(uintptr(fd), d.Join(tmp))
	ok := false
	defer func() {
		if !ok {
			f.Close()
			_ = syscall.Unlinkat(d.fd, tmp)
		}
	}()
	if err := f.Chmod(mode); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", path, explain(err))
	}
	if !o.ModTime.IsZero() {
		tv := syscall.NsecToTimeval(o.ModTime.UnixNano())
		_ = syscall.Futimes(fd, []syscall.Timeval{tv, tv})
	}
	if !o.NoSync {
		if err := f.Sync(); err != nil {
			return fmt.Errorf("write %s: %w", path, explain(err))
		}
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, explain(err))
	}
	if err := syscall.Renameat(d.fd, tmp, d.fd, name); err != nil {
		return fmt.Errorf("write %s: %w", path, explain(&os.PathError{Op: "rename", Path: path, Err: err}))
	}
	ok = true
	if !o.NoSync {
		_ = syscall.Fsync(d.fd)
	}
	return nil
}

// CheckAppend reports what would make Append of name fail the checks (a symbolic link, a file of
// another user, a named pipe...), without creating or writing anything.
func (d *Dir) CheckAppend(name string) error {
	f, _, err := d.openFile(name, syscall.O_WRONLY|syscall.O_APPEND, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return openLogError(d.Join(name), err)
	}
	return f.Close()
}

// SameFile reports whether the open file f is still the file name of d.
func (d *Dir) SameFile(f *os.File, name string) bool {
	var held syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &held); err != nil {
		return false
	}
	cur, err := lstatAt(d.fd, name)
	return err == nil && cur.Dev == held.Dev && cur.Ino == held.Ino
}

// holder names the process that holds a lock on f, from /proc/locks.
func holder(f *os.File) string {
	var st syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &st); err != nil {
		return "another process"
	}
	return lockHolder(uint64(st.Dev), st.Ino)
}

// open opens name with flag (and FileMode when it is created), after the checks of openFile.
func (d *Dir) open(name string, flag int) (*os.File, error) {
	f, _, err := d.openFile(name, flag, FileMode)
	return f, err
}

// lockHolder names the process that holds a lock on the file (dev, ino), from /proc/locks.
func lockHolder(dev, ino uint64) string {
	data, err := os.ReadFile("/proc/locks")
	if err != nil {
		return "another process"
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 6 || f[1] == "->" {
			continue // a waiter, not a holder
		}
		var maj, min, in uint64
		if _, err := fmt.Sscanf(f[5], "%x:%x:%d", &maj, &min, &in); err != nil || in != ino || mkdev(maj, min) != dev {
			continue
		}
		return describePID(f[4])
	}
	return "another process"
}

// mkdev is the device number of major and minor, as the kernel encodes it in st_dev.
func mkdev(maj, min uint64) uint64 {
	return (maj&0xfff)<<8 | (maj&^0xfff)<<32 | (min & 0xff) | (min&^0xff)<<12
}

// describePID names a process for a message: its pid, its command and its user.
func describePID(pid string) string {
	if pid == "" || strings.HasPrefix(pid, "-") || pid == "0" {
		return "another process (not visible from here)"
	}
	s := "process " + pid
	if comm, err := os.ReadFile("/proc/" + pid + "/comm"); err == nil {
		s += " (" + strings.TrimSpace(string(comm)) + ")"
	}
	status, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		return s
	}
	for _, line := range strings.Split(string(status), "\n") {
		if rest, ok := strings.CutPrefix(line, "Uid:"); ok {
			if ids := strings.Fields(rest); len(ids) >= 2 {
				var uid uint32
				if _, err := fmt.Sscanf(ids[1], "%d", &uid); err == nil {
					s += " of user " + describeUser(uid)
				}
			}
			break
		}
	}
	return s
}

// statInfo adapts a stat to fs.FileInfo.
func statInfo(name string, st *syscall.Stat_t) fs.FileInfo {
	return &fileStat{name: name, st: *st}
}

type fileStat struct {
	name string
	st   syscall.Stat_t
}

func (s *fileStat) Name() string       { return s.name }
func (s *fileStat) Size() int64        { return s.st.Size }
func (s *fileStat) ModTime() time.Time { return time.Unix(s.st.Mtim.Unix()) }
func (s *fileStat) IsDir() bool        { return s.Mode().IsDir() }
func (s *fileStat) Sys() any           { return &s.st }
func (s *fileStat) Mode() fs.FileMode {
	m := fs.FileMode(s.st.Mode & 0o777)
	switch s.st.Mode & syscall.S_IFMT {
	case syscall.S_IFDIR:
		m |= fs.ModeDir
	case syscall.S_IFLNK:
		m |= fs.ModeSymlink
	case syscall.S_IFIFO:
		m |= fs.ModeNamedPipe
	case syscall.S_IFSOCK:
		m |= fs.ModeSocket
	case syscall.S_IFCHR:
		m |= fs.ModeDevice | fs.ModeCharDevice
	case syscall.S_IFBLK:
		m |= fs.ModeDevice
	}
	if s.st.Mode&syscall.S_ISVTX != 0 {
		m |= fs.ModeSticky
	}
	return m
}

// Sub opens the directory name in d, creating it (0700) when create is set, with the checks of
// OpenDir: it must be a directory of this user or root that others cannot write to without the
// sticky bit, and not a symbolic link. A missing directory without create gives an error that
// wraps fs.ErrNotExist. Close the returned Dir when done.
func (d *Dir) Sub(name string, create bool) (*Dir, error) {
	if err := checkName(d.path, name); err != nil {
		return nil, err
	}
	path := d.Join(name)
	fd, err := openat(d.fd, name, dirFlags)
	if errors.Is(err, syscall.ENOENT) && create {
		if merr := syscall.Mkdirat(d.fd, name, DirMode); merr != nil && !errors.Is(merr, syscall.EEXIST) {
			return nil, fmt.Errorf("create directory %s: %w", path, explain(&os.PathError{Op: "mkdir", Path: path, Err: merr}))
		}
		fd, err = openat(d.fd, name, dirFlags)
	}
	if err != nil {
		return nil, dirOpenError(d.fd, name, path, err)
	}
	if err := checkDirFD(fd, path, d.euid, d.anyOwner); err != nil {
		syscall.Close(fd)
		return nil, err
	}
	return &Dir{path: path, f: os.NewFile(uintptr(fd), path), fd: fd, euid: d.euid, anyOwner: d.anyOwner}, nil
}

// atRemoveDir is Linux's AT_REMOVEDIR flag of unlinkat.
const atRemoveDir = 0x200

// RemoveDir removes the empty directory name of d: nothing when it is missing. Only a directory
// of this user (or root) is removed; a symbolic link or anything else is refused and left.
func (d *Dir) RemoveDir(name string) error {
	if err := checkName(d.path, name); err != nil {
		return err
	}
	path := d.Join(name)
	st, err := lstatAt(d.fd, name)
	if errors.Is(err, syscall.ENOENT) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("remove %s: %w", path, err)
	}
	switch {
	case st.Mode&syscall.S_IFMT == syscall.S_IFLNK:
		return symlinkRefusal("directory ", path)
	case st.Mode&syscall.S_IFMT != syscall.S_IFDIR:
		return refusal(unsafeKinds, "refusing to remove %s: it is %s, not a directory", path, kindOf(st.Mode))
	case !d.ours(st.Uid):
		return refusal(unsafeKinds, "refusing to remove %s: it belongs to %s", path, describeUser(st.Uid))
	}
	p, err := syscall.BytePtrFromString(name)
	if err != nil {
		return err
	}
	if _, _, e := syscall.Syscall(syscall.SYS_UNLINKAT, uintptr(d.fd), uintptr(unsafe.Pointer(p)), atRemoveDir); e != 0 && e != syscall.ENOENT {
		return fmt.Errorf("remove %s: %w", path, explain(e))
	}
	return nil
}

// Touch sets the modification time of the file name to t, with the checks of every file of d;
// a missing file gives an error that wraps fs.ErrNotExist.
func (d *Dir) Touch(name string, t time.Time) error {
	f, _, err := d.openFile(name, syscall.O_RDONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	tv := syscall.NsecToTimeval(t.UnixNano())
	if err := syscall.Futimes(int(f.Fd()), []syscall.Timeval{tv, tv}); err != nil {
		return fmt.Errorf("touch %s: %w", f.Name(), err)
	}
	return nil
}
