package guard

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"resilience.ops/internal/clock"
)

// FuzzGuardFile: whatever the guard file holds, Status never panics, and a file that cannot be
// decoded counts as locked (fail closed).
func FuzzGuardFile(f *testing.F) {
	for _, seed := range []string{
		`{"id":"0123456789abcdef","locked_at":"2026-01-01T00:00:00Z","expires_at":"2026-01-01T00:15:00Z","owner":"a","reason":"r","window_minutes":15}`,
		`{"id":"x","expires_at":"not a time"}`, `{}`, ``, `null`, `[]`, `{"id":"x","expires_at":"2026-01-01T00:15:00+01:00"}`,
	} {
		f.Add([]byte(seed))
	}
	dir := f.TempDir()
	now := time.Date(2026, 1, 1, 0, 5, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, "guard")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		g := New(path)
		g.Clock = clock.Func(func() time.Time { return now })
		res, err := g.Status(true)
		if err != nil && !res.After.Locked {
			t.Fatalf("an unreadable guard %q counted as unlocked: %v", data, err)
		}
	})
}
