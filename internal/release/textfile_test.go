package release

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestReleaseMetricsTextfile: the last evaluation is written for node_exporter, per check.
func TestReleaseMetricsTextfile(t *testing.T) {
	t.Parallel()
	b := newBackend(t)
	dir := t.TempDir()
	path := filepath.Join(t.TempDir(), "qos.guard")
	lockAt(t, path, t0.Add(-time.Hour), 120)
	code, _, raw := runModule(t, with(baseArgs(b, path, "hot"), "textfile_dir", dir))
	if code != 1 {
		t.Fatalf("exit %d: %s", code, raw)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "resilience_qos_release_*.prom"))
	if len(files) != 1 {
		t.Fatalf("files %v", files)
	}
	data, _ := os.ReadFile(files[0])
	text := string(data)
	g := `guard="` + path + `"`
	for _, want := range []string{
		`resilience_qos_release_stable{` + g + `} 0`,
		`resilience_qos_release_check_value{check="http_5xx_ratio",` + g + `} 0.05`,
		`resilience_qos_release_check_threshold{check="http_5xx_ratio",` + g + `} 0.01`,
		`resilience_qos_release_check_outcome{check="http_5xx_ratio",` + g + `,outcome="fail"} 1`,
		`resilience_qos_release_check_outcome{check="http_5xx_ratio",` + g + `,outcome="pass"} 0`,
		`resilience_qos_release_check_outcome{check="health_ratio",` + g + `,outcome="pass"} 1`,
		`resilience_qos_release_last_evaluation_timestamp_seconds{` + g + `} ` + strconv.FormatInt(t0.Unix(), 10),
	} {
		if !strings.Contains(text, want+"\n") {
			t.Errorf("metrics lack %q:\n%s", want, text)
		}
	}
}
