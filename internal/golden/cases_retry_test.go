package golden

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// m is a map literal.
type m = map[string]any

// l is a list literal.
type l = []any

func rm(args m) step  { return step{prog: "retry_manager", args: args} }
func rmc(args m) step { return step{prog: "retry_manager", args: args, check: true} }

// with returns a copy of base with the keys of extra.
func with(base m, extra m) m {
	out := m{}
	for k, v := range base {
		out[k] = v
	}
	for k, v := range extra {
		out[k] = v
	}
	return out
}

// flaky is a shell command that fails with msg (on stderr, exit 1) until its n-th run.
func flaky(name string, n int, msg string) string {
	counter := "$DIR/" + name + ".count"
	return fmt.Sprintf(`c=$(cat %[1]s 2>/dev/null || echo 0); c=$((c+1)); echo $c > %[1]s; `+
		`if [ $c -ge %[2]d ]; then echo "done at $c"; else echo '%[3]s' >&2; exit 1; fi`, counter, n, msg)
}

func one(name string, steps ...step) gcase { return gcase{name: name, steps: steps} }

// retryRunCases cover action run with commands: policies, classification, output, check mode.
func retryRunCases() []gcase {
	base := m{"operation": "vmware_vm_create", "base_delay": 0, "jitter_enabled": false}
	cases := []gcase{
		one("retry_manager/run/true", rm(m{"operation": "op", "argv": l{"true"}})),
		one("retry_manager/run/true_check", rmc(m{"operation": "op", "argv": l{"true"}})),
		one("retry_manager/run/context_alias", rm(m{"retry_current_operation": "op", "argv": l{"true"},
			"retry_component_context": m{"vm_name": "web01", "call_stack_session_id": "cs1"}, "session_id": "retry_1700000000_000001"})),
		one("retry_manager/run/flaky_cmd", rm(with(base, m{"cmd": flaky("f", 3, "Connection timeout to vCenter"), "use_shell": true,
			"context": m{"vm_name": "web01"}}))),
		one("retry_manager/run/flaky_exhausted", rm(with(base, m{"cmd": flaky("f", 9, "Connection refused"), "use_shell": true, "max_attempts": 4}))),
		one("retry_manager/run/auth_fails_at_once", rm(m{"operation": "vmware_login",
			"cmd": `sh -c 'echo "Authentication failed: invalid credentials" >&2; exit 1'`})),
		one("retry_manager/run/unknown_not_retried", rm(with(base, m{"argv": l{"sh", "-c", "echo weird >&2; exit 7"}, "retry_unknown": false}))),
		one("retry_manager/run/unknown_retried", rm(with(base, m{"argv": l{"sh", "-c", "echo weird >&2; exit 7"}, "max_attempts": 2}))),
		one("retry_manager/run/conditions", rm(with(base, m{"cmd": flaky("f", 3, "Connection timeout"), "use_shell": true,
			"retry_conditions": l{"timeout"}}))),
		one("retry_manager/run/conditions_string", rm(with(base, m{"cmd": flaky("f", 3, "Connection timeout"), "use_shell": true,
			"retry_conditions": "timeout, connection_error"}))),
		one("retry_manager/run/error_rules", rm(with(base, m{"argv": l{"sh", "-c", "echo 'QUOTA hit' >&2; exit 42"},
			"error_rules": l{m{"error_type": "quota_exceeded", "pattern": "quota", "field": "stderr"},
				m{"error_type": "timeout", "exit_code": 42}}}))),
		one("retry_manager/run/error_rules_exit_code", rm(with(base, m{"argv": l{"sh", "-c", "exit 42"}, "max_attempts": 2,
			"error_rules": l{m{"error_type": "temporary_failure", "exit_code": "42", "field": "any"}}}))),
		one("retry_manager/run/debug_mode", rm(with(base, m{"cmd": flaky("f", 2, "Connection reset by peer"), "use_shell": true, "debug_mode": true}))),
		one("retry_manager/run/linear", rmc(with(base, m{"argv": l{"true"}, "retry_policy": "linear_backoff", "base_delay": 10, "max_attempts": 5}))),
		one("retry_manager/run/fixed", rmc(with(base, m{"argv": l{"true"}, "retry_policy": "fixed_delay", "base_delay": 3, "max_attempts": 4}))),
		one("retry_manager/run/exponential_capped", rmc(m{"operation": "op", "argv": l{"true"}, "base_delay": 10,
			"backoff_multiplier": 3, "max_delay": 50, "max_attempts": 6, "jitter_enabled": false, "attempt_timeout": 60})),
		one("retry_manager/run/schedule_vmware", rmc(m{"operation": "vmware_vm_create", "cmd": "true", "max_attempts": 5,
			"base_delay": 10, "backoff_multiplier": 1.5, "jitter_enabled": false, "attempt_timeout": 60})),
		one("retry_manager/run/schedule_unbounded", rmc(m{"operation": "op", "argv": l{"true"}})),
		one("retry_manager/run/schedule_total", rmc(m{"operation": "op", "argv": l{"true"}, "max_total_time": 20, "max_attempts": 10})),
		one("retry_manager/run/jitter_modes_check", rmc(m{"operation": "op", "argv": l{"true"}, "jitter_mode": "full"}),
			rmc(m{"operation": "op", "argv": l{"true"}, "jitter_mode": "equal"}),
			rmc(m{"operation": "op", "argv": l{"true"}, "jitter_mode": "decorrelated"}),
			rmc(m{"operation": "op", "argv": l{"true"}, "jitter_mode": "none"}),
			rmc(m{"operation": "op", "argv": l{"true"}, "jitter_enabled": "no", "jitter_mode": "full"})),
		one("retry_manager/run/jitter_zero_base", rm(m{"operation": "op", "cmd": flaky("f", 2, "Connection refused"), "use_shell": true,
			"base_delay": 0, "jitter_mode": "full"})),
		one("retry_manager/run/strings_coerced", rm(m{"operation": "op", "argv": l{"true"}, "max_attempts": "5", "base_delay": "0",
			"jitter_enabled": "yes", "debug_mode": "off", "track_session": "0"})),
		one("retry_manager/run/output", rm(m{"operation": "out", "cmd": `printf 'line1\nline2\n'; echo err >&2`, "use_shell": true})),
		one("retry_manager/run/stdin_env_chdir", setupDir("work"), rm(m{"operation": "env",
			"argv": l{"sh", "-c", `echo "$GREETING $(pwd) $(cat)"`}, "environment": m{"GREETING": "hello", "N": 5},
			"stdin": "from stdin", "chdir": "$DIR/work"})),
		one("retry_manager/run/missing_chdir", rm(m{"operation": "op", "argv": l{"true"}, "chdir": "$DIR/nope", "base_delay": 0})),
		one("retry_manager/run/missing_program", rm(m{"operation": "op", "argv": l{"/nonexistent/program"}, "base_delay": 0})),
		one("retry_manager/run/max_output", rm(m{"operation": "op", "cmd": "yes 0123456789 | head -c 5000; yes e | head -c 3000 >&2",
			"use_shell": true, "max_output": 1024})),
		one("retry_manager/run/cmd_split", rm(m{"operation": "op", "cmd": `printf '%s|' "a b" 'c d' e\ f "$HOME"`})),
		one("retry_manager/run/cmd_unterminated", rm(m{"operation": "op", "cmd": `echo "a`})),
		one("retry_manager/run/attempt_timeout", rm(m{"operation": "slow", "argv": l{"sleep", "30"}, "attempt_timeout": 0.05,
			"max_attempts": 2, "base_delay": 0})),
		one("retry_manager/run/max_total_time", rm(m{"operation": "slow", "argv": l{"sleep", "30"}, "max_total_time": 0.05,
			"base_delay": 0})),
		one("retry_manager/run/deadline_before_wait", rm(m{"operation": "op", "argv": l{"false"}, "max_total_time": 5,
			"base_delay": 10, "jitter_enabled": false})),
		one("retry_manager/run/no_publish", rm(m{"operation": "op", "argv": l{"true"}, "publish_artifacts": false})),
		one("retry_manager/run/failed_artifacts", rm(m{"operation": "op", "argv": l{"false"}, "max_attempts": 1})),
		one("retry_manager/run/idempotency_cmd", rm(with(base, m{"argv": l{"sh", "-c", "echo timed out >&2; exit 1"},
			"idempotency_check": m{"cmd": "test -d $DIR", "timeout": 5}}))),
		one("retry_manager/run/idempotency_argv_fails", rm(with(base, m{"argv": l{"sh", "-c", "echo timed out >&2; exit 1"}, "max_attempts": 3,
			"idempotency_check": m{"argv": l{"false"}, "use_shell": false, "chdir": "$DIR"}}))),
		one("retry_manager/run/idempotency_shell", rm(with(base, m{"argv": l{"sh", "-c", "echo timed out >&2; exit 1"},
			"idempotency_check": m{"cmd": "test -n \"$HOME\"", "use_shell": true}}))),
		one("retry_manager/run/idempotency_bad", rm(with(base, m{"argv": l{"true"}, "idempotency_check": m{"timeout": 5}}))),
		one("retry_manager/run/idempotency_unknown_key", rm(with(base, m{"argv": l{"true"}, "idempotency_check": m{"argv": l{"true"}, "retries": 2}}))),
		one("retry_manager/run/idempotency_both", rm(with(base, m{"argv": l{"true"}, "idempotency_check": m{"argv": l{"true"}, "cmd": "true"}}))),
		one("retry_manager/run/operation_configs", rm(m{"operation": "network_configuration", "argv": l{"false"}, "max_attempts": 5,
			"base_delay": 0, "operation_configs": m{"network_configuration": m{"max_attempts": 2}, "other": m{"max_attempts": 9}}})),
		one("retry_manager/run/operation_configs_bad", rm(m{"operation": "op", "argv": l{"true"},
			"operation_configs": m{"op": m{"max_attempts": 0}}})),
		one("retry_manager/run/operation_configs_other_bad", rm(m{"operation": "op", "argv": l{"true"},
			"operation_configs": m{"zzz": m{"max_atempts": 2}}})),
		one("retry_manager/run/operation_configs_not_dict", rm(m{"operation": "op", "argv": l{"true"},
			"operation_configs": m{"op": 3}})),
		one("retry_manager/run/settings", rm(m{"operation": "op", "argv": l{"false"}, "max_attempts": 5, "base_delay": 0,
			"settings": m{"max_attempts": 2, "debug_mode": true, "external_integration": true, "integration": m{"x": 1},
				"store": "", "etcd_endpoints": l{}, "state_dir": "$DIR/state"}})),
		one("retry_manager/run/settings_and_configs", rm(m{"operation": "op", "argv": l{"false"}, "base_delay": 0,
			"settings": m{"max_attempts": 4, "operation_configs": m{"op": m{"max_attempts": 2}}}})),
		one("retry_manager/run/settings_bad", rm(m{"operation": "op", "argv": l{"true"}, "settings": m{"max_attempts": "many"}})),
		one("retry_manager/run/settings_unknown", rm(m{"operation": "op", "argv": l{"true"}, "settings": m{"max_attemps": 3}})),
		one("retry_manager/run/policy_invalid", rm(m{"operation": "op", "argv": l{"true"}, "base_delay": 60, "max_delay": 30})),
		one("retry_manager/run/no_operation", rm(m{"argv": l{"true"}})),
		one("retry_manager/run/no_command", rm(m{"operation": "op"})),
		one("retry_manager/run/argv_and_url", rm(m{"operation": "op", "argv": l{"true"}, "url": "$URL/ok"})),
		one("retry_manager/run/argv_and_cmd", rm(m{"operation": "op", "argv": l{"true"}, "cmd": "true"})),
		one("retry_manager/run/empty_argv", rm(m{"operation": "op", "argv": l{}})),
		one("retry_manager/run/track_session", rm(m{"operation": "op", "argv": l{"true"}, "track_session": true,
			"session_id": "retry_1700000000_000002", "state_dir": "$DIR/state", "host": "web01", "log_individual_attempts": true})),
		one("retry_manager/run/track_session_failed", rm(m{"operation": "op", "argv": l{"false"}, "track_session": true, "max_attempts": 2,
			"base_delay": 0, "session_id": "retry_1700000000_000003", "state_dir": "$DIR/state", "log_individual_attempts": true})),
		one("retry_manager/run/track_session_new_id", rm(m{"operation": "op", "argv": l{"true"}, "track_session": true, "state_dir": "$DIR/state"})),
		one("retry_manager/run/track_session_bad_id", rm(m{"operation": "op", "argv": l{"true"}, "track_session": true,
			"session_id": "../etc", "state_dir": "$DIR/state"})),
		one("retry_manager/run/track_session_unsafe_dir", setupMode("shared", 0o777), rm(m{"operation": "op", "argv": l{"true"},
			"track_session": true, "session_id": "retry_1700000000_000004", "state_dir": "$DIR/shared/state"})),
		one("retry_manager/run/session_id_not_tracked", rm(m{"operation": "op", "argv": l{"true"}, "session_id": "retry_1700000000_000005"})),
	}
	return cases
}

// setupDir makes the directory name in the case's directory.
func setupDir(name string) step {
	return step{setup: func(t *testing.T, dir string) {
		if err := os.MkdirAll(filepath.Join(dir, name), 0o755); err != nil {
			t.Fatal(err)
		}
	}}
}

// setupMode makes the directory name with mode perm (not masked by the umask).
func setupMode(name string, perm os.FileMode) step {
	return step{setup: func(t *testing.T, dir string) {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(p, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, perm); err != nil {
			t.Fatal(err)
		}
	}}
}

// retryHTTPCases cover action run with HTTP requests.
func retryHTTPCases() []gcase {
	get := func(extra m) m {
		return with(m{"operation": "api", "url": "$URL/ok", "base_delay": 0, "jitter_enabled": false}, extra)
	}
	return []gcase{
		one("retry_manager/http/get", rm(get(nil))),
		one("retry_manager/http/get_check", rmc(get(nil))),
		one("retry_manager/http/head", rm(get(m{"method": "HEAD"}))),
		one("retry_manager/http/post_json", rm(get(m{"url": "$URL/echo", "method": "POST", "body": m{"name": "web01", "n": 2},
			"body_format": "json", "headers": m{"X-Test": "yes"}}))),
		one("retry_manager/http/post_json_type_given", rm(get(m{"url": "$URL/echo", "method": "PUT", "body": l{1, 2},
			"body_format": "json", "headers": m{"Content-Type": "application/vnd.x+json"}}))),
		one("retry_manager/http/post_raw", rm(get(m{"url": "$URL/echo", "method": "PATCH", "body": "raw text"}))),
		one("retry_manager/http/raw_dict_refused", rm(get(m{"url": "$URL/echo", "method": "POST", "body": m{"a": 1}}))),
		one("retry_manager/http/delete_options", rm(get(m{"url": "$URL/echo", "method": "DELETE"})), rm(get(m{"url": "$URL/echo", "method": "OPTIONS"}))),
		one("retry_manager/http/status_404", rm(get(m{"url": "$URL/status/404"}))),
		one("retry_manager/http/status_401", rm(get(m{"url": "$URL/status/401"}))),
		one("retry_manager/http/status_accepted", rm(get(m{"url": "$URL/status/404", "status_code": l{200, "404"}}))),
		one("retry_manager/http/status_code_string", rm(get(m{"url": "$URL/status/201", "status_code": "201,202"}))),
		one("retry_manager/http/flaky_503", rm(get(m{"url": "$URL/flaky/3/flaky503"}))),
		one("retry_manager/http/exhausted_500", rm(get(m{"url": "$URL/status/500", "max_attempts": 2}))),
		one("retry_manager/http/retry_after", rm(get(m{"url": "$URL/retry-after/0", "max_attempts": 2}))),
		one("retry_manager/http/retry_after_check", rm(get(m{"url": "$URL/retry-after/0", "max_attempts": 2, "max_delay": 0}))),
		one("retry_manager/http/basic_auth", rm(get(m{"url": "$URL/echo", "url_username": "admin", "url_password": "s3cr3t-pass-word"}))),
		one("retry_manager/http/bearer", rm(get(m{"url": "$URL/echo", "bearer_token": "tok-1234567890-abcdef"}))),
		one("retry_manager/http/url_credentials", rm(get(m{"url": "http://user:hunter2hunter2@$HOSTPORT/echo"}))),
		one("retry_manager/http/secret_header_echo", rm(get(m{"url": "$URL/echo", "headers": m{"X-Api-Key": "key-abcdefghij123"}}))),
		one("retry_manager/http/refused", rm(get(m{"url": "http://127.0.0.1:9/x", "max_attempts": 2}))),
		one("retry_manager/http/bad_url", rm(get(m{"url": "ftp://example.com/x"}))),
		one("retry_manager/http/bad_url_2", rm(get(m{"url": "not a url"}))),
		one("retry_manager/http/redirect", rm(get(m{"url": "$URL/redirect", "max_attempts": 1}))),
		one("retry_manager/http/no_validate", rm(get(m{"validate_certs": false}))),
		one("retry_manager/http/ca_path_missing", rm(get(m{"ca_path": "$DIR/missing.pem"}))),
		one("retry_manager/http/idempotency_url", rm(get(m{"url": "$URL/status/504", "idempotency_check": m{"url": "$URL/ok", "method": "HEAD"}}))),
		one("retry_manager/http/idempotency_url_status", rm(get(m{"url": "$URL/status/504", "max_attempts": 2,
			"idempotency_check": m{"url": "$URL/status/404", "status_code": l{200}}}))),
		one("retry_manager/http/idempotency_bad_url", rm(get(m{"idempotency_check": m{"url": "gopher://x"}}))),
		one("retry_manager/http/idempotency_bad_method", rm(get(m{"idempotency_check": m{"url": "$URL/ok", "method": "POST"}}))),
		one("retry_manager/http/attempt_timeout_default", rmc(get(nil))),
	}
}
