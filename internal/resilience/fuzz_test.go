package resilience

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// FuzzDecode feeds arbitrary state files to decode: it never panics, an unusable file gives a
// fresh closed document, and a usable one survives encoding unchanged. Seeds are in
// testdata/fuzz/FuzzDecode.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"format_version":1,"key":"k","circuit_breaker":{"state":"closed"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		doc, problem := decode("k", data)
		if problem != "" {
			if !cmp.Equal(doc, freshDocument("k")) {
				t.Fatalf("an unusable file (%s) gave %+v", problem, doc)
			}
			return
		}
		out, err := encode(doc)
		if err != nil {
			t.Fatal(err)
		}
		again, problem := decode("k", out)
		if problem != "" {
			t.Fatalf("a re-encoded document is unusable: %s\n%s", problem, out)
		}
		if !cmp.Equal(doc, again, cmpopts.EquateEmpty()) {
			t.Fatalf("the document changed through encoding:\n%s", cmp.Diff(doc, again))
		}
	})
}
