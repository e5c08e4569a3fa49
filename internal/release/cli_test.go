package release

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"resilience.ops/internal/slo"
)

type cliRun struct {
	code           int
	stdout, stderr string
	clock          *fakeClock
}

// runCLI runs the command line with env, a fake clock at t0 and real evaluators.
func runCLI(t *testing.T, env map[string]string, args ...string) cliRun {
	t.Helper()
	fc := newFakeClock(t0)
	d := deps{clock: fc, newEvaluator: func(cfg slo.Config) (evaluator, error) { return slo.New(cfg) }}
	var out, errb bytes.Buffer
	code := cli(context.Background(), args, &out, &errb, func(k string) string { return env[k] }, d)
	return cliRun{code, out.String(), errb.String(), fc}
}

func cliEnv(b *backend, path, job string) map[string]string {
	return map[string]string{"PROMETHEUS_URL": b.prom.URL, "LOKI_URL": b.loki.URL, "THREADER_JOB": job, "QOS_GUARD_FILE": path}
}

func TestCLIExitCodes(t *testing.T) {
	t.Parallel()
	b := newBackend(t)
	tests := []struct {
		name      string
		job       string
		lockedAgo time.Duration
		args      []string
		code      int
		lines     []string // each must be one line of stdout, in order
		locked    bool
	}{
		{"stable: released", "threader", time.Hour, nil, 0, []string{
			"PASS         http_5xx_ratio   5xx ratio 0.002 <= 0.01",
			"PASS         health_ratio     health ratio 0.999 >= 0.995",
			"PASS         error_log_rate   error log rate 0.4 lines/min <= 1 lines/min (6 matching lines in 15m)",
			"stable: every SLO check passed over the 15m window; released the QoS guard "}, false},
		{"unstable: exit 1, stays locked", "hot", time.Hour, nil, 1, []string{
			"FAIL         http_5xx_ratio   5xx ratio 0.05 is not <= 0.01", "PASS", "PASS", "unstable: http_5xx_ratio failed (value 0.05)"}, true},
		{"unknown: exit 3", "nothing", time.Hour, nil, 3, []string{"UNKNOWN      http_5xx_ratio", "UNKNOWN      health_ratio", "PASS", "stability unknown"}, true},
		{"not yet evaluable: exit 3", "threader", 5 * time.Minute, nil, 3, []string{"not yet evaluable: the 15m stability window"}, true},
		{"report-only: instability exits 0", "hot", time.Hour, []string{"--report-only"}, 0, []string{"FAIL", "PASS", "PASS", "unstable:"}, true},
		{"flags override the environment", "hot", time.Hour, []string{"--job", "threader"}, 0, []string{"PASS", "PASS", "PASS", "stable:"}, false},
		{"window flag", "threader", 10 * time.Minute, []string{"--window=10m"}, 0, []string{"PASS", "PASS", "PASS", "stable: every SLO check passed over the 10m window"}, false},
		{"wait until evaluable", "threader", 5 * time.Minute, []string{"--wait", "--poll-interval", "10s", "--wait-timeout", "20m"}, 0,
			[]string{"PASS", "PASS", "PASS", "(waited 10m0s, 1 evaluation)"}, false},
		{"wait gives up", "hot", time.Hour, []string{"--wait", "--poll-interval", "1m", "--wait-timeout", "3m"}, 1,
			[]string{"FAIL", "PASS", "PASS", "(waited 3m0s, 4 evaluations)"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "qos.guard")
			lockAt(t, path, t0.Add(-tt.lockedAgo), 120)
			r := runCLI(t, cliEnv(b, path, tt.job), tt.args...)
			if r.code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, tt.code, r.stdout, r.stderr)
			}
			lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
			if len(lines) != len(tt.lines) {
				t.Fatalf("stdout has %d lines, want %d:\n%s", len(lines), len(tt.lines), r.stdout)
			}
			for i, want := range tt.lines {
				if !strings.Contains(lines[i], want) {
					t.Errorf("line %d %q lacks %q", i+1, lines[i], want)
				}
			}
			if r.stderr != "" {
				t.Errorf("stderr: %q", r.stderr)
			}
			if st := statusAt(t, path, r.clock.Now()); st.Locked != tt.locked {
				t.Errorf("guard locked = %v, want %v", st.Locked, tt.locked)
			}
		})
	}
}

func TestCLIJSON(t *testing.T) {
	t.Parallel()
	b := newBackend(t)
	path := filepath.Join(t.TempDir(), "qos.guard")
	lockAt(t, path, t0.Add(-time.Hour), 120)
	r := runCLI(t, cliEnv(b, path, "threader"), "--json")
	if r.code != 0 || strings.Count(r.stdout, "\n") != 1 {
		t.Fatalf("exit %d, stdout %q", r.code, r.stdout)
	}
	var got Return
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatal(err)
	}
	if !got.Stable || !got.Unlocked || got.Status != StatusStable || len(got.Checks) != 3 || got.Guard.Locked || got.Guard.Path != path {
		t.Errorf("--json: %+v", got)
	}
}

func TestCLIConfigurationAndGuardErrors(t *testing.T) {
	t.Parallel()
	b := newBackend(t)
	b.failLoki(http.StatusUnauthorized)
	path := filepath.Join(t.TempDir(), "qos.guard")
	lockAt(t, path, t0.Add(-time.Hour), 120)
	env := cliEnv(b, path, "threader")
	env["LOKI_BEARER_TOKEN"] = "tok-s3cret-99"
	r := runCLI(t, env, "--report-only")
	if r.code != exitUsage || !strings.Contains(r.stdout, "CONFIG_ERROR error_log_rate   loki refused the request") ||
		!strings.Contains(r.stdout, "configuration error, nothing was decided") {
		t.Errorf("loki refusing the token: exit %d\n%s", r.code, r.stdout)
	}
	if strings.Contains(r.stdout+r.stderr, "tok-s3cret-99") {
		t.Errorf("the token was printed:\n%s%s", r.stdout, r.stderr)
	}

	corrupt := filepath.Join(t.TempDir(), "corrupt.guard")
	if err := os.WriteFile(corrupt, []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	env = cliEnv(newBackend(t), corrupt, "threader")
	if r := runCLI(t, env); r.code != exitUsage || !strings.Contains(r.stdout, "guard error, nothing was released") || !strings.Contains(r.stdout, "corrupt") {
		t.Errorf("corrupt guard: exit %d\n%s", r.code, r.stdout)
	}
}

func TestCLIUsageErrors(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "qos.guard")
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"bad ratio in the environment", map[string]string{"MAX_5XX_RATIO": "abc"}, nil, `MAX_5XX_RATIO: must be a number between 0 and 1, got "abc"`},
		{"ratio out of range", map[string]string{"MIN_HEALTH_RATIO": "1.5"}, nil, `MIN_HEALTH_RATIO: must be between 0 and 1, got 1.5`},
		{"bad log rate", map[string]string{"MAX_ERROR_LOGS_PER_MIN": "-2"}, nil, `MAX_ERROR_LOGS_PER_MIN: must be at least 0, got -2`},
		{"bad window in the environment", map[string]string{"STABILITY_WINDOW": "15x"}, nil, `STABILITY_WINDOW: "15x" is not a positive Prometheus duration`},
		{"bad window flag", map[string]string{"STABILITY_WINDOW": "15x"}, []string{"--window", "1y2"}, `--window: "1y2" is not a positive Prometheus duration`},
		{"bad URL", map[string]string{"PROMETHEUS_URL": "prometheus:9090"}, nil, `PROMETHEUS_URL: scheme must be http or https`},
		{"bad URL flag", nil, []string{"--loki-url", "http://"}, `--loki-url: has no host`},
		{"bad poll interval", nil, []string{"--poll-interval", "often"}, `--poll-interval: "often" is not a duration`},
		// Every number has a maximum, also from the environment and the flags.
		{"window too long", nil, []string{"--window", "8d"}, `--window: must be at most 1w`},
		{"window too long in the environment", map[string]string{"STABILITY_WINDOW": "200y"}, nil, `STABILITY_WINDOW: must be at most 1w`},
		{"log rate too high", map[string]string{"MAX_ERROR_LOGS_PER_MIN": "1e300"}, nil, `MAX_ERROR_LOGS_PER_MIN: must be at most 1000000, got 1e+300`},
		{"wait timeout too long", nil, []string{"--wait-timeout", "1e300"}, `--wait-timeout: "1e300" is not a usable number of seconds`},
		{"poll interval too long", nil, []string{"--poll-interval", "25h"}, `--poll-interval: must be between 1s and 24h0m0s`},
		{"etcd timeout too long", map[string]string{"QOS_GUARD_STORE": "etcd", "QOS_GUARD_ETCD_ENDPOINTS": "http://127.0.0.1:1", "QOS_GUARD_ETCD_TIMEOUT": "1e10"}, nil, `QOS_GUARD_ETCD_TIMEOUT`},
		{"unknown flag", nil, []string{"--max-5xx", "0.1"}, "flag provided but not defined: -max-5xx"},
		{"argument", nil, []string{"release"}, `unexpected argument "release"`},
		{"token with basic auth in the URL", map[string]string{"PROMETHEUS_URL": "http://u:p@h:9090", "PROMETHEUS_BEARER_TOKEN": "tok-xyz"},
			nil, "PROMETHEUS_BEARER_TOKEN: cannot be combined with basic auth"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := map[string]string{"QOS_GUARD_FILE": path}
			for k, v := range tc.env {
				env[k] = v
			}
			r := runCLI(t, env, tc.args...)
			if r.code != exitUsage || !strings.Contains(r.stderr, "qos_guard_release: "+tc.want) || r.stdout != "" {
				t.Errorf("exit %d, stderr %q, stdout %q; want exit 2 and %q", r.code, r.stderr, r.stdout, tc.want)
			}
			if strings.Count(r.stderr, "\n") != 1 {
				t.Errorf("want one line on stderr: %q", r.stderr)
			}
			if strings.Contains(r.stderr, "tok-xyz") || strings.Contains(r.stderr, "u:p@") {
				t.Errorf("stderr holds a secret: %q", r.stderr)
			}
		})
	}
	if _, err := os.Stat(path); err == nil {
		t.Errorf("a usage error created the guard file")
	}
}

func TestCLIHelp(t *testing.T) {
	t.Parallel()
	var out, errb bytes.Buffer
	code := Main([]string{"qos_guard_release", "-h"}, &out, &errb, func(string) string { return "" })
	if code != 0 || !strings.Contains(out.String(), "usage: qos_guard_release [flags]") || !strings.Contains(out.String(), "-wait-timeout") {
		t.Errorf("exit %d, help %q", code, out.String())
	}
}
