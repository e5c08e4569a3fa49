package export

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCheckModeSendsNothing(t *testing.T) {
	t.Parallel()
	rec := newRecorder(t, nil)
	dir := t.TempDir()
	sys := mustSystems(t,
		map[string]any{"name": "prometheus", "url": rec.URL + "/api/v1/write", "auth_header": "Bearer tok-123", "remote_write_version": "2.0"},
		map[string]any{"name": "pushgateway", "url": rec.URL + "/pg", "headers": map[string]any{"X-Scope-OrgID": "team-a"}},
		map[string]any{"name": "node_textfile", "directory": dir},
		map[string]any{"name": "slack", "url": rec.URL + "/services/T0/B0/X0", "events": "metrics"},
		map[string]any{"name": "datadog", "url": rec.URL + "/api/v1/series", "auth_header": "DD-API-KEY key-123"},
		map[string]any{"name": "ops_hook", "type": "webhook", "url": rec.URL + "/hook"},
	)
	snap := smallSnapshot()
	results := Deliver(context.Background(), sys, snap, testOptions(newFakeClock(), false, true))
	if n := len(rec.requests()); n != 0 {
		t.Errorf("%d requests in check mode", n)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("files written in check mode: %v", entries)
	}
	host := strings.TrimPrefix(rec.URL, "http://")
	for _, r := range results {
		if r.Sent || r.Skipped != SkipCheckMode || r.WouldSend == nil || r.Attempts != 0 {
			t.Fatalf("result %+v", r)
		}
	}
	p := results[0].WouldSend
	if p.Method != "POST" || p.Host != host || p.Protocol != "remote_write 2.0" || p.ContentType != contentTypeRW20 ||
		!cmp.Equal(p.Headers, []string{"Authorization"}) || len(p.Series) != 14 ||
		!slices.Contains(p.Series, `retry_operations_total{job="retry_manager",operation="api_call",status="completed"} 2`) {
		t.Errorf("remote write preview %+v", p)
	}
	p = results[1].WouldSend
	wantGroups := []string{`job="retry_manager",operation="api_call",session="retry_1701425100_000042"`, `job="retry_manager",session="retry_1701425100_000042"`}
	if p.Method != "PUT" || !cmp.Equal(p.Groups, wantGroups) || !cmp.Equal(p.Headers, []string{"X-Scope-Orgid"}) ||
		!slices.Contains(p.Series, `retry_operations_total{job="retry_manager",operation="api_call",session="retry_1701425100_000042",status="completed"} 2`) {
		t.Errorf("pushgateway preview %+v", p)
	}
	p = results[2].WouldSend
	if p.Path != filepath.Join(dir, DefaultTextfileName) || !slices.Contains(p.Series, `retry_session_success_ratio 1`) {
		t.Errorf("textfile preview %+v", p)
	}
	if p = results[3].WouldSend; !strings.HasPrefix(p.Text, ":bar_chart: *Retry statistics*") {
		t.Errorf("slack preview %+v", p)
	}
	if p = results[4].WouldSend; !strings.Contains(string(p.Body), `"metric":"retry.operations"`) || !cmp.Equal(p.Headers, []string{"Dd-Api-Key"}) {
		t.Errorf("datadog preview %+v", p)
	}
	if p = results[5].WouldSend; !strings.Contains(string(p.Body), `"event":"metrics"`) {
		t.Errorf("webhook preview %+v", p)
	}
}

func TestCheckModeDoesNotClaim(t *testing.T) {
	t.Parallel()
	rec := newRecorder(t, nil)
	sys := mustSystems(t, map[string]any{"name": "slack", "url": rec.URL + "/services/a"})
	opts := testOptions(newFakeClock(), true, true)
	opts.Claim = func(context.Context, string) (bool, error) { t.Error("Claim called in check mode"); return true, nil }
	r := Deliver(context.Background(), sys, testSnapshot(), opts)[0]
	if r.Skipped != SkipCheckMode || !strings.HasPrefix(r.WouldSend.Text, ":rotating_light:") {
		t.Errorf("result %+v", r)
	}
}
