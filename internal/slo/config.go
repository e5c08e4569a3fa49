package slo

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"resilience.ops/internal/field"
)

// Defaults used by [DefaultConfig]. They match the release playbook that the
// module replaces. The zero value of [Config] is NOT the default: start from
// DefaultConfig and overwrite what the user set, so that an explicit 0 (for
// example max_5xx_ratio: 0) keeps its meaning.
const (
	DefaultJob                = "threader"
	DefaultMax5xxRatio        = 0.01  // inclusive: a ratio of exactly 0.01 passes
	DefaultMinHealthRatio     = 0.995 // inclusive: a ratio of exactly 0.995 passes
	DefaultMaxErrorLogsPerMin = 1.0   // inclusive, in matching lines per minute over the window
	DefaultWindow             = "15m" // a Prometheus duration
	// DefaultTimeout bounds each check on its own (both queries of
	// error_log_rate share it). It is not a budget for the whole evaluation:
	// checks run concurrently, so Evaluate takes about the slowest check.
	DefaultTimeout = 10 * time.Second
)

// Names of the built-in checks, as used in [Config.Disable] and in results.
const (
	CheckHTTP5xxRatio = "http_5xx_ratio"
	CheckHealthRatio  = "health_ratio"
	CheckErrorLogRate = "error_log_rate"
)

var builtinNames = []string{CheckHTTP5xxRatio, CheckHealthRatio, CheckErrorLogRate}

// Config is the input of [New]. Validate it with [Config.Validate] (New does).
type Config struct {
	// Endpoints is how to reach each source's server (see Sources); DefaultConfig gives each
	// its default URL.
	Endpoints map[Source]*Endpoint

	Job string // value of the job label in the built-in queries, escaped for PromQL and LogQL

	// Window is a Prometheus duration such as "15m" or "1h30m": how far back
	// every built-in check looks from the evaluation time.
	Window string

	Max5xxRatio        float64 // http_5xx_ratio passes when the ratio is <= this
	MinHealthRatio     float64 // health_ratio passes when the ratio is >= this
	MaxErrorLogsPerMin float64 // error_log_rate passes when lines per minute are <= this

	// Disable lists built-in checks to skip (see the Check* constants).
	Disable []string
	// Checks are user-defined checks, evaluated beside the enabled built-ins.
	Checks []CheckSpec

	// Timeout bounds each check separately (see DefaultTimeout).
	Timeout time.Duration
}

// DefaultConfig returns the documented defaults: each source's URL, job
// "threader", window 15m, the three thresholds, all built-in checks enabled,
// no auth and TLS verification on.
func DefaultConfig() Config {
	endpoints := map[Source]*Endpoint{}
	for _, b := range backends {
		endpoints[b.Source] = &Endpoint{URL: b.DefaultURL}
	}
	return Config{
		Endpoints:          endpoints,
		Job:                DefaultJob,
		Window:             DefaultWindow,
		Max5xxRatio:        DefaultMax5xxRatio,
		MinHealthRatio:     DefaultMinHealthRatio,
		MaxErrorLogsPerMin: DefaultMaxErrorLogsPerMin,
		Timeout:            DefaultTimeout,
	}
}

// fieldErr is one validation problem: a *field.Error whose Path is the configuration key
// ("window", "loki.ca_file", "checks[1].comparison"); the problem never quotes a secret.
func fieldErr(path, format string, args ...any) *field.Error {
	return &field.Error{Path: path, Problem: fmt.Sprintf(format, args...)}
}

// Validate reports every problem in c, joined with errors.Join; each one is a
// *field.Error. It does not touch the network or the file system (New loads
// the TLS files).
func (c Config) Validate() error {
	var errs []error
	add := func(e *field.Error) {
		if e != nil {
			errs = append(errs, e)
		}
	}
	for _, b := range backends {
		errs = append(errs, c.endpoint(b.Source).validate(string(b.Source))...)
	}
	if c.Job == "" {
		add(fieldErr("job", "must not be empty"))
	}
	if _, err := ParseWindow(c.Window); err != nil {
		errs = append(errs, err)
	}
	add(checkRatio("max_5xx_ratio", c.Max5xxRatio))
	add(checkRatio("min_health_ratio", c.MinHealthRatio))
	if !isFinite(c.MaxErrorLogsPerMin) || c.MaxErrorLogsPerMin < 0 {
		add(fieldErr("max_error_logs_per_min", "must be a number >= 0"))
	}
	if c.Timeout <= 0 {
		add(fieldErr("timeout", "must be positive"))
	}
	disabled := map[string]bool{}
	for i, name := range c.Disable {
		if !slices.Contains(builtinNames, name) {
			add(fieldErr(fmt.Sprintf("disable[%d]", i), "%q is not a built-in check; use one of %s", name, listOf(builtinNames)))
		}
		disabled[name] = true
	}
	taken := map[string]bool{}
	for _, name := range builtinNames {
		taken[name] = !disabled[name]
	}
	for i, spec := range c.Checks {
		errs = append(errs, spec.validate(i, taken)...)
	}
	if len(c.Checks) == 0 && allBuiltinsIn(disabled) {
		add(fieldErr("checks", "no check is enabled: a guard cannot be released on nothing"))
	}
	return errors.Join(errs...)
}

// endpoint is the endpoint of src; the zero Endpoint when the configuration has none.
func (c Config) endpoint(src Source) Endpoint {
	if e := c.Endpoints[src]; e != nil {
		return *e
	}
	return Endpoint{}
}

func allBuiltinsIn(set map[string]bool) bool {
	for _, n := range builtinNames {
		if !set[n] {
			return false
		}
	}
	return true
}

func checkRatio(path string, v float64) *field.Error {
	if !isFinite(v) || v < 0 || v > 1 {
		return fieldErr(path, "must be a ratio between 0 and 1")
	}
	return nil
}

func isFinite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// listOf formats allowed values for messages: "a, b, c".
func listOf[T ~string](values []T) string {
	s := make([]string, len(values))
	for i, v := range values {
		s[i] = string(v)
	}
	return strings.Join(s, ", ")
}
