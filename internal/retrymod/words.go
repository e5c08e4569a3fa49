package retrymod

import (
	"errors"
	"strings"
)

// splitWords splits a command line into words the way a POSIX shell does for plain words,
// single and double quotes and backslashes, without expanding anything. cmd runs without a shell
// unless use_shell is set, so "$HOME" stays literal, as with ansible.builtin.command.
func splitWords(s string) ([]string, error) {
	var (
		words []string
		cur   strings.Builder
		inW   bool
		quote byte
	)
	// Bytes, not runes: the special characters are ASCII, and other bytes (also invalid UTF-8 in
	// file names) must reach the command unchanged.
	rs := []byte(s)
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch {
		case quote == '\'':
			if r == '\'' {
				quote = 0
			} else {
				cur.WriteByte(r)
			}
		case quote == '"':
			switch {
			case r == '"':
				quote = 0
			case r == '\\' && i+1 < len(rs) && strings.IndexByte(`"\$`+"`", rs[i+1]) >= 0:
				i++
				cur.WriteByte(rs[i])
			default:
				cur.WriteByte(r)
			}
		case r == '\'' || r == '"':
			quote, inW = r, true
		case r == '\\':
			if i+1 < len(rs) {
				i++
				cur.WriteByte(rs[i])
				inW = true
			}
		case r == ' ' || r == '\t' || r == '\n':
			if inW {
				words = append(words, cur.String())
				cur.Reset()
				inW = false
			}
		default:
			cur.WriteByte(r)
			inW = true
		}
	}
	if quote != 0 {
		return nil, errors.New("unterminated quote")
	}
	if inW {
		words = append(words, cur.String())
	}
	return words, nil
}
