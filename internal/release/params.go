package release

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"resilience.ops/internal/duration"
	"resilience.ops/internal/field"
	"resilience.ops/internal/module"
	"resilience.ops/internal/slo"
	"resilience.ops/internal/state"
	"resilience.ops/internal/storeconf"
)

// settings is everything a decision needs, decoded from the module's parameters (the command
// line builds the same parameters from its environment and flags).
type settings struct {
	cfg        slo.Config
	req        request
	path       string
	store      state.Store // where the guard is kept (storeconf)
	reportOnly bool
}

// fromParams builds the settings. Errors are *field.Error values naming the parameter; the slo
// configuration is validated later, by slo.New (see paramErrors).
func fromParams(p module.Params) (settings, error) {
	var errs []error
	dur := func(name string, lo, hi time.Duration) time.Duration {
		d, err := parseDuration(p.Str(name))
		switch {
		case err != nil:
			errs = append(errs, module.ParamErr(name, "%s", err))
		case d < lo || d > hi:
			errs = append(errs, module.ParamErr(name, "must be between %s and %s, got %q", lo, hi, p.Str(name)))
		}
		return d
	}
	s := settings{path: p.Str("path"), reportOnly: p.Bool("report_only")}
	s.req.wait = p.Bool("wait")
	s.req.pollInterval = dur("poll_interval", MinPollInterval, MaxWaitTimeout)
	s.req.waitTimeout = dur("wait_timeout", 0, MaxWaitTimeout)
	timeout := dur("query_timeout", time.Millisecond, 10*time.Minute)
	if s.path == "" {
		errs = append(errs, module.ParamErr("path", "must not be empty"))
	}
	st, err := storeconf.Open(p)
	if err != nil {
		errs = append(errs, err)
	}
	s.store = st

	cfg := slo.DefaultConfig()
	cfg.Endpoints = endpoints(p)
	cfg.Job = p.Str("job")
	cfg.Window = strings.TrimSpace(p.Str("window"))
	cfg.Max5xxRatio = p.Float("max_5xx_ratio")
	cfg.MinHealthRatio = p.Float("min_health_ratio")
	cfg.MaxErrorLogsPerMin = p.Float("max_error_logs_per_min")
	cfg.Disable = p.Strings("disable")
	cfg.Timeout = timeout
	s.req.evaluation = timeout
	checks, err := parseChecks(p.List("checks"))
	if err != nil {
		errs = append(errs, err)
	}
	cfg.Checks = checks
	s.cfg = cfg
	if w, err := slo.ParseWindow(cfg.Window); err == nil {
		s.req.window = w
		if w > MaxWindow {
			errs = append(errs, module.ParamErr("window", "must be at most 1w (one week, the longest guard window), got %q", cfg.Window))
		}
	} // else reported by slo.New with the other configuration errors
	return s, errors.Join(errs...)
}

// parseDuration reads a number of seconds ("30", "1.5") or a duration with units ("30s", "5m",
// "1h30m"); the ranges of each parameter are checked by fromParams.
func parseDuration(s string) (time.Duration, error) {
	return duration.Parse(s, 1000*MaxWaitTimeout, "seconds (30) or a number and a unit (30s, 5m, 1h30m)")
}

// checkKeys are the keys of one entry of the checks parameter.
var checkKeys = []string{"comparison", "name", "no_data", "query", "source", "threshold"}

// parseChecks reads the checks parameter. Only the shape is checked here (known keys, strings,
// a numeric threshold); slo.Config.Validate checks the values.
func parseChecks(list []any) ([]slo.CheckSpec, error) {
	var out []slo.CheckSpec
	var errs []error
	for i, e := range list {
		path := fmt.Sprintf("checks[%d]", i)
		bad := func(format string, a ...any) {
			errs = append(errs, module.ParamErr(path, format, a...))
		}
		m, ok := e.(map[string]any)
		if !ok {
			bad("must be a dictionary with the keys %s", strings.Join(checkKeys, ", "))
			continue
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			if !slices.Contains(checkKeys, k) {
				bad("unsupported key %q; supported keys are: %s", k, strings.Join(checkKeys, ", "))
			}
		}
		str := func(key string) string {
			switch v := m[key].(type) {
			case nil:
				return ""
			case string:
				return strings.TrimSpace(v)
			default:
				bad("%s must be a string", key)
				return ""
			}
		}
		spec := slo.CheckSpec{
			Name:       str("name"),
			Source:     slo.Source(str("source")),
			Query:      str("query"),
			Comparison: slo.Comparison(str("comparison")),
			NoData:     slo.NoDataPolicy(str("no_data")),
		}
		if spec.Source == "" {
			spec.Source = slo.SourcePrometheus
		}
		switch v := m["threshold"].(type) {
		case nil: // slo reports it as required
		case float64:
			spec.Threshold = &v
		case string:
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				bad("threshold must be a number, got %q", v)
				break
			}
			spec.Threshold = &f
		default:
			bad("threshold must be a number")
		}
		out = append(out, spec)
	}
	return out, errors.Join(errs...)
}

// paramName maps an slo configuration field ("prometheus.url", "loki.tenant_id", "timeout",
// "checks[1].comparison") to the module parameter that sets it.
func paramName(field string) string {
	if param, ok := endpointParam(field); ok {
		return param
	}
	if field == "timeout" {
		return "query_timeout"
	}
	return field
}

// paramErrors are the errors of fromParams and slo.New in order, each named by its module
// parameter (the slo configuration's fields through paramName).
func paramErrors(err error) []*field.Error {
	var out []*field.Error
	var walk func(error)
	walk = func(err error) {
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				walk(e)
			}
			return
		}
		var fe *field.Error
		switch {
		case errors.As(err, &fe) && fe.Form == field.Parameter:
			out = append(out, fe)
		case errors.As(err, &fe):
			fe = fe.In(field.Parameter)
			fe.Path = paramName(fe.Path)
			out = append(out, fe)
		case err != nil:
			out = append(out, module.ParamErr("configuration", "%s", err))
		}
	}
	walk(err)
	return out
}

// joinParamErrors writes several parameter errors on one line, each named by name(parameter).
func joinParamErrors(errs []*field.Error, name func(param string) string) string {
	parts := make([]string, len(errs))
	for i, e := range errs {
		parts[i] = name(e.Path) + ": " + e.Detail()
	}
	return strings.Join(parts, "; ")
}
