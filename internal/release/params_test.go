package release

import (
	"strings"
	"testing"
	"time"

	"resilience.ops/internal/module"
	"resilience.ops/internal/slo"
)

func TestParseDuration(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"30", 30 * time.Second, true},
		{" 1.5 ", 1500 * time.Millisecond, true},
		{"30s", 30 * time.Second, true},
		{"1h30m", 90 * time.Minute, true},
		{"0", 0, true},
		{"", 0, false},
		{"soon", 0, false},
		{"-5s", 0, false},
		{"-1", 0, false},
		{"NaN", 0, false},
		{"1e300", 0, false},
		{"15x", 0, false},
	} {
		got, err := parseDuration(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseDuration(%q) = %v, %v; want %v, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestParamName(t *testing.T) {
	t.Parallel()
	for field, want := range map[string]string{
		"prometheus.url":          "prom_url",
		"prometheus.cert_file":    "prom_client_cert",
		"loki.key_file":           "loki_client_key",
		"loki.tenant_id":          "loki_tenant",
		"loki.headers":            "loki_headers",
		"timeout":                 "query_timeout",
		"window":                  "window",
		"checks[2].comparison":    "checks[2].comparison",
		"prometheus.bearer_token": "prom_bearer_token",
	} {
		if got := paramName(field); got != want {
			t.Errorf("paramName(%q) = %q, want %q", field, got, want)
		}
	}
}

// Every parameter an slo configuration error can name is a parameter of the module.
func TestConfigFieldsAreParameters(t *testing.T) {
	t.Parallel()
	names := map[string]bool{}
	for _, p := range Spec {
		names[p.Name] = true
	}
	for _, f := range []string{"url", "bearer_token", "username", "password", "headers", "ca_file", "cert_file", "key_file"} {
		for _, src := range []string{"prometheus.", "loki."} {
			if n := paramName(src + f); !names[n] {
				t.Errorf("%s%s maps to %s, which is not a parameter", src, f, n)
			}
		}
	}
	for _, f := range []string{"loki.tenant_id", "timeout", "job", "window", "max_5xx_ratio", "min_health_ratio", "max_error_logs_per_min", "checks", "disable"} {
		if n := paramName(f); !names[n] {
			t.Errorf("%s maps to %s, which is not a parameter", f, n)
		}
	}
}

// FuzzParams feeds argument files through the same path as the module, up to building the
// evaluator (no network): no input may panic, and every rejection names a parameter.
func FuzzParams(f *testing.F) {
	for _, seed := range []string{
		`{}`,
		`{"window": "15x", "max_5xx_ratio": "abc"}`,
		`{"prom_url": "http://u:p@h:1/x", "prom_bearer_token": "t"}`,
		`{"checks": [{"name": "a", "query": "up", "comparison": "<=", "threshold": "1", "no_data": "zero"}], "disable": "http_5xx_ratio"}`,
		`{"checks": [{"name": 1, "threshold": [1]}, "x", null]}`,
		`{"loki_headers": {"X-Scope-OrgID": 5, "": "v"}, "loki_tenant": "a\n"}`,
		`{"poll_interval": "1e-9", "wait_timeout": 1e300, "query_timeout": "0"}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		_, user, err := module.ParseArgs(data)
		if err != nil {
			return
		}
		p, err := Spec.Decode(user)
		if err != nil {
			return
		}
		s, err := fromParams(p)
		if err == nil {
			_, err = slo.New(s.cfg)
		}
		if err == nil {
			return
		}
		for _, pe := range paramErrors(err) {
			if pe.Path == "" || pe.Detail() == "" {
				t.Errorf("unnamed parameter error %+v for %s", pe, data)
			}
		}
	})
}

// TestParamsHaveMaxima: every duration and number of qos_guard_release has a maximum, and a value
// past it fails naming the parameter. The stability window had none: "200y" was accepted.
func TestParamsHaveMaxima(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		raw  map[string]any
		want string
	}{
		{map[string]any{"window": "8d"}, `window: must be at most 1w`},
		{map[string]any{"window": "200y"}, `window: must be at most 1w`},
		{map[string]any{"max_error_logs_per_min": 1e300}, `max_error_logs_per_min: must be at most 1000000, got 1e+300`},
		{map[string]any{"wait_timeout": "1e300"}, `wait_timeout`},
		{map[string]any{"poll_interval": "25h"}, `poll_interval: must be between 1s and 24h0m0s`},
		{map[string]any{"query_timeout": "11m"}, `query_timeout: must be between 1ms and 10m0s`},
	} {
		p, err := Spec.Decode(tc.raw)
		if err == nil {
			_, err = fromParams(p)
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want %q", tc.raw, err, tc.want)
		}
	}
	p, err := Spec.Decode(map[string]any{"window": "1w", "max_error_logs_per_min": 1e6})
	if err == nil {
		_, err = fromParams(p)
	}
	if err != nil {
		t.Errorf("the maxima themselves: %v", err)
	}
	// Seconds round to the nearest nanosecond, as everywhere else (duration.FromSeconds).
	if d, err := parseDuration("0.3"); err != nil || d != 300*time.Millisecond {
		t.Errorf("parseDuration(0.3) = %d ns, %v", d, err)
	}
}
