package operation

import (
	"context"
	"strings"
	"testing"
)

func TestTailBufferKeepsTheEnd(t *testing.T) {
	t.Parallel()
	b := &tailBuffer{max: 8}
	for _, s := range []string{"abc", "defgh", "ijk", strings.Repeat("x", 20), "yz"} {
		b.Write([]byte(s))
	}
	if got := b.String(); got != "xxxxxxyz" {
		t.Errorf("kept %q, want the last 8 bytes", got)
	}
	if b.dropped != int64(3+5+3+20+2-8) {
		t.Errorf("dropped %d", b.dropped)
	}
}

func TestCommandOutputBounded(t *testing.T) {
	t.Parallel()
	res, f := Command{Argv: []string{"sh", "-c", "head -c 5000 /dev/zero | tr '\\0' a; echo END"}, MaxOutput: 1024}.Run(context.Background())
	if f != nil {
		t.Fatal(f.Summary())
	}
	if len(res.Stdout) != 1024 || !res.StdoutTruncated || !strings.HasSuffix(res.Stdout, "END\n") {
		t.Errorf("stdout of %d bytes, truncated %v, ends %q", len(res.Stdout), res.StdoutTruncated, res.Stdout[len(res.Stdout)-5:])
	}
}

func TestCommandNotFound(t *testing.T) {
	t.Parallel()
	res, f := Command{Argv: []string{"/nonexistent/tool"}}.Run(context.Background())
	if f == nil || f.ExitCode == nil || *f.ExitCode != 127 || res.RC != 127 || !strings.Contains(f.Message, "could not run") {
		t.Errorf("result %+v, failure %+v", res, f)
	}
}

func TestRedact(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"https://user:pw@host/x?token=abc": "https://host/x?...",
		"http://host:8080/path":            "http://host:8080/path",
		"::":                               "<unparsable URL>",
	} {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
	if _, err := ParseURL("url", "https://u:secretpw@/x"); err == nil || strings.Contains(err.Error(), "secretpw") {
		t.Errorf("ParseURL error %v", err)
	}
}
