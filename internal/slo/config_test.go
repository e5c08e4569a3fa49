package slo

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"resilience.ops/internal/field"
)

func TestDefaultConfigIsValid(t *testing.T) {
	t.Parallel()
	cfg := DefaultConfig()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("DefaultConfig().Validate() = %v", err)
	}
	if cfg.Endpoints[SourcePrometheus].URL != "http://prometheus.local:9090" || cfg.Endpoints[SourceLoki].URL != "http://loki.local:3100" ||
		cfg.Job != "threader" || cfg.Window != "15m" || cfg.Max5xxRatio != 0.01 ||
		cfg.MinHealthRatio != 0.995 || cfg.MaxErrorLogsPerMin != 1 || cfg.Timeout != 10*time.Second {
		t.Errorf("defaults drifted: %+v", cfg)
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	th := func(v float64) *float64 { return &v }
	good := CheckSpec{Name: "p99", Source: SourcePrometheus, Query: "x", Comparison: LE, Threshold: th(1)}
	tests := []struct {
		name   string
		adjust func(*Config)
		field  string // of the first error
		want   []string
	}{
		{"bad window", func(c *Config) { c.Window = "15x" }, "window", []string{`"15x"`, "15m", "1h30m", "ms, s, m, h, d, w, y"}},
		{"zero window", func(c *Config) { c.Window = "0s" }, "window", []string{"positive"}},
		{"empty job", func(c *Config) { c.Job = "" }, "job", []string{"empty"}},
		{"ratio above 1", func(c *Config) { c.Max5xxRatio = 1.5 }, "max_5xx_ratio", []string{"between 0 and 1"}},
		{"NaN ratio", func(c *Config) { c.MinHealthRatio = math.NaN() }, "min_health_ratio", []string{"between 0 and 1"}},
		{"negative log rate", func(c *Config) { c.MaxErrorLogsPerMin = -1 }, "max_error_logs_per_min", []string{">= 0"}},
		{"no timeout", func(c *Config) { c.Timeout = 0 }, "timeout", []string{"positive"}},
		{"unknown builtin", func(c *Config) { c.Disable = []string{"5xx"} }, "disable[0]", []string{`"5xx"`, "http_5xx_ratio, health_ratio, error_log_rate"}},
		{"nothing enabled", func(c *Config) { c.Disable = builtinNames }, "checks", []string{"no check is enabled"}},
		{"bad comparison", func(c *Config) {
			s := good
			s.Comparison = "=>"
			c.Checks = []CheckSpec{s}
		}, "checks[0].comparison", []string{`check "p99"`, `"=>"`, "<, <=, >, >=, ==, !="}},
		{"bad source", func(c *Config) {
			s := good
			s.Source = "graphite"
			c.Checks = []CheckSpec{s}
		}, "checks[0].source", []string{`check "p99"`, "prometheus, loki"}},
		{"bad no_data", func(c *Config) {
			s := good
			s.NoData = "pass"
			c.Checks = []CheckSpec{s}
		}, "checks[0].no_data", []string{`check "p99"`, "fail, unknown, zero"}},
		{"missing threshold", func(c *Config) {
			s := good
			s.Threshold = nil
			c.Checks = []CheckSpec{s}
		}, "checks[0].threshold", []string{`check "p99"`, "required"}},
		{"duplicate name and missing query", func(c *Config) {
			s := good
			s.Query = ""
			c.Checks = []CheckSpec{good, s}
		}, "checks[1].name", []string{"another check", `checks[1].query: check "p99": must not be empty`}},
		{"builtin name", func(c *Config) {
			s := good
			s.Name = CheckHealthRatio
			c.Checks = []CheckSpec{s}
		}, "checks[0].name", []string{"built-in"}},
		{"bad url", func(c *Config) { c.Endpoints[SourceLoki].URL = "ftp://loki" }, "loki.url", []string{"http or https"}},
		{"url without host", func(c *Config) { c.Endpoints[SourcePrometheus].URL = "http://" }, "prometheus.url", []string{"no host"}},
		{"bearer and basic", func(c *Config) { c.Endpoints[SourceLoki].BearerToken, c.Endpoints[SourceLoki].Username = "t", "u" }, "loki.bearer_token", []string{"basic auth"}},
		{"password without user", func(c *Config) { c.Endpoints[SourceLoki].Password = "p" }, "loki.password", []string{"username"}},
		{"creds twice", func(c *Config) {
			c.Endpoints[SourcePrometheus].URL = "http://a:b@prom:9090"
			c.Endpoints[SourcePrometheus].Username = "u"
		}, "prometheus.username", []string{"URL"}},
		{"cert without key", func(c *Config) { c.Endpoints[SourceLoki].CertFile = "c.pem" }, "loki.cert_file", []string{"together"}},
		{"bad header name", func(c *Config) { c.Endpoints[SourceLoki].Headers = map[string]string{"X Bad": "v"} }, "loki.headers", []string{`"X Bad"`}},
		{"authorization twice", func(c *Config) {
			c.Endpoints[SourcePrometheus].BearerToken = "t"
			c.Endpoints[SourcePrometheus].Headers = map[string]string{"authorization": "Bearer x"}
		}, "prometheus.headers", []string{"already set"}},
		{"tenant twice", func(c *Config) {
			c.Endpoints[SourceLoki].TenantID = "a"
			c.Endpoints[SourceLoki].Headers = map[string]string{"X-Scope-OrgID": "b"}
		}, "loki.headers", []string{"tenant_id"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := DefaultConfig()
			tt.adjust(&cfg)
			err := cfg.Validate()
			var fe *field.Error
			if !errors.As(err, &fe) {
				t.Fatalf("Validate() = %v, want a *field.Error", err)
			}
			if fe.Path != tt.field {
				t.Errorf("field = %q, want %q (error: %v)", fe.Path, tt.field, err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestValidateReportsEverything(t *testing.T) {
	t.Parallel()
	cfg := DefaultConfig()
	cfg.Window, cfg.Job, cfg.Timeout = "soon", "", 0
	err := cfg.Validate()
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok || len(joined.Unwrap()) != 3 {
		t.Fatalf("Validate() = %v, want 3 joined errors", err)
	}
}

func TestValidateNeverQuotesSecrets(t *testing.T) {
	t.Parallel()
	const secret = "s3cr3t-V4LUE"
	cfg := DefaultConfig()
	cfg.Endpoints[SourcePrometheus].URL = "http://user:" + secret + "@prom:9090/?q=1"
	cfg.Endpoints[SourcePrometheus].Username = "other"
	cfg.Endpoints[SourceLoki].URL = "http://user:" + secret + "@loki:badport"
	cfg.Endpoints[SourceLoki].BearerToken = secret + "\n"
	cfg.Endpoints[SourceLoki].Headers = map[string]string{"X-Api-Key": secret + "\r\n", "Bad Name": secret}
	err := cfg.Validate()
	if err == nil {
		t.Fatal("Validate() = nil, want errors")
	}
	if strings.Contains(err.Error(), secret) {
		t.Errorf("error leaks the secret: %v", err)
	}
	if _, err := New(cfg); err == nil || strings.Contains(err.Error(), secret) {
		t.Errorf("New() = %v", err)
	}
}

func TestNewLoadsTLSFilesOfUsedSourcesOnly(t *testing.T) {
	t.Parallel()
	cfg := DefaultConfig()
	cfg.Endpoints[SourceLoki].CAFile = "/nonexistent/ca.pem"
	_, err := New(cfg)
	var fe *field.Error
	if !errors.As(err, &fe) || fe.Path != "loki.ca_file" {
		t.Fatalf("New() = %v, want a loki.ca_file error", err)
	}
	cfg.Disable = []string{CheckErrorLogRate}
	if _, err := New(cfg); err != nil {
		t.Errorf("New() with Loki unused = %v", err)
	}
}
