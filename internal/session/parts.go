package session

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"sort"
	"strconv"
	"strings"

	"resilience.ops/internal/state"
)

// The parts of a session (format 2): per host, append-only segments of JSON lines in the
// session's parts directory. This file knows lines and keys only, not what an operation holds:
// a line is a record (one version of an operation, or an error log entry), and what the session
// stores in it is its own business (store.go).
//
//	retry_session_<id>.d/<host key>.<n>.jsonl      segment n (0, 1, ...) of a host; the last one takes the appends
//	retry_session_<id>.d/<host key>.<n>.jsonl.gz   a segment compressed by retention: closed, read transparently
//
// A writer locks the host's last segment alone (state.Segment), so writers of different hosts
// never wait for each other; a segment is closed once the next one exists, and the next one is
// started when a record would take the last one beyond SegmentSize.

// SegmentSize is the size beyond which a host's records go to a new segment. A segment stays
// below state.MaxFileSize (a single record larger than that is refused), so it can always be read.
const SegmentSize = 4 << 20

const (
	segmentExt = ".jsonl"
	gzExt      = ".gz"
	// errorLinePrefix starts the lines that hold an error log entry rather than an operation.
	errorLinePrefix = `{"error_entry":`
	// opLinePrefix starts the lines that this package writes for an operation (its first field).
	opLinePrefix = `{"operation_id":"`
	// maxHostKeyName bounds the host names that are kept readable in a file name.
	maxHostKeyName = 100
)

// HostKey is the part of a segment's name that stands for host: "h-<host>" when host is a safe
// file name (letters, digits, '.', '_', '-', at most 100 bytes), else "x-" and 32 hex digits of
// its SHA-256; "no-host" for operations recorded without a host. Two hosts never share a key
// (short of a SHA-256 collision); the records themselves name their host.
func HostKey(host string) string {
	switch {
	case host == "":
		return "no-host"
	case len(host) <= maxHostKeyName && state.SafeName(host):
		return "h-" + host
	}
	sum := sha256.Sum256([]byte(host))
	return "x-" + hex.EncodeToString(sum[:16])
}

// segmentName is the file name of segment n of host key key.
func segmentName(key string, n int) string { return key + "." + strconv.Itoa(n) + segmentExt }

// parseSegmentName splits a segment's file name: its host key, number and whether it is
// compressed; ok false for any other name.
func parseSegmentName(name string) (key string, n int, gz bool, ok bool) {
	base, gz := strings.CutSuffix(name, gzExt)
	base, found := strings.CutSuffix(base, segmentExt)
	if !found {
		return "", 0, false, false
	}
	i := strings.LastIndexByte(base, '.')
	if i <= 0 || i == len(base)-1 {
		return "", 0, false, false
	}
	num := base[i+1:]
	for _, c := range num {
		if c < '0' || c > '9' {
			return "", 0, false, false
		}
	}
	n, err := strconv.Atoi(num)
	if err != nil || len(num) > 9 || (len(num) > 1 && num[0] == '0') {
		return "", 0, false, false
	}
	return base[:i], n, gz, true
}

// segmentExists reports whether segment n of key exists, plain or compressed.
func segmentExists(pd *state.Dir, key string, n int) bool {
	name := segmentName(key, n)
	if _, err := pd.Lstat(name); err == nil {
		return true
	}
	_, err := pd.Lstat(name + gzExt)
	return err == nil
}

// lastSegment returns the number of the last segment of key: 0 when it has none. Segments are
// numbered without gaps, so it takes O(log n) lookups (n is 0 for all but hosts with megabytes of
// records).
func lastSegment(pd *state.Dir, key string) int {
	if !segmentExists(pd, key, 1) {
		return 0
	}
	lo, hi := 1, 2
	for segmentExists(pd, key, hi) {
		lo, hi = hi, hi*2
	}
	for hi-lo > 1 { // segment lo exists, hi does not
		mid := (lo + hi) / 2
		if segmentExists(pd, key, mid) {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo
}

// openLastSegment opens and locks the last segment of key that takes appends, creating it when
// needed, and returns it with its number. Once it holds the lock it checks that no later segment
// was started meanwhile, so records are only ever appended to a host's last segment.
func openLastSegment(pd *state.Dir, key string) (*state.Segment, int, error) {
	n := lastSegment(pd, key)
	for {
		name := segmentName(key, n)
		seg, err := pd.OpenSegment(name, false)
		if err != nil {
			return nil, 0, err
		}
		created := false
		if seg == nil {
			if _, err := pd.Lstat(name + gzExt); err == nil {
				n++ // compressed: closed
				continue
			}
			if seg, err = pd.OpenSegment(name, true); err != nil {
				return nil, 0, err
			}
			created = seg.Size() == 0
		}
		if segmentExists(pd, key, n+1) {
			seg.Close()
			n++
			continue
		}
		if created {
			// Compressed by retention between the look and the creation: the new empty file
			// would hide the compressed one from readers. Ours to remove: we hold its lock.
			if _, err := pd.Lstat(name + gzExt); err == nil {
				_ = pd.Remove(name)
				seg.Close()
				n++
				continue
			}
		}
		return seg, n, nil
	}
}

// appendRecords appends records (complete lines) to the last segment of key, starting a new
// segment when they would take the last one beyond segSize. find, when not nil, is called
// first under the lock of the last segment with a function that looks for the last line that
// match accepts in the host's segments, newest first; it returns the records to append.
func appendRecords(pd *state.Dir, key string, segSize int64, build func(lookup func(match func(line []byte) bool) ([]byte, error)) ([]byte, error)) error {
	seg, n, err := openLastSegment(pd, key)
	if err != nil {
		return err
	}
	defer func() { seg.Close() }()
	lookup := func(match func([]byte) bool) ([]byte, error) {
		if line, err := lastLineIn(seg, match); line != nil || err != nil {
			return line, err
		}
		for k := n - 1; k >= 0; k-- { // closed segments never change
			data, err := readSegment(pd, key, k)
			if err != nil {
				return nil, err
			}
			if line := lastMatch(data, match); line != nil {
				return line, nil
			}
		}
		return nil, nil
	}
	recs, err := build(lookup)
	if err != nil || len(recs) == 0 {
		return err
	}
	if len(recs)+1 > state.MaxFileSize {
		return fmt.Errorf("a record of %d bytes is more than a segment may hold (%d bytes): nothing was written", len(recs), state.MaxFileSize)
	}
	if seg.Size() > 0 && seg.Size()+int64(len(recs)) > segSize {
		seg.Close()
		next, err := pd.OpenSegment(segmentName(key, n+1), true)
		if err != nil {
			return err
		}
		seg = next
	}
	return seg.Append(recs)
}

// lastLineIn returns the last complete line of seg that match accepts, reading backwards from the
// end in growing windows: the line a writer looks for (the operation it records) is nearly always
// among the last few.
func lastLineIn(seg *state.Segment, match func([]byte) bool) ([]byte, error) {
	size := seg.Size()
	for window := int64(64 << 10); ; window *= 4 {
		off := max(size-window, 0)
		buf := make([]byte, size-off)
		if _, err := seg.ReadAt(buf, off); err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("read %s: %w", seg.Name(), err)
		}
		if off > 0 { // the first line may start before the window
			i := bytes.IndexByte(buf, '\n')
			if i < 0 {
				continue
			}
			buf = buf[i+1:]
		}
		if line := lastMatch(buf, match); line != nil || off == 0 {
			return line, nil
		}
	}
}

// lastMatch returns the last complete line of data that match accepts.
func lastMatch(data []byte, match func([]byte) bool) []byte {
	end := bytes.LastIndexByte(data, '\n') // a last line without a newline is torn or in progress
	for end > 0 {
		start := bytes.LastIndexByte(data[:end], '\n') + 1
		if line := data[start:end]; match(line) {
			return line
		}
		end = start - 1
	}
	return nil
}

// readSegment reads segment n of key, plain or (when only that exists, or the plain one was
// removed by compression meanwhile) compressed; nil when it has neither.
func readSegment(pd *state.Dir, key string, n int) ([]byte, error) {
	return readMaybeGzIn(pd, segmentName(key, n))
}

// hostSegments lists the segments of the parts directory: the numbers of each host key's
// segments, ascending, and the keys in order. An entry named like a segment that is not a regular
// file (a symbolic link planted there) is listed too, so that reading it fails instead of a part
// of the session going unnoticed.
func hostSegments(pd *state.Dir) ([]string, map[string][]int, error) {
	entries, err := pd.ReadDir()
	if err != nil {
		return nil, nil, err
	}
	segs := map[string][]int{}
	for _, e := range entries {
		key, n, _, ok := parseSegmentName(e.Name())
		if !ok {
			continue // anything else is not ours to read; a segment that is not a regular file is refused when read
		}
		if l := segs[key]; len(l) == 0 || l[len(l)-1] != n { // plain and .gz of one segment: once
			segs[key] = append(l, n)
		}
	}
	keys := make([]string, 0, len(segs))
	for k, l := range segs {
		sort.Ints(l)
		segs[k] = dedupeInts(l)
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys, segs, nil
}

func dedupeInts(l []int) []int {
	out := l[:0]
	for i, v := range l {
		if i == 0 || v != l[i-1] {
			out = append(out, v)
		}
	}
	return out
}

// lineKind tells the records of a segment apart.
type lineKind int

const (
	lineBad   lineKind = iota // torn, or not a record of ours: skipped
	lineOp                    // one version of an operation
	lineError                 // an error log entry
)

// classify returns what line seems to be and, for an operation, its id, without checking that it
// is valid JSON (the caller does, once). Lines this package wrote start with the operation id;
// any other line is decoded to find it.
func classify(line []byte) (lineKind, string) {
	if len(line) < 2 || line[0] != '{' || line[len(line)-1] != '}' {
		return lineBad, ""
	}
	if bytes.HasPrefix(line, []byte(errorLinePrefix)) {
		return lineError, ""
	}
	if rest, ok := bytes.CutPrefix(line, []byte(opLinePrefix)); ok {
		if i := bytes.IndexByte(rest, '"'); i > 0 && ValidateOperationID(string(rest[:i])) == nil {
			return lineOp, string(rest[:i])
		}
	}
	var probe struct {
		OperationID string `json:"operation_id"`
	}
	if json.Unmarshal(line, &probe) != nil || ValidateOperationID(probe.OperationID) != nil {
		return lineBad, ""
	}
	return lineOp, probe.OperationID
}

// errBadRecord is returned by an emit function of scanHost for a line that is not a record it
// can read: the line is counted as skipped.
var errBadRecord = errors.New("not a record")

// scanHost calls emit with the current records of one host, in order: for each operation its
// last complete version (at the place of that version), and every error log entry. Lines that
// are torn or not records are counted in bad. A torn line is never valid JSON (it is a strict
// prefix of a record), so a version cut by a killed writer never hides the one before it: an
// operation with several versions is checked from its last one back; a line with no other
// version is checked by emit, which decodes it anyway (errBadRecord). It holds one segment in
// memory at a time, and the positions of the host's operations.
func scanHost(pd *state.Dir, key string, segs []int, emit func(kind lineKind, line []byte) error, bad *int) error {
	h := &hostScan{pd: pd, key: key, segs: segs, last: map[string]linePos{}, valid: map[linePos]bool{}}
	if err := h.index(); err != nil {
		return err
	}
	if err := h.pickValid(); err != nil {
		return err
	}
	return h.emit(emit, bad)
}

// linePos is where a line is: its segment (an index into hostScan.segs) and its line.
type linePos struct{ seg, line int }

// hostScan is one scanHost: the host's segments and where each operation's versions are.
type hostScan struct {
	pd     *state.Dir
	key    string
	segs   []int
	cached []byte // the single segment of most hosts, read once
	last   map[string]linePos
	multi  map[string][]linePos // the positions of operations with more than one version
	valid  map[linePos]bool     // the versions of those that are complete
	stop   error                // set by emit's function: the scan ends with it
}

// read returns segment i.
func (h *hostScan) read(i int) ([]byte, error) {
	if len(h.segs) == 1 && h.cached != nil {
		return h.cached, nil
	}
	data, err := readSegment(h.pd, h.key, h.segs[i])
	if len(h.segs) == 1 {
		h.cached = data
	}
	return data, err
}

// eachLine calls fn with every complete line of the host's segments, until fn sets h.stop.
func (h *hostScan) eachLine(fn func(p linePos, line []byte)) error {
	for i := range h.segs {
		data, err := h.read(i)
		if err != nil {
			return err
		}
		forLines(data, func(j int, line []byte) {
			if h.stop == nil {
				fn(linePos{i, j}, line)
			}
		})
		if h.stop != nil {
			return h.stop
		}
	}
	return nil
}

// index finds the last version of each operation, and every version of those with several.
func (h *hostScan) index() error {
	return h.eachLine(func(p linePos, line []byte) {
		kind, id := classify(line)
		if kind != lineOp {
			return
		}
		if prev, seen := h.last[id]; seen {
			if h.multi == nil {
				h.multi = map[string][]linePos{}
			}
			if h.multi[id] == nil {
				h.multi[id] = []linePos{prev}
			}
			h.multi[id] = append(h.multi[id], p)
		}
		h.last[id] = p
	})
}

// pickValid makes the last complete version of each operation with several its current one:
// their lines are read again and checked.
func (h *hostScan) pickValid() error {
	if len(h.multi) == 0 {
		return nil
	}
	err := h.eachLine(func(p linePos, line []byte) {
		if _, id := classify(line); h.multi[id] != nil && json.Valid(line) {
			h.valid[p] = true
		}
	})
	if err != nil {
		return err
	}
	for id, ps := range h.multi {
		delete(h.last, id)
		for k := len(ps) - 1; k >= 0; k-- {
			if h.valid[ps[k]] {
				h.last[id] = ps[k]
				break
			}
		}
	}
	return nil
}

// emit calls fn with the current records, in order, and counts the others in bad. An error of fn
// other than errBadRecord ends the scan.
func (h *hostScan) emit(fn func(kind lineKind, line []byte) error, bad *int) error {
	return h.eachLine(func(p linePos, line []byte) {
		kind, id := classify(line)
		if kind == lineOp && h.last[id] != p {
			if h.multi[id] == nil || !h.valid[p] { // torn (an earlier version is skipped)
				*bad++
			}
			return
		}
		if kind == lineBad {
			*bad++
			return
		}
		if err := fn(kind, line); errors.Is(err, errBadRecord) {
			*bad++
		} else {
			h.stop = err
		}
	})
}

// forLines calls fn with each complete line of data and its index; a last line without a newline
// (torn, or being written) is left out.
func forLines(data []byte, fn func(i int, line []byte)) {
	for i := 0; len(data) > 0; i++ {
		j := bytes.IndexByte(data, '\n')
		if j < 0 {
			return
		}
		if j > 0 {
			fn(i, data[:j])
		}
		data = data[j+1:]
	}
}

// readMaybeGzIn reads the file name of d, or name.gz when only the compressed file exists (or the
// plain one was removed by compression after it was looked for); (nil, nil) when neither does.
// What is decompressed is bounded by state.MaxFileSize too.
func readMaybeGzIn(d *state.Dir, name string) ([]byte, error) {
	data, err := d.ReadFile(name)
	if err != nil || data != nil {
		return data, err
	}
	if _, err := d.Lstat(name); err == nil {
		return data, nil // an empty file
	}
	gz, err := d.ReadFile(name + gzExt)
	if err != nil || gz == nil {
		return nil, err
	}
	path := d.Join(name)
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return nil, fmt.Errorf("read %s.gz: %w", path, err)
	}
	out, err := io.ReadAll(io.LimitReader(zr, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s.gz: %w", path, err)
	}
	if len(out) > maxFileSize {
		return nil, fmt.Errorf("read %s.gz: larger than %d bytes once decompressed", path, maxFileSize)
	}
	return out, nil
}

// openParts opens the parts directory of session id in the state directory d; nil when it does
// not exist and create is false.
func openParts(d *state.Dir, id string, create bool) (*state.Dir, error) {
	pd, err := d.Sub(partsName(id), create)
	if !create && errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return pd, err
}
