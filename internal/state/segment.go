package state

import (
	"fmt"
	"io"
	"os"
)

// Segment is an append-only file of records, one per line, that this process holds the exclusive
// lock of (Dir.OpenSegment): other writers of the same file wait, while readers read it at any
// time without a lock. Records are only ever added at the end and never rewritten, so a reader
// sees a prefix of what will be there: every line that ends with a newline is complete and never
// changes.
//
// Append writes its records in one write, then syncs the file. A writer killed in the middle of
// that write (the kernel may stop a write between pages) leaves the start of its last line
// without a newline; the next Append ends that fragment with a newline first, so that the torn
// fragment stays a line of its own, which is never a complete record (readers skip lines that do
// not parse). No record of another writer is ever cut or joined to another.
//
// A Segment is used by one goroutine; Close releases the lock.
type Segment struct {
	f    *os.File
	size int64
}

func newSegment(f *os.File) (*Segment, error) {
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("stat %s: %w", f.Name(), err)
	}
	if fi.Size() > MaxFileSize {
		f.Close()
		return nil, tooLargeToRead(f.Name())
	}
	return &Segment{f: f, size: fi.Size()}, nil
}

// Name is the segment's path.
func (s *Segment) Name() string { return s.f.Name() }

// Size is the segment's size in bytes.
func (s *Segment) Size() int64 { return s.size }

// ReadAt reads len(p) bytes at off (io.ReaderAt).
func (s *Segment) ReadAt(p []byte, off int64) (int, error) { return s.f.ReadAt(p, off) }

// Fits reports whether n more bytes fit in the segment within MaxFileSize.
func (s *Segment) Fits(n int) bool { return s.size+int64(n)+1 <= MaxFileSize }

// Append adds records, one or more complete lines (a final newline is added when missing), in one
// write at the end of the segment, then syncs it. A torn last line of a writer that was killed is
// first ended with a newline. Records that would take the segment beyond MaxFileSize are refused
// before anything is written (errors.Is ErrTooLarge).
func (s *Segment) Append(records []byte) error {
	buf := make([]byte, 0, len(records)+2)
	if s.size > 0 {
		var last [1]byte
		if _, err := s.f.ReadAt(last[:], s.size-1); err != nil && err != io.EOF {
			return fmt.Errorf("read %s: %w", s.f.Name(), err)
		}
		if last[0] != '\n' {
			buf = append(buf, '\n')
		}
	}
	buf = append(buf, records...)
	if len(records) == 0 || records[len(records)-1] != '\n' {
		buf = append(buf, '\n')
	}
	if s.size+int64(len(buf)) > MaxFileSize {
		return tooLargeToWrite(s.f.Name(), int(s.size)+len(buf))
	}
	n, err := s.f.Write(buf)
	s.size += int64(n)
	if err != nil {
		return fmt.Errorf("append to %s: %w", s.f.Name(), explain(err))
	}
	if err := s.f.Sync(); err != nil {
		return fmt.Errorf("append to %s: %w", s.f.Name(), explain(err))
	}
	return nil
}

// Close releases the lock and closes the file.
func (s *Segment) Close() error { return s.f.Close() }
