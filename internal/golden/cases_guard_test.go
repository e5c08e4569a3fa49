package golden

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func qg(args m) step  { return step{prog: "qos_guard", args: args} }
func qgc(args m) step { return step{prog: "qos_guard", args: args, check: true} }
func qgd(args m) step { return step{prog: "qos_guard", args: args, diff: true} }

func gp(extra m) m { return with(m{"path": "$DIR/state/guard"}, extra) }

// guardCases cover qos_guard.
func guardCases() []gcase {
	lock := gp(m{"state": "locked", "minutes": 30, "owner": "ci", "reason": "rollback 41"})
	cases := []gcase{
		one("qos_guard/status_unlocked", qg(gp(nil)), qgc(gp(m{"state": "status"}))),
		one("qos_guard/lock_flow", qgc(lock), qgd(lock), qg(lock), qg(gp(m{"state": "status"})),
			qg(gp(m{"state": "status", "fail_if_locked": true})),
			qg(gp(m{"state": "locked", "minutes": 10, "reason": "shorter"})),
			qg(gp(m{"state": "locked", "minutes": 60, "reason": "longer", "extend": true})),
			qg(gp(m{"state": "locked", "minutes": 5, "reason": "forced", "force": true})),
			qgc(gp(m{"state": "unlocked"})),
			qgd(gp(m{"state": "unlocked", "lock_id": "0000000000000000"})),
			qgd(gp(m{"state": "unlocked", "reason": "done"})),
			qg(gp(m{"state": "unlocked"}))),
		one("qos_guard/aliases", qg(m{"lock_file": "$DIR/state/g2", "state": "locked", "window_minutes": "15"}),
			qg(m{"lock_file": "$DIR/state/g2", "state": "unlocked", "force": "yes"})),
		one("qos_guard/default_owner", qg(gp(m{"state": "locked"}))),
		one("qos_guard/textfile", setupDir("metrics"), qg(gp(m{"state": "locked", "minutes": 15, "textfile_dir": "$DIR/metrics"})),
			qg(gp(m{"state": "status", "textfile_dir": "$DIR/metrics"})), qgc(gp(m{"state": "unlocked", "textfile_dir": "$DIR/metrics"}))),
		one("qos_guard/textfile_missing_dir", qg(gp(m{"state": "locked", "textfile_dir": "$DIR/nope"}))),
		one("qos_guard/corrupt", writeFile("state/guard", "{not json", 0o600), qg(gp(nil)), qg(gp(m{"state": "locked"})),
			qg(gp(m{"state": "unlocked"})), qgd(gp(m{"state": "locked", "force": true, "reason": "replace"}))),
		one("qos_guard/corrupt_unlock_force", writeFile("state/guard", "[]", 0o600), qgd(gp(m{"state": "unlocked", "force": true}))),
		one("qos_guard/expired", writeGuard("state/guard", -2*time.Hour, -time.Hour), qg(gp(nil)), qg(gp(nil))),
		one("qos_guard/expired_check", writeGuard("state/guard", -2*time.Hour, -time.Hour), qgc(gp(nil))),
		one("qos_guard/legacy_document", writeFile("state/guard", `{"id":"abcdefabcdefabcd","locked_at":"2020-01-01T00:00:00Z",`+
			`"expires_at":"2999-01-01T00:00:00Z","owner":"old","reason":"r","window_minutes":15}`, 0o600), qg(gp(nil))),
		one("qos_guard/unsafe_dir", setupMode("shared", 0o777), qg(m{"path": "$DIR/shared/guard", "state": "locked"})),
		one("qos_guard/store_errors", qg(gp(m{"store": "etcd"})), qg(gp(m{"etcd_endpoints": l{"h:1"}})),
			qg(gp(m{"store": "etcd", "etcd_endpoints": "h:1", "etcd_timeout": "2h"}))),
		one("qos_guard/store_unreachable", qg(gp(m{"store": "etcd", "etcd_endpoints": "127.0.0.1:9", "etcd_timeout": "0.2", "state": "status"}))),
		one("qos_guard/limits", qg(gp(m{"state": "locked", "reason": strings.Repeat("x", 4097)})),
			qg(gp(m{"state": "locked", "owner": strings.Repeat("x", 1025)})),
			qg(gp(m{"state": "unlocked", "lock_id": strings.Repeat("x", 129)}))),
	}
	bad := map[string][]any{
		"path": {l{}}, "state": {"open", 1}, "minutes": {0, 10081, "x", 1.5}, "owner": {l{}}, "reason": {m{}},
		"lock_id": {l{}}, "extend": {"x"}, "force": {"x"}, "fail_if_locked": {"x"}, "textfile_dir": {l{}}, "store": {"x"},
		"nope": {1},
	}
	for _, name := range sortedKeys(bad) {
		var steps []step
		for _, v := range bad[name] {
			steps = append(steps, qg(gp(m{name: v})))
		}
		cases = append(cases, gcase{name: "qos_guard/params/" + name, steps: steps})
	}
	return cases
}

// writeFile writes content to the file rel of the case's directory, creating its directory 0700.
func writeFile(rel, content string, perm os.FileMode) step {
	return step{setup: func(t *testing.T, dir string) {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), perm); err != nil {
			t.Fatal(err)
		}
	}}
}

// writeGuard writes a guard locked lockedAgo from now (negative: in the past) until expiresIn.
func writeGuard(rel string, locked, expires time.Duration) step {
	return step{setup: func(t *testing.T, dir string) {
		now := time.Now().UTC().Truncate(time.Second)
		doc := fmt.Sprintf(`{"id":"0123456789abcdef","locked_at":%q,"expires_at":%q,"owner":"ci","reason":"rollback","window_minutes":%d,"window_start":%q}`,
			now.Add(locked).Format(time.RFC3339), now.Add(expires).Format(time.RFC3339), int((expires-locked)/time.Minute),
			now.Add(locked).Format(time.RFC3339))
		writeFile(rel, doc, 0o600).setup(t, dir)
	}}
}

func qr(args m) step  { return step{prog: "qos_guard_release", args: args} }
func qrc(args m) step { return step{prog: "qos_guard_release", args: args, check: true} }
func qrd(args m) step { return step{prog: "qos_guard_release", args: args, diff: true} }

// rel are the arguments of a release against the stand-ins in mode (stable, unstable, ...).
func rel(mode string, extra m) m {
	return with(m{"path": "$DIR/state/guard", "prom_url": "$URL/prom/" + mode, "loki_url": "$URL/loki/" + mode}, extra)
}

// releaseCases cover qos_guard_release.
func releaseCases() []gcase {
	past := writeGuard("state/guard", -2*time.Hour, time.Hour)
	cases := []gcase{
		one("qos_guard_release/not_locked", qr(rel("stable", nil))),
		one("qos_guard_release/stable_release", past, qrc(rel("stable", nil)), qrd(rel("stable", nil)), qg(gp(nil))),
		one("qos_guard_release/unstable", past, qr(rel("unstable", nil)), qr(rel("unstable", m{"report_only": true}))),
		one("qos_guard_release/nodata", past, qr(rel("nodata", nil))),
		one("qos_guard_release/server_error", past, qr(rel("error", m{"query_timeout": "5s"}))),
		one("qos_guard_release/bad_query", past, qr(rel("badquery", nil))),
		one("qos_guard_release/not_yet_evaluable", qg(gp(m{"state": "locked", "minutes": 60})), qr(rel("stable", nil)),
			qr(rel("stable", m{"wait": true, "wait_timeout": "1s", "poll_interval": "1s"}))),
		one("qos_guard_release/expires_first", qg(gp(m{"state": "locked", "minutes": 5})), qr(rel("stable", nil))),
		one("qos_guard_release/wait_stable", past, qr(rel("stable", m{"wait": true}))),
		one("qos_guard_release/disable_and_checks", past, qr(rel("stable", m{"disable": l{"error_log_rate", "health_ratio"},
			"checks": l{m{"name": "custom", "query": "sum(up)", "comparison": ">=", "threshold": "0.001", "no_data": "fail"},
				m{"name": "logs", "source": "loki", "query": "sum(count_over_time({job=\"x\"}[5m]))", "comparison": "<", "threshold": 1000}}}))),
		one("qos_guard_release/checks_bad", qr(rel("stable", m{"checks": l{m{"name": "a"}, "x",
			m{"name": "b", "query": "q", "comparison": "~", "threshold": "high", "source": "graphite", "no_data": "maybe", "extra": 1},
			m{"name": "http_5xx_ratio", "query": "q", "comparison": "<", "threshold": 1}, m{"name": 3, "query": l{}, "threshold": true}}}))),
		one("qos_guard_release/disable_all", qr(rel("stable", m{"disable": l{"http_5xx_ratio", "health_ratio", "error_log_rate"}}))),
		one("qos_guard_release/config_errors", qr(rel("stable", m{"prom_url": "ftp://x", "loki_url": "http://u:p@h:1",
			"loki_username": "u", "window": "15 minutes", "job": ""})),
			qr(rel("stable", m{"prom_bearer_token": "tok-abcdefghij", "prom_username": "u", "prom_password": "pw-abcdefghij",
				"prom_headers": m{"Authorization": "x", "bad name": "y"}, "loki_password": "pw-abcdefghij",
				"loki_client_cert": "/c.pem", "loki_tenant": "t\n", "prom_ca_file": "$DIR/none.pem"})),
			qr(rel("stable", m{"window": "2w"})), qr(rel("stable", m{"window": "0s"})),
			qr(rel("stable", m{"query_timeout": "0", "poll_interval": "0.5s", "wait_timeout": "2d"})),
			qr(rel("stable", m{"query_timeout": "soon", "path": ""})),
			qr(rel("stable", m{"max_5xx_ratio": 2, "min_health_ratio": -1, "max_error_logs_per_min": 1e7}))),
		one("qos_guard_release/auth", past, qr(rel("stable", m{"prom_bearer_token": "tok-abcdefghij", "loki_username": "u",
			"loki_password": "pw-abcdefghij", "loki_tenant": "tenant-1", "prom_headers": m{"X-Extra": "v-abcdefghij"},
			"prom_validate_certs": false, "loki_validate_certs": "no"}))),
		one("qos_guard_release/textfile", past, setupDir("metrics"), qr(rel("stable", m{"textfile_dir": "$DIR/metrics"}))),
		one("qos_guard_release/unreachable", past, qr(m{"path": "$DIR/state/guard", "prom_url": "http://127.0.0.1:9", "loki_url": "http://127.0.0.1:9"})),
		one("qos_guard_release/corrupt_guard", writeFile("state/guard", "{", 0o600), qr(rel("stable", nil))),
		one("qos_guard_release/lock_file_alias", past, qr(with(rel("stable", nil), m{"path": nil, "lock_file": "$DIR/state/guard"}))),
		one("qos_guard_release/store_errors", qr(rel("stable", m{"store": "etcd"})), qr(rel("stable", m{"etcd_key_file": "/k.pem"}))),
	}
	bad := map[string][]any{
		"prom_url": {l{}}, "max_5xx_ratio": {1.5, "x"}, "min_health_ratio": {-0.1}, "max_error_logs_per_min": {-1, 1000001},
		"window": {l{}}, "disable": {l{"all"}}, "checks": {m{}}, "query_timeout": {l{}}, "prom_headers": {"x"},
		"prom_validate_certs": {"x"}, "report_only": {"x"}, "wait": {"x"}, "poll_interval": {"0"}, "wait_timeout": {"x"},
		"textfile_dir": {l{}}, "nope": {1}, "prom_pasword": {"secret-typo-pw"},
	}
	for _, name := range sortedKeys(bad) {
		var steps []step
		for _, v := range bad[name] {
			steps = append(steps, qr(rel("stable", m{name: v})))
		}
		cases = append(cases, gcase{name: "qos_guard_release/params/" + name, steps: steps})
	}
	return cases
}

// cl is a command line: prog with args (none: the program alone) and env.
func cl(prog string, env map[string]string, args ...string) step {
	return step{prog: prog, cli: append([]string{}, args...), env: env}
}

// cliCases cover the command-line tools.
func cliCases() []gcase {
	flakyCmd := flaky("f", 3, "Connection timeout to vCenter")
	genv := map[string]string{"QOS_GUARD_FILE": "$DIR/state/guard"}
	renv := map[string]string{"QOS_GUARD_FILE": "$DIR/state/guard", "PROMETHEUS_URL": "$URL/prom/stable", "LOKI_URL": "$URL/loki/stable"}
	return []gcase{
		one("cli/retry_backoff/success", cl("retry_backoff", nil, "3", "0", "--", "sh", "-c", flakyCmd)),
		one("cli/retry_backoff/exhausted", cl("retry_backoff", nil, "2", "0", "--", "sh", "-c", "echo no >&2; exit 3")),
		one("cli/retry_backoff/env", cl("retry_backoff", map[string]string{"MAX_RETRY_ATTEMPTS": "2", "BASE_RETRY_DELAY": "0"}, "--", "false")),
		one("cli/retry_backoff/flags", cl("retry_backoff", nil, "-max-delay", "0", "-multiplier", "3", "-jitter", "full", "-timeout", "5",
			"-max-total-time", "60", "-retry-exit-codes", "3,4", "3", "0", "--", "sh", "-c", "exit 4")),
		one("cli/retry_backoff/exit_codes_other", cl("retry_backoff", nil, "--retry-exit-codes", "3", "3", "0", "--", "sh", "-c", "exit 5")),
		one("cli/retry_backoff/classify", cl("retry_backoff", nil, "-classify", "3", "0", "--", "sh", "-c", "echo 'permission denied' >&2; exit 1")),
		one("cli/retry_backoff/timeout", cl("retry_backoff", nil, "-timeout", "0.05", "2", "0", "--", "sleep", "30")),
		one("cli/retry_backoff/usage", cl("retry_backoff", nil), cl("retry_backoff", nil, "-h"), cl("retry_backoff", nil, "--", ""),
			cl("retry_backoff", nil, "1", "2", "3", "--", "true"), cl("retry_backoff", nil, "0", "--", "true"),
			cl("retry_backoff", nil, "11", "--", "true"), cl("retry_backoff", nil, "3", "-1", "--", "true"),
			cl("retry_backoff", nil, "3", "86401", "--", "true"), cl("retry_backoff", nil, "-timeout", "0.0001", "--", "true"),
			cl("retry_backoff", nil, "-multiplier", "0.5", "--", "true"), cl("retry_backoff", nil, "-retry-exit-codes", "0", "--", "true"),
			cl("retry_backoff", nil, "-bogus", "--", "true"), cl("retry_backoff", nil, "-max-delay", "1e300", "--", "true"),
			cl("retry_backoff", map[string]string{"MAX_RETRY_ATTEMPTS": "x"}, "--", "true"),
			cl("retry_backoff", nil, "-jitter", "sometimes", "--", "true"), cl("retry_backoff", nil, "--help")),
		one("cli/retry_manager/as_backoff", cl("retry_manager", nil, "2", "0", "--", "true"), cl("retry_manager", nil)),
		one("cli/qos_guard/flow", cl("qos_guard", genv, "status"), cl("qos_guard", genv, "lock", "20", "--reason", "r", "--owner", "o"),
			cl("qos_guard", genv, "--json", "status"), cl("qos_guard", genv, "lock", "5"), cl("qos_guard", genv, "unlock", "--id", "x"),
			cl("qos_guard", genv, "--force", "unlock"), cl("qos_guard", genv, "unlock"),
			cl("qos_guard", map[string]string{"QOS_GUARD_FILE": "$DIR/state/guard", "QOS_GUARD_WINDOW": "7"}, "lock"), cl("qos_guard", genv, "status")),
		one("cli/qos_guard/usage", cl("qos_guard", genv), cl("qos_guard", genv, "-h"), cl("qos_guard", genv, "jump"),
			cl("qos_guard", genv, "lock", "0"), cl("qos_guard", genv, "lock", "1", "2"), cl("qos_guard", genv, "status", "x"),
			cl("qos_guard", genv, "unlock", "x"), cl("qos_guard", genv, "--store", "etcd", "status"),
			cl("qos_guard", map[string]string{"QOS_GUARD_FILE": "$DIR/g", "QOS_GUARD_ETCD_TIMEOUT": "x", "QOS_GUARD_STORE": "etcd",
				"QOS_GUARD_ETCD_ENDPOINTS": "h:1"}, "status"),
			cl("qos_guard", genv, "--reason", strings.Repeat("x", 4097), "lock"), cl("qos_guard", genv, "--bogus", "status")),
		one("cli/qos_guard/corrupt", writeFile("state/guard", "{", 0o600), cl("qos_guard", genv, "status"), cl("qos_guard", genv, "lock")),
		one("cli/qos_guard_release/flow", cl("qos_guard_release", renv), writeGuard("state/guard", -2*time.Hour, time.Hour),
			cl("qos_guard_release", renv, "--json"), writeGuard("state/guard", -2*time.Hour, time.Hour),
			cl("qos_guard_release", renv, "--prom-url", "$URL/prom/unstable"),
			cl("qos_guard_release", renv, "--prom-url", "$URL/prom/unstable", "--report-only"),
			cl("qos_guard_release", renv, "--prom-url", "$URL/prom/nodata", "--loki-url", "$URL/loki/nodata"),
			cl("qos_guard_release", renv)),
		one("cli/qos_guard_release/usage", cl("qos_guard_release", renv, "-h"), cl("qos_guard_release", renv, "extra"),
			cl("qos_guard_release", renv, "--window", "x", "--poll-interval", "0"),
			cl("qos_guard_release", map[string]string{"QOS_GUARD_FILE": "$DIR/g", "MAX_5XX_RATIO": "2", "STABILITY_WINDOW": "3w",
				"PROMETHEUS_BEARER_TOKEN": "tok-abcdefghij", "PROMETHEUS_URL": "http://u:p@h:1"}),
			cl("qos_guard_release", renv, "--store", "etcd"), cl("qos_guard_release", renv, "--bogus"),
			cl("qos_guard_release", map[string]string{"QOS_GUARD_FILE": "$DIR/g", "QOS_GUARD_ETCD_TIMEOUT": "9h", "QOS_GUARD_STORE": "etcd",
				"QOS_GUARD_ETCD_ENDPOINTS": "h:1", "PROMETHEUS_URL": "$URL/prom/stable", "LOKI_URL": "$URL/loki/stable"})),
		one("cli/qos_guard_release/not_yet", cl("qos_guard", genv, "lock", "30"), cl("qos_guard_release", renv),
			cl("qos_guard_release", renv, "--wait", "--wait-timeout", "1s")),
	}
}
