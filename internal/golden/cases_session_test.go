package golden

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// retryGuardrailCases cover the circuit breaker, bulkhead, retry budget and adaptive retry.
func retryGuardrailCases() []gcase {
	g := func(extra m) m {
		return with(m{"operation": "guarded", "state_dir": "$DIR/state", "base_delay": 0, "jitter_enabled": false}, extra)
	}
	breaker := m{"enabled": true, "failure_threshold": 2, "open_duration": 600}
	return []gcase{
		one("retry_manager/guardrails/all_enabled", rm(g(m{"argv": l{"true"}, "circuit_breaker": m{"enabled": true},
			"bulkhead": m{"enabled": true, "max_concurrent": 2}, "retry_budget": m{"enabled": true}}))),
		one("retry_manager/guardrails/breaker_opens", rm(g(m{"argv": l{"sh", "-c", "echo Connection refused >&2; exit 1"},
			"max_attempts": 3, "circuit_breaker": breaker})),
			rm(g(m{"argv": l{"true"}, "circuit_breaker": breaker})),
			rmc(g(m{"argv": l{"true"}, "circuit_breaker": breaker}))),
		one("retry_manager/guardrails/breaker_textfile", setupDir("metrics"), rm(g(m{"argv": l{"false"}, "max_attempts": 2,
			"circuit_breaker": m{"enabled": "true", "failure_threshold": "1"}, "textfile_dir": "$DIR/metrics"}))),
		one("retry_manager/guardrails/breaker_key", rm(g(m{"argv": l{"true"}, "circuit_key": "vcenter01.example.com",
			"circuit_breaker": m{"enabled": true}}))),
		one("retry_manager/guardrails/breaker_rate", rm(g(m{"argv": l{"false"}, "max_attempts": 4,
			"circuit_breaker": m{"enabled": true, "failure_rate_threshold": 0.5, "minimum_calls": 2, "window": 60, "half_open_max_calls": 2}}))),
		one("retry_manager/guardrails/bad_key", rm(g(m{"argv": l{"true"}, "circuit_key": "../x", "circuit_breaker": m{"enabled": true}}))),
		one("retry_manager/guardrails/budget_exhausted", rm(g(m{"argv": l{"false"}, "max_attempts": 5,
			"retry_budget": m{"enabled": true, "ratio": 0, "min_retries": 1, "window": 60}}))),
		one("retry_manager/guardrails/budget_check", rmc(g(m{"argv": l{"true"}, "retry_budget": m{"enabled": true}}))),
		one("retry_manager/guardrails/bulkhead_wait0", rm(g(m{"argv": l{"true"}, "bulkhead": m{"enabled": true, "max_concurrent": 1, "max_wait": 0}}))),
		one("retry_manager/guardrails/adaptive", rm(g(m{"argv": l{"false"}, "max_attempts": 5, "adaptive": m{"enabled": true, "minimum_calls": 1,
			"window": 600, "target_success_rate": 0.9, "max_delay_factor": 2, "min_attempts": 2}})),
			rm(g(m{"argv": l{"false"}, "max_attempts": 5, "adaptive_retry": m{"enabled": true, "minimum_calls": 1}}))),
		one("retry_manager/guardrails/adaptive_bad", rm(g(m{"argv": l{"true"}, "adaptive": m{"enabled": true, "window": 0}}))),
		one("retry_manager/guardrails/adaptive_alias_bad", rm(g(m{"argv": l{"true"}, "adaptive_retry": m{"target_success_rate": 2}}))),
		one("retry_manager/guardrails/bad_values", rm(g(m{"argv": l{"true"}, "circuit_breaker": m{"enabled": true, "failure_threshold": 0}})),
			rm(g(m{"argv": l{"true"}, "circuit_breaker": m{"enabled": true, "open_duration": "many"}})),
			rm(g(m{"argv": l{"true"}, "circuit_breaker": m{"enabled": true, "half_open": 2}})),
			rm(g(m{"argv": l{"true"}, "circuit_breaker": m{"window": 1e10}})),
			rm(g(m{"argv": l{"true"}, "bulkhead": m{"max_concurrent": 1000, "max_wait": -1}})),
			rm(g(m{"argv": l{"true"}, "retry_budget": m{"ratio": 2, "min_retries": -1}})),
			rm(g(m{"argv": l{"true"}, "circuit_breaker": "yes"}))),
		one("retry_manager/guardrails/layers", rm(g(m{"argv": l{"true"}, "circuit_breaker": m{"enabled": true, "failure_threshold": 3},
			"settings":          m{"circuit_breaker": m{"failure_threshold": 4, "open_duration": 10}, "circuit_key": "fromsettings"},
			"operation_configs": m{"guarded": m{"circuit_breaker": m{"failure_threshold": 0}}}}))),
		one("retry_manager/guardrails/layers_ok", rm(g(m{"argv": l{"true"}, "circuit_breaker": m{"enabled": true, "failure_threshold": 3},
			"settings":          m{"circuit_breaker": m{"failure_threshold": 4}, "circuit_key": "fromsettings"},
			"operation_configs": m{"guarded": m{"circuit_breaker": m{"open_duration": 5}, "circuit_key": "fromconfig", "bulkhead": m{"enabled": true}}}}))),
		one("retry_manager/guardrails/store_etcd_no_endpoints", rm(g(m{"argv": l{"true"}, "store": "etcd"}))),
		one("retry_manager/guardrails/store_file_with_etcd", rm(g(m{"argv": l{"true"}, "etcd_username": "u"}))),
		one("retry_manager/guardrails/store_bad_timeout", rm(g(m{"argv": l{"true"}, "store": "etcd", "etcd_endpoints": l{"127.0.0.1:9"}, "etcd_timeout": "1ms"}))),
		one("retry_manager/guardrails/store_bad_endpoint", rm(g(m{"argv": l{"true"}, "store": "etcd", "etcd_endpoints": "http://u:p@h:1"}))),
		one("retry_manager/guardrails/store_password_alone", rm(g(m{"argv": l{"true"}, "store": "etcd", "etcd_endpoints": "h:1", "etcd_password": "pw-123456789"}))),
		one("retry_manager/guardrails/store_cert_alone", rm(g(m{"argv": l{"true"}, "store": "etcd", "etcd_endpoints": "h:1", "etcd_cert_file": "/x.pem"}))),
		one("retry_manager/guardrails/store_ca_missing", rm(g(m{"argv": l{"true"}, "store": "etcd", "etcd_endpoints": "h:1", "etcd_ca_file": "$DIR/ca.pem"}))),
		one("retry_manager/guardrails/store_timeout_text", rm(g(m{"argv": l{"true"}, "store": "etcd", "etcd_endpoints": "h:1", "etcd_timeout": "soon"}))),
		one("retry_manager/guardrails/store_unreachable", rm(g(m{"argv": l{"true"}, "store": "etcd", "etcd_endpoints": "127.0.0.1:9",
			"etcd_timeout": "0.2", "circuit_breaker": m{"enabled": true}}))),
		one("retry_manager/guardrails/store_settings_empty", rm(g(m{"argv": l{"true"}, "settings": m{"store": "", "etcd_timeout": ""}}))),
	}
}

// sid is the session of the session cases.
const sid = "retry_1700000000_000010"

func sess(action string, extra m) m {
	return with(m{"action": action, "session_id": sid, "state_dir": "$DIR/state"}, extra)
}

// retrySessionCases cover the session actions.
func retrySessionCases() []gcase {
	failed := func(msg string) m { return m{"failed": true, "msg": msg} }
	rec := func(extra m) m {
		return sess("record", with(m{"operation": "vm_create", "base_delay": 0, "jitter_enabled": false, "host": "web01"}, extra))
	}
	return []gcase{
		one("retry_manager/session/start", rm(sess("start", m{"context": m{"call_stack_session_id": "cs-1"}})),
			rm(sess("start", nil))),
		one("retry_manager/session/start_check", rmc(sess("start", nil))),
		one("retry_manager/session/start_new_id", rm(m{"action": "start", "state_dir": "$DIR/state"})),
		one("retry_manager/session/start_operation", rm(sess("start", m{"operation": "vm_create", "max_attempts": 4,
			"circuit_breaker": m{"enabled": true}, "operation_configs": m{"vm_create": m{"base_delay": 2}}}))),
		one("retry_manager/session/start_bad_id", rm(sess("start", m{"session_id": "retry_x"}))),
		one("retry_manager/session/start_bad_systems", rm(sess("start", m{"external_systems": l{m{"name": "x"}}}))),
		one("retry_manager/session/record_flow",
			rm(rec(m{"attempt": 1, "outcome": failed("Connection timeout to vCenter"), "attempt_start": 253402300799})),
			rm(rec(m{"attempt": 2, "operation_id": "$OPID", "outcome": failed("Connection timeout")})),
			rm(rec(m{"attempt": 3, "operation_id": "$OPID", "outcome": m{"failed": false}})),
			rm(rec(m{"attempt": 4, "operation_id": "$OPID", "outcome": m{"failed": false}})),
			rm(sess("finalize", nil)),
			rm(sess("finalize", m{"session_status": "failed", "monitoring": m{"alerts": m{"min_success_rate": 100, "max_average_retries": 0.5,
				"max_execution_time": 86400, "max_error_rate": 0}}}))),
		one("retry_manager/session/record_fail_fast", rm(rec(m{"outcome": failed("Authentication failed: invalid credentials"),
			"debug_mode": true, "log_individual_attempts": true}))),
		one("retry_manager/session/record_exhausted", rm(rec(m{"max_attempts": 1, "outcome": m{"failed": true, "stderr": "Connection refused",
			"rc": 1, "task": "Create the VM"}}))),
		one("retry_manager/session/record_result", rm(rec(m{"outcome": m{"failed": true, "result": m{"msg": "One or more items failed",
			"results": l{m{"failed": false}, m{"failed": true, "msg": "HTTP Error 503: Service Unavailable", "status": 503, "retry_after": "0"}}}}}))),
		one("retry_manager/session/record_result_fields", rm(rec(m{"outcome": m{"failed": true, "status": -1, "retry_after": "7",
			"result": m{"reason": "no route", "rc": "2", "stdout": l{"a", "b"}, "stderr": m{"x": 1}}}}))),
		one("retry_manager/session/record_wrong_attempt", rm(rec(m{"attempt": 2, "outcome": failed("x")}))),
		one("retry_manager/session/record_wrong_attempt_check", rmc(rec(m{"attempt": 2, "operation_id": "vm_create_1700000000_000001",
			"outcome": failed("Connection refused")}))),
		one("retry_manager/session/record_no_outcome", rm(rec(nil))),
		one("retry_manager/session/record_bad_outcome", rm(rec(m{"outcome": m{"failed": "maybe"}})),
			rm(rec(m{"outcome": m{"msg": "x"}})), rm(rec(m{"outcome": m{"failed": true, "rc": 1e12}}))),
		one("retry_manager/session/record_no_session_id", rm(m{"action": "record", "operation": "x", "outcome": m{"failed": false}, "state_dir": "$DIR/state"})),
		one("retry_manager/session/record_no_operation", rm(sess("record", m{"outcome": m{"failed": false}}))),
		one("retry_manager/session/record_bad_operation_id", rm(rec(m{"operation_id": "a/b", "outcome": m{"failed": false}}))),
		one("retry_manager/session/record_budget", rm(rec(m{"max_attempts": 5, "retry_budget": m{"enabled": true, "ratio": 0, "min_retries": 0},
			"outcome": failed("Connection refused")}))),
		one("retry_manager/session/record_breaker", rm(rec(m{"circuit_breaker": m{"enabled": true, "failure_threshold": 1},
			"outcome": failed("Connection refused")})),
			rm(rec(m{"circuit_breaker": m{"enabled": true, "failure_threshold": 1}, "outcome": m{"failed": false}}))),
		one("retry_manager/session/record_check", rmc(rec(m{"outcome": failed("Connection refused")}))),
		one("retry_manager/session/record_operation_result",
			rm(m{"operation": "op", "argv": l{"false"}, "max_attempts": 2, "base_delay": 0, "session_id": sid}),
			rm(sess("record", m{"operation_result": "$PREV", "host": "web02", "log_individual_attempts": true})),
			rm(sess("finalize", nil))),
		one("retry_manager/session/record_operation_result_bad", rm(sess("record", m{"operation_result": m{"status": "planned"}})),
			rm(sess("record", m{"operation_result": m{"status": "weird"}})),
			rm(sess("record", m{"operation_result": m{"status": "completed", "attempt_count": 2, "attempts": l{}}})),
			rm(sess("record", m{"operation_result": m{"status": "completed", "operation_id": "../x", "attempts": l{}}})),
			rm(sess("record", m{"operation_result": m{"status": 3}}))),
		one("retry_manager/session/finalize_missing", rm(sess("finalize", nil))),
		one("retry_manager/session/finalize_check_missing", rmc(sess("finalize", nil))),
		one("retry_manager/session/finalize_monitoring_off", rm(sess("start", nil)), rm(sess("finalize", m{"monitoring": m{"enabled": false}}))),
		one("retry_manager/session/finalize_bad_monitoring", rm(sess("start", nil)),
			rm(sess("finalize", m{"monitoring": m{"alerts": m{"min_success_rate": 101}}})),
			rm(sess("finalize", m{"monitoring": m{"metrics": l{"success_rate", "nope"}}})),
			rm(sess("finalize", m{"monitoring": m{"alerts": m{"bogus": 1}}}))),
		one("retry_manager/session/retention", oldSessions(),
			rm(sess("compress", m{"retention": m{"compress_after_days": 0, "compress_min_size": 0}})),
			rm(sess("cleanup", m{"retention": m{"max_age_days": 1, "max_sessions": 1}})),
			rmc(sess("cleanup", m{"retention": m{"max_age_days": 0, "max_sessions": 0}}))),
		one("retry_manager/session/retention_check", oldSessions(),
			rmc(sess("compress", m{"retention": m{"compress_after_days": 0, "compress_min_size": 0}})),
			rmc(sess("cleanup", nil))),
		one("retry_manager/session/retention_bad", rm(sess("cleanup", m{"retention": m{"max_age_days": -1}})),
			rm(sess("compress", m{"retention": m{"max_sessions": 1e7}}))),
		one("retry_manager/session/wait", rm(m{"action": "wait", "seconds": 0}), rmc(m{"action": "wait", "seconds": 5.25}),
			rm(m{"action": "wait"}), rm(m{"action": "wait", "seconds": 90000}), rm(m{"action": "wait", "seconds": "0.0"})),
		one("retry_manager/session/admit_no_breaker", rm(sess("admit", m{"operation": "vm"}))),
		one("retry_manager/session/admit_flow",
			rm(sess("admit", m{"operation": "vm", "attempt": 1, "circuit_breaker": m{"enabled": true, "failure_threshold": 1},
				"bulkhead": m{"enabled": true}})),
			rm(rec(m{"operation": "vm", "attempt": 1, "operation_id": "vm_1700000000_000001", "circuit_breaker": m{"enabled": true, "failure_threshold": 1},
				"outcome": failed("Connection refused")})),
			rm(sess("admit", m{"operation": "vm", "attempt": 2, "operation_id": "vm_1700000000_000001",
				"circuit_breaker": m{"enabled": true, "failure_threshold": 1, "open_duration": 600}})),
			rmc(sess("admit", m{"operation": "vm", "circuit_breaker": m{"enabled": true, "failure_threshold": 1, "open_duration": 600}})),
			rm(sess("finalize", nil))),
		one("retry_manager/session/admit_missing", rm(m{"action": "admit", "operation": "vm"}), rm(sess("admit", nil))),
	}
}

// oldSessions writes three finalized sessions whose files were last written 3, 2 and 1 days ago.
func oldSessions() step {
	return step{setup: func(t *testing.T, dir string) {
		state := filepath.Join(dir, "state")
		if err := os.MkdirAll(state, 0o700); err != nil {
			t.Fatal(err)
		}
		for i, age := range []int{3, 2, 1} {
			id := fmt.Sprintf("retry_1600000000_00000%d", i)
			doc := fmt.Sprintf(`{"format_version": 1, "session_id": %q, "session_start": "2020-09-13T12:26:40Z", `+
				`"session_end": "2020-09-13T12:30:00Z", "session_duration": 200, "session_status": "completed", "operations": [], "alerts": [], `+
				`"updated_at": "2020-09-13T12:30:00Z"}`, id)
			p := filepath.Join(state, "retry_session_"+id+".json")
			if err := os.WriteFile(p, []byte(doc), 0o600); err != nil {
				t.Fatal(err)
			}
			when := time.Now().Add(-time.Duration(age) * 24 * time.Hour)
			if err := os.Chtimes(p, when, when); err != nil {
				t.Fatal(err)
			}
		}
	}}
}

// retrySendCases cover send_metrics and send_alerts to every kind of external system.
func retrySendCases() []gcase {
	systems := l{
		m{"name": "pg", "type": "pushgateway", "url": "$URL/sink/pg"},
		m{"name": "pushgateway-nogroup", "url": "$URL/sink/pg2", "grouping": l{}, "job": "j", "labels": m{"team": "a b"}, "method": "POST"},
		m{"name": "rw", "type": "prometheus_remote_write", "url": "$URL/sink/api/v1/write"},
		m{"name": "rw2", "type": "prometheus_remote_write", "url": "$URL/sink/rw2", "remote_write_version": "2.0", "auth_header": "Bearer abcdefgh12345"},
		m{"name": "tf", "type": "textfile", "directory": "$DIR/prom"},
		m{"name": "slack-chat", "url": "$URL/sink/services/T0/B0/XXXXXXXXXXXX", "events": l{"metrics", "alerts"}},
		m{"name": "dd", "type": "datadog", "url": "$URL/sink/api/v1/series", "auth_header": "abcdef0123456789", "labels": m{"env": "prod"}},
		m{"name": "dd2", "type": "datadog", "url": "$URL/sink/api/v2/series", "auth_header": "DD-API-KEY abcdef0123456789"},
		m{"name": "hook", "type": "webhook", "url": "$URL/sink/hook/secret-path-1234", "headers": m{"X-Token": "tok-abcdefgh1234"}},
		m{"name": "off", "type": "webhook", "url": "$URL/sink/off", "enabled": false},
	}
	failing := l{
		m{"name": "bad", "type": "webhook", "url": "$URL/sinkfail/x", "retry_count": 1, "retry_delay": 0},
		m{"name": "badreq", "type": "webhook", "url": "$URL/sinkfail/y", "retry_count": "0", "required": "yes", "timeout": 5},
	}
	withOps := func(steps ...step) []step { return append([]step{seedSession(), setupDir("prom")}, steps...) }
	alerts := m{"alerts": m{"min_success_rate": 90}}
	return []gcase{
		{name: "retry_manager/send/metrics", steps: withOps(rm(sess("send_metrics", m{"external_systems": systems})),
			rm(sess("send_metrics", m{"external_systems": systems})))},
		{name: "retry_manager/send/metrics_check", steps: withOps(rmc(sess("send_metrics", m{"external_systems": systems})))},
		{name: "retry_manager/send/alerts", steps: withOps(rm(sess("send_alerts", m{"external_systems": systems, "monitoring": alerts})),
			rm(sess("send_alerts", m{"external_systems": systems, "monitoring": alerts})))},
		{name: "retry_manager/send/alerts_none", steps: withOps(rm(sess("send_alerts", m{"external_systems": systems})))},
		{name: "retry_manager/send/alerts_check", steps: withOps(rmc(sess("send_alerts", m{"external_systems": systems, "monitoring": alerts})))},
		{name: "retry_manager/send/failing", steps: withOps(rm(sess("send_metrics", m{"external_systems": failing})))},
		{name: "retry_manager/send/settings", steps: withOps(rm(sess("send_metrics", m{"settings": m{"external_systems": systems[:1]}})))},
		one("retry_manager/send/none", rm(sess("start", nil)), rm(sess("send_metrics", nil))),
		one("retry_manager/send/active_session", rm(sess("start", nil)), setupDir("prom"),
			rm(sess("send_metrics", m{"external_systems": l{m{"name": "tf", "type": "textfile", "path": "$DIR/prom/x.prom"}}}))),
		one("retry_manager/send/no_session", rm(sess("send_metrics", m{"external_systems": systems[:1]}))),
		one("retry_manager/send/no_session_check", rmc(sess("send_alerts", m{"external_systems": systems[:1]}))),
		one("retry_manager/send/invalid", rm(sess("send_metrics", m{"external_systems": l{
			m{"name": "x"},
			m{"name": "y", "type": "carrier_pigeon"},
			m{"name": "z", "type": "webhook", "url": "ftp://x", "retry_count": 20, "timeout": 0, "retry_delay": -1, "method": "GET", "enabled": "maybe"},
			m{"name": "tf", "type": "textfile", "path": "relative.prom", "url": "$URL/x"},
			m{"name": "tf2", "type": "textfile", "path": "/x/y.txt"},
			m{"name": "tf3", "type": "textfile"},
			m{"name": "pg", "type": "pushgateway", "url": "$URL/metrics/job/x", "grouping": l{"host"}, "job": "", "labels": m{"job": "x", "9bad": "y"}},
			m{"name": "rw", "type": "prometheus_remote_write", "url": "$URL/w", "remote_write_version": "3", "events": l{"alerts"}},
			m{"name": "dd", "type": "datadog", "url": "$URL/d", "auth_header": "", "headers": m{"Content-Type": "x", "bad name": "v", "X-Ok": 3}},
			m{"name": "pg", "type": "slack", "url": "$URL/s#frag", "auth_header": "X-A: ", "unknown": 1, "job": "j"},
			"not a dict",
			m{"name": "webhook-inferred", "url": "$URL/hook"},
		}}))),
		one("retry_manager/send/not_a_list", rm(sess("send_metrics", m{"external_systems": "pg"}))),
	}
}

// seedSession writes session sid, finalized, with two operations of fixed times: its statistics
// do not depend on how long the corpus takes.
func seedSession() step {
	ops := `[
  {"operation_id": "vm_create_1700000000_000001", "operation_name": "vm_create", "session_id": "` + sid + `", "host": "web01",
   "start_time": "2023-11-14T22:13:20Z", "end_time": "2023-11-14T22:13:35Z", "status": "completed", "attempt_count": 2, "max_attempts": 3,
   "execution_time": 15.25, "stop_reason": "succeeded", "attempts": [
    {"attempt_number": 1, "start_time": "2023-11-14T22:13:20Z", "end_time": "2023-11-14T22:13:25Z", "status": "failed",
     "error_type": "connection_error", "error_message": "Connection refused", "should_retry": true, "delay_before_retry": 5, "execution_time": 5},
    {"attempt_number": 2, "start_time": "2023-11-14T22:13:30Z", "end_time": "2023-11-14T22:13:35Z", "status": "success",
     "error_type": null, "error_message": null, "should_retry": false, "delay_before_retry": 0, "execution_time": 5.25}]},
  {"operation_id": "vm_delete_1700000000_000002", "operation_name": "vm_delete", "session_id": "` + sid + `",
   "start_time": "2023-11-14T22:13:20Z", "end_time": "2023-11-14T22:13:21Z", "status": "failed", "attempt_count": 1, "max_attempts": 3,
   "execution_time": 1, "stop_reason": "non_retryable_error", "error_type": "authentication_error", "attempts": [
    {"attempt_number": 1, "start_time": "2023-11-14T22:13:20Z", "end_time": "2023-11-14T22:13:21Z", "status": "failed",
     "error_type": "authentication_error", "error_message": "Authentication failed", "should_retry": false, "delay_before_retry": 0, "execution_time": 1}]},
  {"operation_id": "vm_refused_1700000000_000003", "operation_name": "vm_create", "session_id": "` + sid + `",
   "start_time": "2023-11-14T22:13:20Z", "end_time": "2023-11-14T22:13:20Z", "status": "failed", "attempt_count": 0, "max_attempts": 3,
   "execution_time": 0, "stop_reason": "rejected", "error_type": "circuit_open", "attempts": []}]`
	doc := `{"format_version": 1, "session_id": "` + sid + `", "session_start": "2023-11-14T22:13:20Z", "session_end": "2023-11-14T22:15:20Z",
 "session_duration": 120, "session_status": "completed", "operations": ` + ops + `, "alerts": [], "updated_at": "2023-11-14T22:15:20Z"}`
	return writeFile("state/retry_session_"+sid+".json", doc, 0o600)
}
