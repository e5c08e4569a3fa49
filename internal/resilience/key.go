package resilience

import (
	"crypto/sha256"
	"encoding/hex"
	"path/filepath"
	"strconv"
	"strings"
	"unicode/utf8"

	"resilience.ops/internal/field"
	"resilience.ops/internal/state"
)

// MaxKeyLength bounds a key in bytes.
const MaxKeyLength = 512

// maxPlainName is the longest key used as a file name as it is; longer keys are hashed.
const maxPlainName = 100

// ValidateKey checks a key (circuit_key, or the operation name by default): 1 to MaxKeyLength
// bytes of valid UTF-8 without control characters. Any such key is accepted: one that is not a
// safe file name is hashed into one (see FileName).
func ValidateKey(key string) error {
	problem := ""
	switch {
	case key == "":
		problem = "must not be empty"
	case len(key) > MaxKeyLength:
		problem = "must be at most " + strconv.Itoa(MaxKeyLength) + " bytes, got " + strconv.Itoa(len(key))
	case !utf8.ValidString(key):
		problem = "must be valid UTF-8"
	case strings.ContainsFunc(key, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		problem = "must not hold control characters, got " + strconv.QuoteToASCII(clip(key, 80))
	}
	if problem != "" {
		return &field.Error{Path: "circuit_key", Problem: problem, Form: field.Sentence}
	}
	return nil
}

// FileName is the base name of key's files in the state directory. A key that is a safe file
// name (state.SafeName: letters, digits, '.', '_', '-'), at most 100 bytes and without "..", is
// used as it is: "vcenter01.example.com". Any other key becomes its sanitised first 64 bytes,
// "..", and 16 hex digits of its SHA-256: "https___api.example.com_v1..3f2a9c0d41b7e865". Only
// hashed names contain "..", so two keys never share a name (up to the 64-bit hash), and no
// name escapes the directory. The key itself is kept inside the state document.
func FileName(key string) string {
	if state.SafeName(key) && len(key) <= maxPlainName && !strings.Contains(key, "..") {
		return key
	}
	var b strings.Builder
	for _, r := range key {
		if b.Len() >= 64 {
			break
		}
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '-':
			b.WriteRune(r)
		case r == '.' && b.Len() > 0:
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	sum := sha256.Sum256([]byte(key))
	return b.String() + ".." + hex.EncodeToString(sum[:8])
}

// paths are the files of one key.
type paths struct {
	key  string
	dir  string
	name string
	doc  string // <dir>/<name>.json; its lock is <doc>.lock
}

func newPaths(dir, key string) paths {
	name := FileName(key)
	return paths{key: key, dir: dir, name: name, doc: filepath.Join(dir, name+".json")}
}

// slots names the bulkhead's slots (a state.SlotProvider's name): slot i is the lock file
// <name>.slot<i>.
func (p paths) slots() string { return filepath.Join(p.dir, p.name+".slot") }

// trials names the half-open trial slots: trial i is the lock file <name>.trial<i>.
func (p paths) trials() string { return filepath.Join(p.dir, p.name+".trial") }

// slot is the lock file of bulkhead slot i: <name>.slot<i>.
func (p paths) slot(i int) string { return p.slots() + strconv.Itoa(i) }

// trial is the lock file of half-open trial call i: <name>.trial<i>.
func (p paths) trial(i int) string { return p.trials() + strconv.Itoa(i) }

// clip cuts s to at most n bytes on a rune boundary, marking the cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "..."
}
