package resilience

import (
	"path/filepath"
	"strings"
	"testing"

	"resilience.ops/internal/retry"
	"resilience.ops/internal/state"
)

func TestFileName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		key  string
		want string // "" means hashed
	}{
		{key: "vmware_vm_create", want: "vmware_vm_create"},
		{key: "vcenter01.example.com", want: "vcenter01.example.com"},
		{key: "A-b_9.x", want: "A-b_9.x"},
		{key: strings.Repeat("a", 100), want: strings.Repeat("a", 100)},
		{key: strings.Repeat("a", 101)},
		{key: "https://api.example.com/v1"},
		{key: "../../etc/passwd"},
		{key: "a..b"},
		{key: ".hidden"},
		{key: "with space"},
		{key: "naïve"},
		{key: "/"},
		{key: "a\\b"},
		{key: "..."},
	}
	seen := map[string]string{}
	for _, tt := range tests {
		got := FileName(tt.key)
		if tt.want != "" && got != tt.want {
			t.Errorf("FileName(%q) = %q, want %q", tt.key, got, tt.want)
		}
		if tt.want == "" && !strings.Contains(got, "..") {
			t.Errorf("FileName(%q) = %q, want a hashed name (with \"..\")", tt.key, got)
		}
		if !state.SafeName(got) || len(got) > 100 || tt.want == "" && len(got) > 82 {
			t.Errorf("FileName(%q) = %q is not a safe file name", tt.key, got)
		}
		if other, dup := seen[got]; dup {
			t.Errorf("FileName(%q) = FileName(%q) = %q", tt.key, other, got)
		}
		seen[got] = tt.key
		p := newPaths("/state/circuit", tt.key)
		for _, f := range []string{p.doc, p.doc + ".lock", p.slot(3), p.trial(0)} {
			if filepath.Dir(f) != "/state/circuit" {
				t.Errorf("key %q: file %s is outside the directory", tt.key, f)
			}
		}
	}
	// A literal key that looks like a hashed name is hashed again, never taken as it is.
	hashed := FileName("https://api.example.com/v1")
	if got := FileName(hashed); got == hashed {
		t.Errorf("FileName(%q) = itself: a literal key collides with a hashed one", hashed)
	}
	if got, want := FileName("https://api.example.com/v1"), "https___api.example.com_v1.."; !strings.HasPrefix(got, want) {
		t.Errorf("hashed name %q does not keep the readable prefix %q", got, want)
	}
}

func TestValidateKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		key  string
		want string // "" means valid
	}{
		{key: "vcenter01"},
		{key: "https://api.example.com/v1?x=1"},
		{key: strings.Repeat("k", MaxKeyLength)},
		{key: "", want: "circuit_key must not be empty"},
		{key: strings.Repeat("k", MaxKeyLength+1), want: "circuit_key must be at most 512 bytes, got 513"},
		{key: "a\nb", want: `circuit_key must not hold control characters, got "a\nb"`},
		{key: "a\xffb", want: "circuit_key must be valid UTF-8"},
	}
	for _, tt := range tests {
		err := ValidateKey(tt.key)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("ValidateKey(%q) = %v", tt.key, err)
		case tt.want != "" && (err == nil || err.Error() != tt.want):
			t.Errorf("ValidateKey(%q) = %v, want %q", tt.key, err, tt.want)
		}
	}
	g, _ := newTest(t, enabled(t.TempDir()))
	if _, err := g.Before(t.Context(), ""); err == nil {
		t.Error("Before accepted an empty key")
	}
	if _, err := g.AllowRetry(""); err == nil {
		t.Error("AllowRetry accepted an empty key")
	}
	if _, _, err := g.Adapt("", retry.DefaultPolicy()); err == nil {
		t.Error("Adapt accepted an empty key")
	}
	if _, err := g.Record("", "", false); err == nil {
		t.Error("Record accepted an empty key")
	}
	if _, err := g.Inspect(""); err == nil {
		t.Error("Inspect accepted an empty key")
	}
}
