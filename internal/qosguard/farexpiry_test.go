package qosguard

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestStatusOfAFarExpiry: a guard stored with an expiry in year 9999 is locked, with the seconds
// left counted exactly. The module used to return remaining_seconds -9223372035 (and an artifact
// qos_guard_remaining_seconds that a pipeline could read as "expired").
func TestStatusOfAFarExpiry(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	g := filepath.Join(dir, "g")
	if err := os.WriteFile(g, []byte(`{"id": "far", "locked_at": "2026-01-01T00:00:00Z", "expires_at": "9999-12-31T23:59:59Z", "owner": "o", "window_minutes": 15}`), 0o600); err != nil {
		t.Fatal(err)
	}
	args := filepath.Join(dir, "args")
	if err := os.WriteFile(args, []byte(`{"path": "`+g+`", "state": "status"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	before := time.Now().Unix()
	var out strings.Builder
	code := Main([]string{filepath.Join(dir, "AnsiballZ_qos_guard"), args}, &out, &out, func(string) string { return "" })
	after := time.Now().Unix()
	var res map[string]any
	if err := json.Unmarshal([]byte(out.String()), &res); err != nil || code != 0 {
		t.Fatalf("exit %d: %v: %s", code, err, out.String())
	}
	rem, _ := res["remaining_seconds"].(float64)
	end := time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC).Unix()
	// The bounds come from the wall clock read around the run: no duration is measured.
	if res["locked"] != true || int64(rem) < end-after || int64(rem) > end-before+1 {
		t.Errorf("locked %v, remaining_seconds %v; want locked with %d to %d", res["locked"], rem, end-after, end-before+1)
	}
	stats, _ := res["ansible_stats"].(map[string]any)
	data, _ := stats["data"].(map[string]any)
	if r, _ := data["qos_guard_remaining_seconds"].(float64); r != rem {
		t.Errorf("artifact qos_guard_remaining_seconds = %v, want %v", data["qos_guard_remaining_seconds"], rem)
	}
	if msg, _ := res["msg"].(string); !strings.Contains(msg, "h remaining)") || strings.Contains(msg, "(-") {
		t.Errorf("msg = %q", msg)
	}
}
