package release

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"resilience.ops/internal/module"
	"resilience.ops/internal/slo"
)

// runModule runs the module on an argument file, as ansible-core does, against real slo
// evaluators and a fake clock at t0; it returns the exit status, the decoded result and its text.
func runModule(t *testing.T, args map[string]any) (int, map[string]any, string) {
	t.Helper()
	fc := newFakeClock(t0)
	d := deps{clock: fc, newEvaluator: func(cfg slo.Config) (evaluator, error) { return slo.New(cfg) }}
	b, err := json.Marshal(args)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "args")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	code := module.Run(path, &out, Spec, func(c *module.Ctx) (module.Result, error) {
		return handle(context.Background(), c, d)
	})
	var res map[string]any
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("not one JSON object: %v: %s", err, out.String())
	}
	if n := strings.Count(strings.TrimSpace(out.String()), "\n"); n != 0 {
		t.Errorf("more than one line on stdout: %s", out.String())
	}
	return code, res, out.String()
}

func baseArgs(b *backend, guardPath, job string) map[string]any {
	return map[string]any{"prom_url": b.prom.URL, "loki_url": b.loki.URL, "job": job, "path": guardPath}
}

func with(m map[string]any, kv ...any) map[string]any {
	out := maps.Clone(m)
	for i := 0; i < len(kv); i += 2 {
		out[kv[i].(string)] = kv[i+1]
	}
	return out
}

func TestModuleAgainstFakeServers(t *testing.T) {
	t.Parallel()
	b := newBackend(t)
	tests := []struct {
		name      string
		job       string
		lockedAgo time.Duration
		extra     []any
		code      int
		status    Status
		changed   bool
		locked    bool     // guard on disk afterwards
		msg       []string // substrings of msg
		stats     bool     // ansible_stats present
	}{
		{"stable and locked: released", "threader", time.Hour, nil, 0, StatusStable, true, false,
			[]string{"stable: every SLO check passed over the 15m window; released the QoS guard", "owner ci@runner"}, true},
		{"stable, not locked", "threader", 0, nil, 0, StatusStable, false, false, []string{"was not locked"}, true},
		{"5xx too high: stays locked and fails", "hot", time.Hour, nil, 1, StatusUnstable, false, true,
			[]string{"unstable: http_5xx_ratio failed (value 0.05): 5xx ratio 0.05 is not <= 0.01", "stays locked"}, true},
		{"health too low", "sick", time.Hour, nil, 1, StatusUnstable, false, true,
			[]string{"health_ratio failed (value 0.9): health ratio 0.9 is not >= 0.995"}, true},
		{"no series: unknown", "nothing", time.Hour, nil, 1, StatusUnknown, false, true,
			[]string{"stability unknown: http_5xx_ratio is unknown (value none): 5xx ratio: no data", "health_ratio is unknown"}, true},
		{"report_only: instability is reported, not failed", "hot", time.Hour, []any{"report_only", true}, 0, StatusUnstable, false, true,
			[]string{"unstable: http_5xx_ratio failed"}, true},
		{"rejected query: a configuration error, also with report_only", "threader", time.Hour,
			[]any{"report_only", "yes", "checks", []any{map[string]any{"name": "broken", "query": "sum(broken(x)", "comparison": "<", "threshold": "1"}}},
			1, StatusConfigError, false, true, []string{"configuration error, nothing was decided", "broken is misconfigured", "rejected the query"}, true},
		{"not yet evaluable", "threader", 5 * time.Minute, []any{"window", "15m"}, 1, StatusNotYetEvaluable, false, true,
			[]string{"not yet evaluable: the 15m stability window would reach back before the guard was locked at 2026-11-23T09:55:00Z; evaluable in 10m0s, at 2026-11-23T10:10:00Z"}, true},
		{"check mode: would release, changes nothing", "threader", time.Hour, []any{"_ansible_check_mode", true}, 0, StatusStable, true, true,
			[]string{"would release the QoS guard", "check mode changes nothing"}, true},
		{"user check with a scalar, built-ins disabled", "nothing", time.Hour,
			[]any{"disable", "http_5xx_ratio, health_ratio,error_log_rate", "checks", []any{map[string]any{"name": "one", "query": "vector(1)", "comparison": "==", "threshold": 1}}},
			0, StatusStable, true, false, []string{"released"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "qos.guard")
			if tt.lockedAgo > 0 {
				lockAt(t, path, t0.Add(-tt.lockedAgo), 120)
			}
			code, res, raw := runModule(t, with(baseArgs(b, path, tt.job), tt.extra...))
			if code != tt.code || res["status"] != string(tt.status) || res["changed"] != tt.changed {
				t.Fatalf("exit %d, status %v, changed %v; want %d, %s, %v\n%s", code, res["status"], res["changed"], tt.code, tt.status, tt.changed, raw)
			}
			if failed, _ := res["failed"].(bool); failed != (tt.code != 0) {
				t.Errorf("failed = %v with exit %d", failed, code)
			}
			msg, _ := res["msg"].(string)
			for _, want := range tt.msg {
				if !strings.Contains(msg, want) {
					t.Errorf("msg %q lacks %q", msg, want)
				}
			}
			if strings.Contains(msg, "\n") {
				t.Errorf("msg spans several lines: %q", msg)
			}
			if st := statusAt(t, path, t0); st.Locked != tt.locked {
				t.Errorf("guard on disk locked = %v, want %v", st.Locked, tt.locked)
			}
			_, hasStats := res["ansible_stats"]
			if hasStats != tt.stats {
				t.Errorf("ansible_stats present = %v, want %v", hasStats, tt.stats)
			}
			for _, k := range []string{"stable", "status", "unlocked", "would_unlock", "evaluable", "wait_seconds", "evaluable_at", "window",
				"checks", "evaluated_at", "attempts", "guard"} {
				if _, ok := res[k]; !ok {
					t.Errorf("result lacks %s", k)
				}
			}
		})
	}
}

func TestModuleResultAndArtifacts(t *testing.T) {
	t.Parallel()
	b := newBackend(t)
	path := filepath.Join(t.TempDir(), "qos.guard")
	lock := lockAt(t, path, t0.Add(-time.Hour), 120)
	_, res, raw := runModule(t, with(baseArgs(b, path, "threader"), "_ansible_diff", true))
	if res["unlocked"] != true || res["stable"] != true || res["evaluable"] != true || res["wait_seconds"] != float64(0) || res["attempts"] != float64(1) {
		t.Fatalf("result: %s", raw)
	}
	if res["evaluable_at"] != "2026-11-23T09:15:00Z" || res["window"] != "15m" || res["evaluated_at"] == "" {
		t.Errorf("evaluable_at %v, window %v, evaluated_at %v", res["evaluable_at"], res["window"], res["evaluated_at"])
	}
	g := res["guard"].(map[string]any)
	if g["locked"] != false || g["path"] != path {
		t.Errorf("guard after: %v", g)
	}
	checks := res["checks"].([]any)
	if len(checks) != 3 {
		t.Fatalf("checks: %v", checks)
	}
	c0 := checks[0].(map[string]any)
	if c0["name"] != "http_5xx_ratio" || c0["value"] != 0.002 || c0["threshold"] != 0.01 || c0["outcome"] != "pass" ||
		c0["query"] != `avg_over_time(job:http_5xx_ratio_1m{job="threader"}[15m])` {
		t.Errorf("first check: %v", c0)
	}
	if c2 := checks[2].(map[string]any); c2["query"] != `sum(count_over_time({job="threader"} |~ "ERROR|Exception|Traceback" [15m]))` || c2["value"] != 0.4 {
		t.Errorf("error_log_rate check: %v", c2)
	}
	stats := res["ansible_stats"].(map[string]any)
	if stats["per_host"] != false || stats["aggregate"] != false {
		t.Errorf("ansible_stats: %v", stats)
	}
	data := stats["data"].(map[string]any)
	if data["qos_release_stable"] != true || data["qos_release_unlocked"] != true || data["qos_release_status"] != "stable" {
		t.Errorf("artifacts: %v", data)
	}
	ac := data["qos_release_checks"].([]any)
	if len(ac) != 3 || ac[0].(map[string]any)["name"] != "http_5xx_ratio" || ac[0].(map[string]any)["outcome"] != "pass" {
		t.Errorf("qos_release_checks: %v", ac)
	}
	diff := res["diff"].(map[string]any)
	if diff["before"].(map[string]any)["lock_id"] != lock.LockID || diff["after"].(map[string]any)["locked"] != false {
		t.Errorf("diff: %v", diff)
	}
	// The audit trail holds the release with the evaluation.
	evs := audit(t, path)
	last := evs[len(evs)-1]
	ev, _ := json.Marshal(last.Evaluation)
	if last.Event != "release" || !strings.Contains(string(ev), `"query":"avg_over_time(job:http_5xx_ratio_1m{job=\"threader\"}[15m])"`) ||
		!strings.Contains(string(ev), `"value":0.002`) || !strings.Contains(string(ev), `"outcome":"pass"`) {
		t.Errorf("audit event %s: %s", last.Event, ev)
	}
}

func TestModuleNeverShowsSecrets(t *testing.T) {
	t.Parallel()
	b := newBackend(t)
	b.failLoki(http.StatusUnauthorized) // its error body echoes the credentials
	path := filepath.Join(t.TempDir(), "qos.guard")
	lockAt(t, path, t0.Add(-time.Hour), 120)
	secrets := []string{"prom-t0ken-value", "l0ki-passw0rd", "hdr-s3cret-1", "url-pa55word"}
	promURL := strings.Replace(b.prom.URL, "http://", "http://ops:url-pa55word@", 1)
	args := with(baseArgs(b, path, "threader"),
		"prom_url", promURL,
		"prom_headers", map[string]any{"X-Api-Key": "hdr-s3cret-1"},
		"loki_username", "reader",
		"loki_password", "l0ki-passw0rd",
		"loki_tenant", "team-a",
		"loki_headers", map[string]any{"X-Api-Key": "hdr-s3cret-1"},
		"_ansible_verbosity", 4)
	delete(args, "prom_headers") // the URL carries basic auth; a header would be allowed too, but not both kinds of auth
	args["prom_headers"] = map[string]any{"X-Api-Key": "hdr-s3cret-1"}
	for _, tc := range []struct {
		name string
		args map[string]any
	}{
		{"loki refuses and echoes the credentials", args},
		{"bearer token on prometheus, loki refuses", with(args, "prom_url", b.prom.URL, "prom_bearer_token", "prom-t0ken-value")},
		{"a rejected parameter", with(args, "prom_bearer_token", "prom-t0ken-value", "window", "15x")},
		{"an unknown parameter", with(args, "prom_bearer_token", "prom-t0ken-value", "loki_pasword", "l0ki-passw0rd")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, res, raw := runModule(t, tc.args)
			for _, s := range secrets {
				if strings.Contains(raw, s) {
					t.Errorf("output holds secret %q: %s", s, raw)
				}
			}
			if res["failed"] != true {
				t.Errorf("want a failure: %s", raw)
			}
			inv := res["invocation"].(map[string]any)["module_args"].(map[string]any)
			for _, k := range []string{"loki_password", "prom_headers", "loki_headers"} {
				if inv[k] != module.Masked {
					t.Errorf("invocation.module_args.%s = %v, want masked", k, inv[k])
				}
			}
		})
	}
	// The credentials did reach the servers.
	var sawTenant, sawKey bool
	for _, h := range b.seenHeaders() {
		sawTenant = sawTenant || h.Get("X-Scope-OrgID") == "team-a"
		sawKey = sawKey || h.Get("X-Api-Key") == "hdr-s3cret-1"
	}
	if !sawTenant || !sawKey {
		t.Errorf("tenant sent %v, header sent %v", sawTenant, sawKey)
	}
}

func TestModuleLokiAuthIsAConfigError(t *testing.T) {
	t.Parallel()
	b := newBackend(t)
	b.failLoki(http.StatusUnauthorized)
	path := filepath.Join(t.TempDir(), "qos.guard")
	lockAt(t, path, t0.Add(-time.Hour), 120)
	code, res, _ := runModule(t, with(baseArgs(b, path, "threader"), "loki_bearer_token", "tok-abcdef", "report_only", true))
	if code != 1 || res["status"] != "config_error" || !strings.Contains(res["msg"].(string), "error_log_rate is misconfigured") {
		t.Errorf("exit %d, status %v, msg %v", code, res["status"], res["msg"])
	}
}

func TestModuleBadParameters(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "qos.guard")
	base := map[string]any{"path": path, "prom_url": "http://127.0.0.1:1", "loki_url": "http://127.0.0.1:1"}
	for _, tc := range []struct {
		name string
		args map[string]any
		want string
	}{
		{"window 15x", with(base, "window", "15x"), `parameter window: "15x" is not a positive Prometheus duration`},
		{"window 0", with(base, "window", "0s"), `parameter window: "0s" is not a positive Prometheus duration`},
		{"max_5xx_ratio abc", with(base, "max_5xx_ratio", "abc"), `parameter max_5xx_ratio: must be a number between 0 and 1, got "abc"`},
		{"max_5xx_ratio 2", with(base, "max_5xx_ratio", 2), `parameter max_5xx_ratio: must be between 0 and 1, got 2`},
		{"min_health_ratio -1", with(base, "min_health_ratio", "-1"), `parameter min_health_ratio: must be between 0 and 1, got -1`},
		{"max_error_logs_per_min", with(base, "max_error_logs_per_min", "lots"), `parameter max_error_logs_per_min: must be a number of at least 0`},
		{"prom_url not a URL", with(base, "prom_url", "prometheus.local:9090"), `parameter prom_url: scheme must be http or https`},
		{"prom_url malformed", with(base, "prom_url", "http://[::1"), `parameter prom_url: not a valid URL`},
		{"loki_url without host", with(base, "loki_url", "http://"), `parameter loki_url: has no host`},
		{"loki_url ftp", with(base, "loki_url", "ftp://loki"), `parameter loki_url: scheme must be http or https`},
		{"two bad URLs", with(base, "prom_url", "x", "loki_url", "y"), `parameter prom_url: scheme must be http or https; parameter loki_url: scheme must be http or https`},
		{"disable unknown", with(base, "disable", []any{"latency"}), `parameter disable[0]: must be one of http_5xx_ratio, health_ratio, error_log_rate, got "latency"`},
		{"everything disabled", with(base, "disable", "http_5xx_ratio,health_ratio,error_log_rate"), `parameter checks: no check is enabled`},
		{"check without threshold", with(base, "checks", []any{map[string]any{"name": "x", "query": "up", "comparison": "<"}}), `parameter checks[0].threshold: check "x": is required`},
		{"check with bad comparison", with(base, "checks", []any{map[string]any{"name": "x", "query": "up", "comparison": "lt", "threshold": 1}}), `parameter checks[0].comparison: check "x": "lt" is not allowed`},
		{"check with unknown key", with(base, "checks", []any{map[string]any{"name": "x", "querry": "up"}}), `parameter checks[0]: unsupported key "querry"`},
		{"check with a non-numeric threshold", with(base, "checks", []any{map[string]any{"name": "x", "query": "up", "comparison": "<", "threshold": "low"}}), `parameter checks[0]: threshold must be a number, got "low"`},
		{"check not a dict", with(base, "checks", []any{"up < 1"}), `parameter checks[0]: must be a dictionary`},
		{"check name taken by a built-in", with(base, "checks", []any{map[string]any{"name": "health_ratio", "query": "up", "comparison": "<", "threshold": 1}}), `is a built-in check`},
		{"loki source with a bad no_data", with(base, "checks", []any{map[string]any{"name": "x", "source": "loki", "query": "up", "comparison": "<", "threshold": 1, "no_data": "ignore"}}), `parameter checks[0].no_data`},
		{"poll_interval soon", with(base, "poll_interval", "soon"), `parameter poll_interval: "soon" is not a duration`},
		{"poll_interval too short", with(base, "poll_interval", "10ms"), `parameter poll_interval: must be between 1s and 24h0m0s, got "10ms"`},
		{"wait_timeout too long", with(base, "wait_timeout", "48h"), `parameter wait_timeout: must be between 0s and 24h0m0s`},
		{"query_timeout", with(base, "query_timeout", "-1s"), `parameter query_timeout: "-1s" is not a duration`},
		{"bearer token and basic auth", with(base, "prom_bearer_token", "tok-1", "prom_username", "u"), `parameter prom_bearer_token: cannot be combined with basic auth`},
		{"password without user", with(base, "loki_password", "pw-1"), `parameter loki_password: needs a username`},
		{"client cert without key", with(base, "loki_client_cert", "/etc/c.pem"), `parameter loki_client_cert: cert_file and key_file must be set together`},
		{"CA file missing", with(base, "prom_ca_file", "/nonexistent/ca.pem"), `parameter prom_ca_file: cannot read the CA file`},
		{"tenant twice", with(base, "loki_tenant", "a", "loki_headers", map[string]any{"X-Scope-OrgID": "b"}), `parameter loki_headers: X-Scope-OrgID is already set by tenant_id`},
		{"bad boolean", with(base, "wait", "maybe"), `parameter wait: must be a boolean`},
		{"unknown parameter", with(base, "windw", "15m"), `parameter windw: unsupported parameter; supported parameters are: checks, disable, etcd_ca_file, etcd_cert_file, etcd_endpoints, etcd_key_file, etcd_password, etcd_prefix, etcd_timeout, etcd_username, job`},
		{"empty path", with(base, "path", ""), `parameter path: must not be empty`},
		{"empty job", with(base, "job", ""), `parameter job: must not be empty`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			code, res, raw := runModule(t, tc.args)
			if code != 1 || res["failed"] != true || !strings.Contains(res["msg"].(string), tc.want) {
				t.Errorf("exit %d, msg %q; want failed and %q\n%s", code, res["msg"], tc.want, raw)
			}
			if st, ok := res["status"]; ok && st != "config_error" {
				t.Errorf("status %v, want config_error", st)
			}
		})
	}
	if _, err := os.Stat(path); err == nil {
		t.Errorf("a bad parameter created the guard file")
	}
}
