package export

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"resilience.ops/internal/modtest"
)

// This file writes to a real Prometheus (Debian's 2.42, /usr/bin/prometheus) started on loopback
// with its remote-write receiver, then reads the series back through the HTTP API.

// oddOperation has every character that needs escaping somewhere on the way.
const oddOperation = "deploy \"web\"/v2 \\ ü\nnext"

// liveSnapshot is testSnapshot taken now, with an operation whose name needs escaping.
func liveSnapshot() Snapshot {
	s := testSnapshot()
	s.Time = time.Now().Truncate(time.Millisecond)
	s.Operations = append(s.Operations, OperationStats{Operation: oddOperation, Status: "failed", Operations: 2, Attempts: 6, Retries: 4,
		ExecutionSeconds: 12.5, Failures: map[string]int{"rate_limit_exceeded": 6}})
	return s
}

func startPrometheus(t *testing.T) string {
	t.Helper()
	bin := modtest.DebianBinary(t, "prometheus", "prometheus")
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfg, []byte("global:\n  scrape_interval: 1m\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := modtest.FreeAddr(t)
	modtest.StartServer(t, bin, []string{
		"--config.file=" + cfg, "--storage.tsdb.path=" + filepath.Join(dir, "data"),
		"--web.listen-address=" + addr, "--web.enable-remote-write-receiver",
	}, "http://"+addr+"/-/ready")
	return "http://" + addr
}

// promSample is one element of an instant query's vector.
type promSample struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
}

func (s promSample) float(t *testing.T) float64 {
	t.Helper()
	str, _ := s.Value[1].(string)
	f, err := strconv.ParseFloat(str, 64)
	if err != nil {
		t.Fatalf("value %v", s.Value)
	}
	return f
}

func query(t *testing.T, base, q string, at time.Time) []promSample {
	t.Helper()
	u := base + "/api/v1/query?" + url.Values{"query": {q}, "time": {strconv.FormatFloat(float64(at.UnixMilli())/1000, 'f', 3, 64)}}.Encode()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []promSample `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.Status != "success" {
		t.Fatalf("query %s: %v %s", q, err, out.Error)
	}
	return out.Data.Result
}

func TestPrometheusRemoteWriteReceiver(t *testing.T) {
	base := startPrometheus(t)
	snap := liveSnapshot()
	sys := mustSystems(t, map[string]any{"name": "prometheus", "url": base + "/api/v1/write", "labels": map[string]any{"env": "test"},
		"timeout": 10, "retry_count": 0})
	res := Deliver(context.Background(), sys, snap, testOptions(newFakeClock(), false, false))[0]
	if !res.Sent || res.Protocol != "1.0" || res.Series != 33 {
		t.Fatalf("result %+v", res)
	}

	all := query(t, base, `{job="retry_manager"}`, snap.Time)
	if len(all) != res.Series {
		t.Errorf("%d series stored, %d sent", len(all), res.Series)
	}
	for _, s := range all {
		for name, value := range s.Metric {
			if name == "session" || name == "session_id" || value == snap.SessionID {
				t.Errorf("session id as a label: %v", s.Metric)
			}
		}
		if s.Metric["env"] != "test" {
			t.Errorf("constant label missing: %v", s.Metric)
		}
	}
	checks := map[string]float64{
		`retry_operations_total{operation="vmware_vm_create",status="completed"}`:                         3,
		`retry_attempts_total{operation="vmware_vm_create",status="failed"}`:                              3,
		`retry_attempt_failures_total{operation="vmware_vm_create",status="failed",error_type="timeout"}`: 1,
		`retry_operation_duration_seconds_sum{operation="network_configuration"}`:                         30,
		`retry_session_success_ratio`:                                          0.8,
		`retry_session_breached_thresholds`:                                    2,
		`retry_attempts_total{operation="` + escapePromQL(oddOperation) + `"}`: 6,
	}
	for q, want := range checks {
		got := query(t, base, q, snap.Time)
		if len(got) != 1 || got[0].float(t) != want {
			t.Errorf("%s = %v, want %v", q, got, want)
		}
	}
	if got := query(t, base, `retry_attempts_total{status="failed"}`, snap.Time); len(got) != 2 {
		t.Errorf("failed attempts series: %v", got)
	} else {
		names := []string{got[0].Metric["operation"], got[1].Metric["operation"]}
		if !strings.Contains(strings.Join(names, "|"), oddOperation) {
			t.Errorf("operation label not round-tripped: %q", names)
		}
	}

	t.Run("2.0 to a 1.0-only Prometheus fails clearly", func(t *testing.T) {
		sys := mustSystems(t, map[string]any{"name": "prometheus", "url": base + "/api/v1/write", "remote_write_version": "2.0"})
		res := Deliver(context.Background(), sys, snap, testOptions(newFakeClock(), false, false))[0]
		if res.Sent || res.ErrorType != "configuration_error" || !strings.Contains(res.Error, "accepts only remote write 1.0") {
			t.Errorf("result %+v", res)
		}
	})
}

func escapePromQL(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
}
