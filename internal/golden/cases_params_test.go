package golden

import (
	"maps"
	"slices"
)

// badParams lists, per module parameter, values that must be refused (or are accepted at a
// bound): every type, choice and range the parameter has.
var badParams = map[string][]any{
	"action":                  {"jump", 3, l{"run"}},
	"operation":               {l{"a"}, m{"a": 1}},
	"context":                 {"text", l{1}},
	"session_id":              {"retry_1", 5},
	"settings":                {"x", l{}},
	"state_dir":               {l{"/tmp"}},
	"track_session":           {"maybe", 2},
	"log_individual_attempts": {"sometimes"},
	"host":                    {m{}},
	"operation_id":            {l{}},
	"attempt":                 {0, 11, 1.5, "two"},
	"attempt_start":           {-1, 253402300800, "soon"},
	"outcome":                 {"failed"},
	"operation_result":        {l{}},
	"session_status":          {"done"},
	"monitoring":              {"on"},
	"retention":               {7},
	"seconds":                 {-1, 86401, "x"},
	"operation_configs":       {l{}},
	"error_rules": {m{}, l{"x"}, l{m{"error_type": "timeout"}}, l{m{"error_type": "circuit_open", "pattern": "x"}},
		l{m{"error_type": "timeout", "pattern": "("}}, l{m{"error_type": "timeout", "http_status": 99}}, l{m{"error_type": "timeout", "field": "body", "pattern": "x"}}},
	"debug_mode":         {"loud"},
	"publish_artifacts":  {"x"},
	"argv":               {m{}, l{m{}}},
	"cmd":                {l{"a"}},
	"use_shell":          {"bash"},
	"chdir":              {l{}},
	"environment":        {"A=1"},
	"stdin":              {m{}},
	"max_output":         {1023, 16777217, "big"},
	"url":                {l{}},
	"method":             {"FETCH", "get"},
	"headers":            {"X: y"},
	"body_format":        {"xml"},
	"status_code":        {l{99}, l{600}, l{"ok"}, 200},
	"url_username":       {l{}},
	"url_password":       {m{"a": "secret-password-1"}},
	"bearer_token":       {l{"secret-token-12345"}},
	"validate_certs":     {"perhaps"},
	"ca_path":            {m{}},
	"idempotency_check":  {"test -f x"},
	"max_attempts":       {0, 11, -1, "abc", 2.5, "5.0", true},
	"retry_policy":       {"exponential", 1},
	"base_delay":         {-1, 86401, "fast", 1e10},
	"max_delay":          {-0.5, 1e300, "x"},
	"backoff_multiplier": {0.5, 101, "x"},
	"jitter_enabled":     {"x", 3},
	"jitter_mode":        {"random"},
	"max_total_time":     {0.0005, 86401, -1, "x"},
	"attempt_timeout":    {0.0001, 90000, "x"},
	"retry_conditions":   {l{"circuit_open"}, l{"bogus"}, "timeout,bogus", l{1}},
	"retry_unknown":      {"x"},
	"circuit_key":        {l{}},
	"circuit_breaker":    {l{}},
	"bulkhead":           {"on"},
	"retry_budget":       {1},
	"adaptive":           {l{}},
	"external_systems":   {m{}, l{"x"}},
	"textfile_dir":       {m{}},
	"store":              {"redis"},
	"etcd_endpoints":     {m{}},
	"etcd_prefix":        {l{}},
	"etcd_username":      {l{}},
	"etcd_password":      {m{"a": "secret-password-2"}},
	"etcd_ca_file":       {l{}},
	"etcd_cert_file":     {l{}},
	"etcd_key_file":      {l{}},
	"etcd_timeout":       {l{}, "-1", "1e9"},
	"unknown_param":      {1},
	"url_pasword":        {"secret-typo-pass-1"},
}

// retryParamCases run retry_manager with each bad value of each parameter.
func retryParamCases() []gcase {
	var out []gcase
	for _, name := range sortedKeys(badParams) {
		var steps []step
		for _, v := range badParams[name] {
			steps = append(steps, rm(m{"operation": "op", "argv": l{"true"}, "state_dir": "$DIR/state", name: v}))
		}
		out = append(out, gcase{name: "retry_manager/params/" + name, steps: steps})
	}
	out = append(out,
		one("retry_manager/params/twice", rm(m{"operation": "op", "retry_current_operation": "op2", "argv": l{"true"}})),
		one("retry_manager/params/null", rm(m{"operation": "op", "argv": l{"true"}, "max_attempts": nil, "cmd": nil})),
	)
	return out
}

func sortedKeys[V any](mm map[string]V) []string { return slices.Sorted(maps.Keys(mm)) }
