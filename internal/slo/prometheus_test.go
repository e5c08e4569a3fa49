package slo

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"resilience.ops/internal/modtest"
)

// This file tests against a real Prometheus (Debian's 2.42, /usr/bin/prometheus
// and /usr/bin/promtool): series are backfilled with promtool, then a
// Prometheus started on that data directory answers the evaluator's queries.
// Loki stays a fake server.

// series is one backfilled job.
type series struct {
	job, instance   string
	ratio5xx, ratio float64
}

var integrationSeries = []series{
	{"threader", "", 0.002, 0.999},
	{"hot", "", 0.05, 0.999},
	{"sick", "", 0.002, 0.9},
	{`we"ird\job`, "", 0.002, 0.999},
	{"multi", "a", 0.001, 0.999},
	{"multi", "b", 0.003, 0.999},
}

func TestPrometheusIntegration(t *testing.T) {
	promBin, promtool := modtest.DebianBinary(t, "prometheus", "prometheus"), modtest.DebianBinary(t, "promtool", "prometheus")
	dir := t.TempDir()
	data := filepath.Join(dir, "data")

	// Samples every 15s from 30 minutes ago to 1 minute ago.
	end := time.Now().Add(-time.Minute).Truncate(15 * time.Second)
	input := filepath.Join(dir, "series.om")
	if err := os.WriteFile(input, openMetrics(integrationSeries, end.Add(-29*time.Minute), end, 15*time.Second), 0o600); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if out, err := exec.Command(promtool, "tsdb", "create-blocks-from", "openmetrics", input, data).CombinedOutput(); err != nil {
		t.Fatalf("promtool: %v\n%s", err, out)
	}
	t.Logf("backfill took %v", time.Since(start).Round(time.Millisecond))

	url, stop := startPrometheus(t, promBin, dir, data)
	loki := fakeLoki(t, lokiCount, lokiVolume)

	run := func(t *testing.T, job string, adjust func(*Config)) Report {
		t.Helper()
		cfg := testConfig(url, loki.URL)
		cfg.Job = job
		if adjust != nil {
			adjust(&cfg)
		}
		e, err := New(cfg) // the real clock: the data ends a minute ago
		if err != nil {
			t.Fatal(err)
		}
		r := e.Evaluate(context.Background())
		for _, c := range r.Checks {
			t.Logf("%s: %s/%s: %s", c.Name, c.Outcome, c.Reason, c.Message)
		}
		return r
	}
	near := func(t *testing.T, c CheckResult, want float64) {
		t.Helper()
		if c.Value == nil || math.Abs(*c.Value-want) > 1e-9 {
			t.Errorf("%s = %v, want %v (%s)", c.Name, c.Value, want, c.Message)
		}
	}

	t.Run("stable", func(t *testing.T) {
		r := run(t, "threader", nil)
		if !r.Stable {
			t.Fatalf("status %s: %+v (is the backfilled data visible?)", r.Status, r.Checks)
		}
		near(t, result(t, r, CheckHTTP5xxRatio), 0.002)
		near(t, result(t, r, CheckHealthRatio), 0.999)
	})
	t.Run("5xx too high", func(t *testing.T) {
		r := run(t, "hot", nil)
		if c := result(t, r, CheckHTTP5xxRatio); r.Status != StatusUnstable || c.Outcome != OutcomeFail {
			t.Errorf("status %s, 5xx %s: %s", r.Status, c.Outcome, c.Message)
		}
	})
	t.Run("health too low", func(t *testing.T) {
		r := run(t, "sick", nil)
		if c := result(t, r, CheckHealthRatio); r.Status != StatusUnstable || c.Outcome != OutcomeFail {
			t.Errorf("status %s, health %s: %s", r.Status, c.Outcome, c.Message)
		}
	})
	t.Run("job label with quote and backslash", func(t *testing.T) {
		if r := run(t, `we"ird\job`, nil); !r.Stable {
			t.Errorf("status %s: %+v", r.Status, r.Checks)
		}
	})
	t.Run("no series for the job", func(t *testing.T) {
		r := run(t, "nothing", nil)
		if r.Stable || r.Status != StatusUnknown {
			t.Errorf("status %s, want unknown", r.Status)
		}
		for _, name := range []string{CheckHTTP5xxRatio, CheckHealthRatio} {
			if c := result(t, r, name); c.Outcome != OutcomeUnknown || c.Reason != ReasonNoData {
				t.Errorf("%s: %s/%s: %s", name, c.Outcome, c.Reason, c.Message)
			}
		}
	})
	t.Run("two series", func(t *testing.T) {
		r := run(t, "multi", nil)
		if c := result(t, r, CheckHTTP5xxRatio); r.Status != StatusConfigError || c.Reason != ReasonAmbiguous {
			t.Errorf("status %s, 5xx %s/%s: %s", r.Status, c.Outcome, c.Reason, c.Message)
		}
	})
	t.Run("bad query", func(t *testing.T) {
		r := run(t, "threader", func(c *Config) {
			th := 1.0
			c.Checks = []CheckSpec{{Name: "broken", Source: SourcePrometheus, Query: "sum(rate(x[5m])", Comparison: LT, Threshold: &th}}
		})
		c := result(t, r, "broken")
		if r.Status != StatusConfigError || c.Outcome != OutcomeConfigError || c.Reason != ReasonBadQuery {
			t.Errorf("status %s, broken %s/%s: %s", r.Status, c.Outcome, c.Reason, c.Message)
		}
	})
	t.Run("prometheus stopped", func(t *testing.T) {
		stop()
		r := run(t, "threader", nil)
		if r.Status != StatusUnknown {
			t.Errorf("status %s, want unknown", r.Status)
		}
		if c := result(t, r, CheckHTTP5xxRatio); c.Reason != ReasonUnreachable {
			t.Errorf("5xx %s/%s: %s", c.Outcome, c.Reason, c.Message)
		}
	})
}

// openMetrics writes both recording-rule series of every entry from start
// to end (inclusive) every step.
func openMetrics(all []series, start, end time.Time, step time.Duration) []byte {
	var b bytes.Buffer
	for _, metric := range []string{"job:http_5xx_ratio_1m", "job:health_ok_ratio_1m"} {
		fmt.Fprintf(&b, "# TYPE %s gauge\n", metric)
		for _, s := range all {
			labels := `job="` + escapeOpenMetrics(s.job) + `"`
			if s.instance != "" {
				labels += `,instance="` + escapeOpenMetrics(s.instance) + `"`
			}
			v := s.ratio5xx
			if strings.Contains(metric, "health") {
				v = s.ratio
			}
			for ts := start; !ts.After(end); ts = ts.Add(step) {
				fmt.Fprintf(&b, "%s{%s} %g %d\n", metric, labels, v, ts.Unix())
			}
		}
	}
	b.WriteString("# EOF\n")
	return b.Bytes()
}

func escapeOpenMetrics(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
}

// startPrometheus runs Prometheus on data and waits until it is ready. stop
// kills it (also at cleanup) and may be called more than once.
func startPrometheus(t *testing.T, bin, dir, data string) (url string, stop func()) {
	t.Helper()
	cfg := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfg, []byte("global:\n  scrape_interval: 1m\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := modtest.FreeAddr(t)
	stop = modtest.StartServer(t, bin, []string{
		"--config.file=" + cfg,
		"--storage.tsdb.path=" + data,
		"--storage.tsdb.retention.time=1d",
		"--web.listen-address=" + addr,
	}, "http://"+addr+"/-/ready")
	return "http://" + addr, stop
}
