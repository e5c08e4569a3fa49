package export

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"resilience.ops/internal/textfile"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

func TestTextfile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	sys := mustSystems(t, map[string]any{"name": "node_textfile", "directory": dir, "labels": map[string]any{"env": "prod"}})
	snap := liveSnapshot()
	res := Deliver(context.Background(), sys, snap, testOptions(newFakeClock(), false, false))[0]
	path := filepath.Join(dir, DefaultTextfileName)
	if !res.Sent || res.Attempts != 1 || res.Path != path || res.Host != "localhost" || res.Series != 33 {
		t.Fatalf("result %+v", res)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(f)
	if err != nil {
		t.Fatalf("not the text format: %v", err)
	}
	checks := []struct {
		fam    string
		labels map[string]string
		want   float64
	}{
		{MetricOperations, map[string]string{"operation": "vmware_vm_create", "status": "completed", "env": "prod"}, 3},
		{MetricRetries, map[string]string{"operation": oddOperation, "status": "failed", "env": "prod"}, 4},
		{MetricAttemptFailures, map[string]string{"operation": oddOperation, "status": "failed", "error_type": "rate_limit_exceeded", "env": "prod"}, 6},
		{MetricOperationSeconds, map[string]string{"operation": "network_configuration", "status": "completed", "env": "prod"}, 30},
		{MetricRetryRatio, map[string]string{"env": "prod"}, 0.4},
		{MetricSnapshotTimestamp, map[string]string{"env": "prod"}, float64(snap.Time.UnixMilli()) / 1000},
	}
	for _, c := range checks {
		if got, ok := find(fams[c.fam], c.labels); !ok || math.Abs(got-c.want) > 1e-6*math.Max(1, math.Abs(c.want)) {
			t.Errorf("%s%v = %v (found %v), want %v", c.fam, c.labels, got, ok, c.want)
		}
	}
	wantTypes := map[string]dto.MetricType{MetricOperations: dto.MetricType_COUNTER, MetricOperationSeconds: dto.MetricType_SUMMARY, MetricSuccessRatio: dto.MetricType_GAUGE}
	for name, typ := range wantTypes {
		if fams[name].GetType() != typ {
			t.Errorf("%s is %v, want %v", name, fams[name].GetType(), typ)
		}
	}
	if s := fams[MetricOperationSeconds].GetMetric()[0].GetSummary(); s.GetSampleCount() == 0 {
		t.Errorf("summary without _count: %v", s)
	}
	for _, fam := range fams {
		for _, m := range fam.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "session" || l.GetName() == "job" || l.GetValue() == snap.SessionID {
					t.Errorf("%s has label %s=%s", fam.GetName(), l.GetName(), l.GetValue())
				}
			}
		}
	}
	if runtime.GOOS != "windows" {
		fi, _ := os.Stat(path)
		if fi.Mode().Perm() != textfile.FileMode {
			t.Errorf("mode %o, want %o for node_exporter", fi.Mode().Perm(), textfile.FileMode)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temporary files left: %v", entries)
	}

	// A second session replaces the file.
	next := smallSnapshot()
	if res := Deliver(context.Background(), sys, next, testOptions(newFakeClock(), false, false))[0]; !res.Sent {
		t.Fatalf("%+v", res)
	}
	data, _ := os.ReadFile(path)
	if strings.Contains(string(data), "vmware_vm_create") || !strings.Contains(string(data), `operation="api_call"`) {
		t.Errorf("file not replaced:\n%s", data)
	}
}

func TestTextfileMissingDirectory(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "missing")
	sys := mustSystems(t, map[string]any{"name": "node_textfile", "directory": dir})
	results := Deliver(context.Background(), sys, smallSnapshot(), testOptions(newFakeClock(), false, false))
	r := results[0]
	if r.Sent || r.Attempts != 1 || r.ErrorType != "resource_not_found" || !strings.Contains(r.Error, dir) {
		t.Errorf("result %+v", r)
	}
	if w := Warnings(results); len(w) != 1 || !strings.Contains(w[0], "node_textfile (textfile, localhost)") {
		t.Errorf("warnings %q", w)
	}
	if _, err := os.Stat(dir); err == nil {
		t.Error("the directory was created")
	}
}

func TestTextFormatEscapes(t *testing.T) {
	t.Parallel()
	got := string(writeText([]family{{name: "m", help: "a\\b\nc", typ: typeGauge, samples: []sample{{labels: []label{{"l", "q\"\\\n"}}, value: 1.5}}}}))
	want := "# HELP m a\\\\b\\nc\n# TYPE m gauge\nm{l=\"q\\\"\\\\\\n\"} 1.5\n"
	if got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
