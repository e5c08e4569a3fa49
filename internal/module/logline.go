package module

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// logLine makes msg safe to write as one syslog message: control characters (C0, DEL, C1) and the
// Unicode line and paragraph separators are written as Go escapes (\n, \r, \t, \x1b, \u2028), and
// bytes that are not UTF-8 as \xNN. So a value that a user or a server chose (a guard's reason, an
// error message) cannot end the line and forge a second message, nor move a terminal's cursor. A
// backslash is kept as it is: an escape written literally by the user looks like one, but it
// stays on the same line.
func logLine(msg string) string {
	clean := true
	for _, r := range msg {
		if needsEscape(r) {
			clean = false
			break
		}
	}
	if clean {
		return msg
	}
	var b strings.Builder
	for i := 0; i < len(msg); {
		r, size := utf8.DecodeRuneInString(msg[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, msg[i])
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x80 && needsEscape(r):
			fmt.Fprintf(&b, `\x%02x`, r)
		case needsEscape(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(msg[i : i+size])
		}
		i += size
	}
	return b.String()
}

// needsEscape reports the runes that logLine escapes (utf8.RuneError stands for a byte that is
// not UTF-8; a real U+FFFD is escaped too, which is harmless).
func needsEscape(r rune) bool {
	return r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f) || r == '\u2028' || r == '\u2029' || r == utf8.RuneError
}
