package textfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

func TestWriteParsesBack(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	metrics := []Metric{
		{Name: "resilience_qos_guard_locked", Help: "Whether the guard is locked.", Samples: []Sample{
			{Labels: map[string]string{"guard": `/run/a "quoted"\path`}, Value: 1}}},
		{Name: "resilience_qos_guard_expiry_timestamp_seconds", Help: "Expiry.\nSecond line.", Samples: []Sample{
			{Labels: map[string]string{"guard": "/run/a"}, Value: 1.7e9}}},
	}
	name := FileName("resilience_qos_guard", "/run/threader.qos.guard")
	if name != "resilience_qos_guard_run_threader_qos_guard.prom" {
		t.Errorf("FileName = %q", name)
	}
	if err := Write(dir, name, metrics); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(f)
	if err != nil {
		t.Fatalf("not the text format: %v", err)
	}
	locked := fams["resilience_qos_guard_locked"]
	if locked == nil || locked.GetMetric()[0].GetGauge().GetValue() != 1 ||
		locked.GetMetric()[0].GetLabel()[0].GetValue() != `/run/a "quoted"\path` {
		t.Errorf("locked = %v", locked)
	}
	if fams["resilience_qos_guard_expiry_timestamp_seconds"].GetHelp() != "Expiry.\nSecond line." {
		t.Errorf("help not round-tripped")
	}
	fi, _ := os.Stat(filepath.Join(dir, name))
	if fi.Mode().Perm() != 0o644 {
		t.Errorf("mode %o, want 0644 for node_exporter", fi.Mode().Perm())
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temporary file left: %s", e.Name())
		}
	}
}

func TestWriteNeedsTheDirectory(t *testing.T) {
	t.Parallel()
	err := Write(filepath.Join(t.TempDir(), "missing"), "x.prom", nil)
	if err == nil || !strings.Contains(err.Error(), "textfile_dir") {
		t.Errorf("err = %v", err)
	}
}
