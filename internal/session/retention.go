package session

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"resilience.ops/internal/state"
)

// Retention says which sessions Cleanup removes and Compress gzips. A zero field turns its rule
// off. A plain value: safe for concurrent use.
type Retention struct {
	// MaxAge: a session whose file was last written longer ago is removed with all its files
	// (the per-attempt logs of its operations too), whatever its status.
	MaxAge time.Duration
	// MaxSessions: beyond this many sessions, the oldest finalized ones are removed. Active
	// sessions are never removed by this rule, only by MaxAge.
	MaxSessions int
	// CompressMinSize: a finalized session whose file is at least this many bytes is compressed.
	CompressMinSize int64
	// CompressAfter: a session whose file was last written longer ago is compressed.
	CompressAfter time.Duration
}

// Retention defaults.
const (
	DefaultMaxAgeDays        = 30.0
	DefaultMaxSessions       = 100
	DefaultCompressMinSize   = 1 << 20 // 1 MiB
	DefaultCompressAfterDays = 1.0
)

// Day is the unit of the retention settings given in days.
const Day = 24 * time.Hour

// Compressed is one file that Compress gzipped (or would, in DryRun).
type Compressed struct {
	File       string `json:"file"`
	SizeBefore int64  `json:"size_before"`
	SizeAfter  int64  `json:"size_after"`
}

var (
	sessionFileRE = regexp.MustCompile(`^retry_session_(retry_[0-9]{1,19}_[0-9]{1,19})\.json(\.gz)?$`)
	partsDirRE    = regexp.MustCompile(`^retry_session_(retry_[0-9]{1,19}_[0-9]{1,19})\.d$`)
	sideFileRE    = regexp.MustCompile(`^retry_(?:performance|session_error)_(retry_[0-9]{1,19}_[0-9]{1,19})\.json(\.gz)?$`)
	attemptFileRE = regexp.MustCompile(`^attempt_([A-Za-z0-9_.-]+)_([0-9]+)\.json(\.gz)?$`)
)

// sessionInfo is what the directory listing says about one session.
type sessionInfo struct {
	id    string
	path  string // the head: .json, or .json.gz when only that exists
	mtime time.Time
	size  int64
}

func (in sessionInfo) compressed() bool { return strings.HasSuffix(in.path, ".gz") }

// openDir opens the state directory for retention: nil when it does not exist (nothing to do).
func (s *Store) openDir() (*state.Dir, error) {
	d, err := state.OpenDir(s.Dir, false)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return d, err
}

// scan lists the sessions of the directory d, newest first, and every entry's name. A session's
// age is its head's modification time: every record sets it (Store.UpdateOperation).
func (s *Store) scan(d *state.Dir) ([]sessionInfo, []fs.DirEntry, error) {
	entries, err := d.ReadDir()
	if err != nil {
		return nil, nil, err
	}
	byID := map[string]sessionInfo{}
	for _, e := range entries {
		m := sessionFileRE.FindStringSubmatch(e.Name())
		if m == nil || !e.Type().IsRegular() {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			continue // removed meanwhile
		}
		in := sessionInfo{id: m[1], path: filepath.Join(s.Dir, e.Name()), mtime: fi.ModTime(), size: fi.Size()}
		if prev, ok := byID[in.id]; ok && !prev.compressed() {
			continue // both exist (a writer died between the write and the removal): .json wins
		}
		byID[in.id] = in
	}
	out := make([]sessionInfo, 0, len(byID))
	for _, in := range byID {
		out = append(out, in)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].mtime.Equal(out[j].mtime) {
			return out[i].mtime.After(out[j].mtime)
		}
		return out[i].id > out[j].id
	})
	return out, entries, nil
}

// Cleanup removes the sessions that r says to remove, except session keep (the current one), with
// their parts, performance file, error log, per-attempt logs and lock files; then per-attempt
// logs, performance files, error logs and parts directories older than MaxAge whose session is
// gone. It returns the removed paths (in DryRun, those it would remove); a parts directory is
// one path, for the directory and its segments.
//
// It is safe while sessions are written: each session is removed under its exclusive lock (which
// waits for the writers that hold it shared), after checking that nobody wrote it since it was
// listed (a session written meanwhile is kept).
func (s *Store) Cleanup(r Retention, keep string) ([]string, error) {
	d, err := s.openDir()
	if err != nil || d == nil {
		return []string{}, err
	}
	defer d.Close()
	infos, entries, err := s.scan(d)
	if err != nil {
		return nil, err
	}
	now := s.now()
	removed := []string{}
	var errs []error
	kept := 0
	gone := map[string]bool{}
	for _, in := range infos {
		if in.id == keep {
			kept++
			continue
		}
		remove := r.MaxAge > 0 && now.Sub(in.mtime) > r.MaxAge
		if !remove && r.MaxSessions > 0 && kept >= r.MaxSessions {
			h, err := readHead(d, in.id)
			remove = err == nil && h != nil && h.SessionStatus != StatusActive
		}
		if !remove {
			kept++
			continue
		}
		paths, err := s.removeSession(d, in, entries)
		if err != nil {
			errs = append(errs, err)
		}
		if len(paths) > 0 {
			gone[in.id] = true
		}
		removed = append(removed, paths...)
	}
	if r.MaxAge > 0 {
		live := map[string]bool{}
		for _, in := range infos {
			live[in.id] = !gone[in.id]
		}
		done := map[string]bool{}
		for _, p := range removed {
			done[p] = true
		}
		paths, err := s.removeOrphans(d, entries, live, done, now.Add(-r.MaxAge))
		if err != nil {
			errs = append(errs, err)
		}
		removed = append(removed, paths...)
	}
	return removed, errors.Join(errs...)
}

// operationIDs returns the ids of the operations of session id (their per-attempt logs are
// removed with it): for the parts, without decoding the records.
func operationIDs(d *state.Dir, id string) map[string]bool {
	ids := map[string]bool{}
	h, err := readHead(d, id)
	if err != nil || h == nil {
		return ids
	}
	for _, op := range h.Operations { // format 1
		ids[op.OperationID] = true
	}
	pd, err := openParts(d, id, false)
	if err != nil || pd == nil {
		return ids
	}
	defer pd.Close()
	keys, segs, err := hostSegments(pd)
	if err != nil {
		return ids
	}
	for _, k := range keys {
		for _, n := range segs[k] {
			data, err := readSegment(pd, k, n)
			if err != nil {
				continue
			}
			forLines(data, func(_ int, line []byte) {
				if kind, opID := classify(line); kind == lineOp {
					ids[opID] = true
				}
			})
		}
	}
	return ids
}

// removeSession removes one session's files under its lock; nothing when it was written since
// it was listed.
func (s *Store) removeSession(d *state.Dir, in sessionInfo, entries []fs.DirEntry) ([]string, error) {
	f := s.Files()
	sessPath := f.Session(in.id)
	if !s.DryRun {
		unlock, err := d.Lock(lockName(in.id))
		if err != nil {
			return nil, err
		}
		defer unlock()
		fi, err := d.Lstat(filepath.Base(in.path))
		if err != nil || !fi.ModTime().Equal(in.mtime) {
			return nil, nil // written, compressed or removed meanwhile: not ours to remove now
		}
	}
	ops := operationIDs(d, in.id)
	var removed []string
	var errs []error
	rm := func(path string) {
		name := filepath.Base(path)
		if _, err := d.Lstat(name); err != nil {
			return // missing
		}
		if s.DryRun {
			removed = append(removed, path)
			return
		}
		if err := d.Remove(name); err != nil {
			errs = append(errs, err)
			return
		}
		removed = append(removed, path)
	}
	if p, err := s.removeParts(d, in.id); err != nil {
		errs = append(errs, err)
	} else if p != "" {
		removed = append(removed, p)
	}
	rm(sessPath)
	rm(sessPath + ".gz")
	for _, side := range []string{f.Performance(in.id), f.ErrorLog(in.id)} {
		errs = append(errs, s.locked(d, side, func() {
			rm(side)
			rm(side + ".gz")
			if !s.DryRun {
				_ = d.Remove(filepath.Base(side) + ".lock") // under its lock: state.Lock copes (see there)
			}
		}))
	}
	for _, e := range entries {
		if m := attemptFileRE.FindStringSubmatch(e.Name()); m != nil && ops[m[1]] {
			rm(filepath.Join(s.Dir, e.Name()))
		}
	}
	if !s.DryRun {
		_ = d.Remove(lockName(in.id)) // we hold it; waiters start over on a new one
	}
	return removed, errors.Join(errs...)
}

// removeParts removes the parts directory of session id with its segments and their lock-free
// leftovers (temporary files of a killed compression), and returns its path; "" when it has
// none. The caller holds the session's exclusive lock, so no writer is recording into it.
func (s *Store) removeParts(d *state.Dir, id string) (string, error) {
	pd, err := openParts(d, id, false)
	if err != nil || pd == nil {
		return "", err
	}
	path := pd.Path()
	if s.DryRun {
		pd.Close()
		return path, nil
	}
	entries, err := pd.ReadDir()
	if err != nil {
		pd.Close()
		return "", err
	}
	var errs []error
	for _, e := range entries {
		if err := pd.Remove(e.Name()); err != nil {
			errs = append(errs, err)
		}
	}
	pd.Close()
	if err := errors.Join(errs...); err != nil {
		return "", err
	}
	if err := d.RemoveDir(partsName(id)); err != nil {
		return "", err
	}
	return path, nil
}

// locked runs fn under path's lock (not in DryRun, where nothing is written).
func (s *Store) locked(d *state.Dir, path string, fn func()) error {
	if s.DryRun {
		fn()
		return nil
	}
	unlock, err := d.Lock(filepath.Base(path) + ".lock")
	if err != nil {
		return err
	}
	defer unlock()
	fn()
	return nil
}

// removeOrphans removes per-attempt logs, performance files, error logs and parts directories
// written before cutoff whose session has no head any more (or was just removed), except the
// paths in done.
func (s *Store) removeOrphans(d *state.Dir, entries []fs.DirEntry, live, done map[string]bool, cutoff time.Time) ([]string, error) {
	var removed []string
	var errs []error
	for _, e := range entries {
		name := e.Name()
		if m := partsDirRE.FindStringSubmatch(name); m != nil && e.IsDir() && !live[m[1]] {
			fi, err := e.Info()
			if err != nil || !fi.ModTime().Before(cutoff) || done[filepath.Join(s.Dir, name)] {
				continue
			}
			if _, err := d.Lstat(headName(m[1])); err == nil {
				continue // its session was written meanwhile
			}
			if p, err := s.removeParts(d, m[1]); err != nil {
				errs = append(errs, err)
			} else if p != "" {
				removed = append(removed, p)
			}
			continue
		}
		side := sideFileRE.FindStringSubmatch(name)
		isAttempt := attemptFileRE.MatchString(name)
		if (side == nil && !isAttempt) || !e.Type().IsRegular() {
			continue
		}
		if side != nil && live[side[1]] {
			continue
		}
		fi, err := e.Info()
		if err != nil || !fi.ModTime().Before(cutoff) {
			continue
		}
		path := filepath.Join(s.Dir, name)
		if done[path] {
			continue
		}
		if s.DryRun {
			removed = append(removed, path)
			continue
		}
		if err := d.Remove(name); err == nil {
			removed = append(removed, path)
		} else {
			errs = append(errs, err)
		}
	}
	return removed, errors.Join(errs...)
}

// Compress gzips the files of the sessions that r says to compress, except session keep: those
// not written for CompressAfter, and finalized ones that hold at least CompressMinSize bytes
// (head and parts). A session's head, performance file and error log are compressed under their
// locks, and its segments each under its own lock (a compressed segment is closed: later records
// go to a new one); every file keeps its modification time, so that retention still sees its age,
// and later reads use the .gz files transparently. It returns the files compressed (in DryRun,
// those it would compress); a session's segments are one entry, its parts directory, with their
// sizes summed.
func (s *Store) Compress(r Retention, keep string) ([]Compressed, error) {
	d, err := s.openDir()
	if err != nil || d == nil {
		return []Compressed{}, err
	}
	defer d.Close()
	infos, _, err := s.scan(d)
	if err != nil {
		return nil, err
	}
	now := s.now()
	out := []Compressed{}
	var errs []error
	for _, in := range infos {
		if in.id == keep || in.compressed() {
			continue
		}
		due := r.CompressAfter > 0 && now.Sub(in.mtime) >= r.CompressAfter
		if !due && r.CompressMinSize > 0 {
			h, err := readHead(d, in.id)
			due = err == nil && h != nil && h.SessionStatus != StatusActive && in.size+partsSize(d, in.id) >= r.CompressMinSize
		}
		if !due {
			continue
		}
		if c, ok, err := s.compressParts(d, in.id); err != nil {
			errs = append(errs, err)
		} else if ok {
			out = append(out, c)
		}
		f := s.Files()
		for _, path := range []string{f.Session(in.id), f.Performance(in.id), f.ErrorLog(in.id)} {
			c, ok, err := s.compressFile(d, path)
			if err != nil {
				errs = append(errs, err)
			}
			if ok {
				out = append(out, c)
			}
		}
	}
	return out, errors.Join(errs...)
}

// partsSize sums the sizes of the segments of session id.
func partsSize(d *state.Dir, id string) int64 {
	pd, err := openParts(d, id, false)
	if err != nil || pd == nil {
		return 0
	}
	defer pd.Close()
	entries, err := pd.ReadDir()
	if err != nil {
		return 0
	}
	var n int64
	for _, e := range entries {
		if fi, err := e.Info(); err == nil && fi.Mode().IsRegular() {
			n += fi.Size()
		}
	}
	return n
}

// compressParts compresses the plain segments of session id, each under its own lock, while
// holding the session's lock shared (so that it is not removed meanwhile).
func (s *Store) compressParts(d *state.Dir, id string) (Compressed, bool, error) {
	pd, err := openParts(d, id, false)
	if err != nil || pd == nil {
		return Compressed{}, false, err
	}
	defer pd.Close()
	if !s.DryRun {
		unlock, err := d.LockShared(lockName(id))
		if err != nil {
			return Compressed{}, false, err
		}
		defer unlock()
	}
	entries, err := pd.ReadDir()
	if err != nil {
		return Compressed{}, false, err
	}
	c := Compressed{File: pd.Path()}
	var errs []error
	for _, e := range entries {
		if _, _, gz, ok := parseSegmentName(e.Name()); !ok || gz || !e.Type().IsRegular() {
			continue
		}
		before, after, ok, err := s.compressSegment(pd, e.Name())
		if err != nil {
			errs = append(errs, err)
		}
		if ok {
			c.SizeBefore, c.SizeAfter = c.SizeBefore+before, c.SizeAfter+after
		}
	}
	return c, c.SizeBefore > 0, errors.Join(errs...)
}

// compressSegment replaces the segment name of pd with name.gz under the segment's lock, keeping
// its modification time.
func (s *Store) compressSegment(pd *state.Dir, name string) (int64, int64, bool, error) {
	if s.DryRun {
		data, err := pd.ReadFile(name)
		if err != nil || data == nil {
			return 0, 0, false, err
		}
		gz, err := gzipped(name, data, time.Time{})
		return int64(len(data)), int64(len(gz)), err == nil, err
	}
	seg, err := pd.OpenSegment(name, false)
	if err != nil || seg == nil {
		return 0, 0, false, err
	}
	defer seg.Close()
	fi, err := pd.Lstat(name)
	if err != nil {
		return 0, 0, false, nil
	}
	data := make([]byte, seg.Size())
	if _, err := seg.ReadAt(data, 0); err != nil && !errors.Is(err, io.EOF) {
		return 0, 0, false, fmt.Errorf("read %s: %w", seg.Name(), err)
	}
	gz, err := gzipped(name, data, fi.ModTime())
	if err != nil {
		return 0, 0, false, err
	}
	if err := pd.Write(name+gzExt, gz, state.WriteOptions{ModTime: fi.ModTime(), Temp: tempName(name + gzExt)}); err != nil {
		return 0, 0, false, err
	}
	if err := pd.Remove(name); err != nil {
		return 0, 0, false, fmt.Errorf("remove %s after compressing it: %w", seg.Name(), err)
	}
	return int64(len(data)), int64(len(gz)), true, nil
}

// gzipped returns data compressed, with name and mtime in the gzip header.
func gzipped(name string, data []byte, mtime time.Time) ([]byte, error) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Name, zw.ModTime = name, mtime
	if _, err := zw.Write(data); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// compressFile replaces path with path.gz under path's lock, keeping its modification time.
func (s *Store) compressFile(d *state.Dir, path string) (Compressed, bool, error) {
	var c Compressed
	var ok bool
	var ferr error
	name := filepath.Base(path)
	err := s.locked(d, path, func() {
		fi, err := d.Lstat(name)
		if err != nil || !fi.Mode().IsRegular() {
			return // missing (never written, or compressed meanwhile)
		}
		data, err := d.ReadFile(name)
		if err != nil {
			ferr = err
			return
		}
		gz, err := gzipped(filepath.Base(path), data, fi.ModTime())
		if err != nil {
			ferr = err
			return
		}
		c = Compressed{File: path, SizeBefore: int64(len(data)), SizeAfter: int64(len(gz))}
		ok = true
		if s.DryRun {
			return
		}
		if err := d.Write(name+".gz", gz, state.WriteOptions{ModTime: fi.ModTime(), Temp: tempName(name + ".gz")}); err != nil {
			ferr, ok = err, false
			return
		}
		if err := d.Remove(name); err != nil {
			ferr = fmt.Errorf("remove %s after compressing it: %w", path, err)
		}
	})
	if err != nil {
		return c, false, err
	}
	return c, ok, ferr
}
