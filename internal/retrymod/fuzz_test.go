package retrymod

import (
	"strings"
	"testing"
)

// FuzzSplitWords: the word splitter never panics, and quoting a word keeps it whole.
func FuzzSplitWords(f *testing.F) {
	for _, seed := range []string{`a "b c" 'd'`, `\`, `"`, `a\ b`} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_, _ = splitWords(s)
		if strings.ContainsRune(s, '\'') {
			return
		}
		words, err := splitWords("'" + s + "'")
		if err != nil || len(words) != 1 || words[0] != s {
			t.Fatalf("quoting %q gave %q, %v", s, words, err)
		}
	})
}
