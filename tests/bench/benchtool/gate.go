package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"
)

// cmdGate runs the qos_guard_release module binary against a Prometheus and a Loki that each
// take -latency to answer, and compares its wall time with the sum of the latencies of the
// requests it made (what running the checks one after the other would at least take).
func cmdGate(args []string, stdout, stderr io.Writer) error {
	fs, summary := newFlags("gate", stderr)
	bin := fs.String("bin", "plugins/modules/__bin/qos_guard_release_linux_amd64", "the qos_guard_release module binary")
	latency := fs.Duration("latency", 100*time.Millisecond, "server latency per request")
	runs := fs.Int("runs", 5, "module runs")
	gobench := fs.String("gobench", "", "go test -bench output with slo.BenchmarkEvaluateConcurrent")
	if err := fs.Parse(args); err != nil {
		return err
	}
	srv := startSLOServers(*latency)
	defer srv.close()
	dir, err := os.MkdirTemp("", "benchtool-gate-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	argv, err := moduleArgv(filepath.Join(dir, "module"), *bin, map[string]any{"path": filepath.Join(dir, "guard"), "prom_url": srv.prom.URL,
		"loki_url": srv.loki.URL, "job": "threader", "report_only": true})
	if err != nil {
		return err
	}
	var walls []time.Duration
	var perRun []int64
	for range *runs {
		before := srv.requests.Load()
		m := runMeasured(argv, os.Environ())
		var out struct {
			Failed bool   `json:"failed"`
			Msg    string `json:"msg"`
			Stable *bool  `json:"stable"`
		}
		if err := json.Unmarshal([]byte(strings.TrimSpace(string(m.stdout))), &out); err != nil || out.Failed {
			return fmt.Errorf("module run: %v %s %.400s", err, out.Msg, m.stdout)
		}
		if out.Stable != nil && !*out.Stable {
			return fmt.Errorf("module run: not stable against the fake servers: %s", out.Msg)
		}
		walls = append(walls, m.wall)
		perRun = append(perRun, srv.requests.Load()-before)
	}
	peak, err := peakRSS(argv, os.Environ(), 3)
	if err != nil {
		return err
	}
	reqs := perRun[0]
	sum := time.Duration(reqs) * *latency
	w := medianDur(walls)
	fmt.Fprintf(stdout, "The release gate evaluates its SLO checks concurrently. Here a Prometheus and a Loki on 127.0.0.1 each take %s "+
		"to answer every request (answers within the thresholds).\n\n", *latency)
	fmt.Fprintln(stdout, "| measurement | runs | requests per run | sum of their latencies | median wall ms | per-run ms | wall / sum | memory |")
	fmt.Fprintln(stdout, "|---|---:|---:|---:|---:|---|---:|---|")
	fmt.Fprintf(stdout, "| `qos_guard_release` module binary on an args file (`report_only: true`) | %d | %s | %s | %s | %s | %.2f | peak RSS %s MiB |\n",
		*runs, list(perRun, func(n int64) string { return fmt.Sprint(n) }), sum, ms(w), list(walls, ms), float64(w)/float64(sum), mib(peak))
	bullets := []string{fmt.Sprintf("Release gate against servers with %s latency: the module takes %s ms for %d requests (%s if run one after the other), peak RSS %s MiB.",
		*latency, ms(w), reqs, sum, mib(peak))}
	if *gobench != "" {
		s, err := loadGobench(*gobench)
		if err != nil {
			return err
		}
		const key = "slo.BenchmarkEvaluateConcurrent"
		if wall, n := s.median(key, "wall-ms/eval"); n > 0 {
			b, _ := s.median(key, "B/op")
			a, _ := s.median(key, "allocs/op")
			fmt.Fprintf(stdout, "| in process: `%s` (three checks, fake servers answering after 100 ms) | %d | 3 | 300ms | %s | %s | %.2f | %.0f KiB and %.0f allocations per evaluation |\n",
				key, n, msf(wall), list(s.values[key]["wall-ms/eval"], msf), wall/300, b/1024, a)
		} else {
			fmt.Fprintf(stdout, "| in process: `%s` | 0 | | | not measured | | | |\n", key)
		}
	}
	fmt.Fprintln(stdout)
	fmt.Fprintln(stdout, "A wall / sum near 1/requests means the checks ran concurrently; near 1, one after the other. The module's wall time also "+
		"includes starting the process and reading the guard.")
	fmt.Fprintln(stdout)
	return addSummary(*summary, bullets...)
}

// sloServers are a Prometheus and a Loki that answer every query within the default
// thresholds (0.2 % 5xx, 99.9 % healthy, 6 error lines in a stream of 120) after a latency.
type sloServers struct {
	prom, loki *httptest.Server
	requests   atomic.Int64
}

func startSLOServers(latency time.Duration) *sloServers {
	s := &sloServers{}
	vector := func(v string) string {
		return `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[` +
			fmt.Sprint(time.Now().Unix()) + `,"` + v + `"]}]}}`
	}
	slow := func(answer func(q string) string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			s.requests.Add(1)
			time.Sleep(latency)
			_ = r.ParseForm()
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, answer(r.Form.Get("query")))
		}
	}
	s.prom = httptest.NewServer(slow(func(q string) string {
		if strings.Contains(q, "health_ok") {
			return vector("0.999")
		}
		return vector("0.002")
	}))
	s.loki = httptest.NewServer(slow(func(q string) string {
		if strings.Contains(q, "|~") {
			return vector("6")
		}
		return vector("120")
	}))
	return s
}

func (s *sloServers) close() {
	s.prom.Close()
	s.loki.Close()
}
