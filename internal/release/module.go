// Package release is the qos_guard_release program: the resilience.ops.qos_guard_release Ansible
// module when it is given an argument file, and a command-line tool otherwise.
//
// It evaluates the SLO checks of internal/slo against Prometheus and Loki and releases the QoS
// guard window of internal/guard only when every check passes over a stability window that lies
// entirely after the event that locked the guard. The release is written to the guard's audit
// trail with the whole evaluation.
package release

import (
	"context"
	"fmt"
	"math"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"resilience.ops/internal/clock"
	"resilience.ops/internal/duration"
	"resilience.ops/internal/guard"
	"resilience.ops/internal/module"
	"resilience.ops/internal/slo"
	"resilience.ops/internal/storeconf"
	"resilience.ops/internal/textfile"
)

var (
	ratioMin, ratioMax = module.Range(0, 1)
	builtinChecks      = []string{slo.CheckHTTP5xxRatio, slo.CheckHealthRatio, slo.CheckErrorLogRate}
)

// maxErrorLogsPerMin bounds max_error_logs_per_min: one million error lines a minute.
var maxErrorLogsPerMin = 1e6

// Spec declares the module's parameters; plugins/modules/qos_guard_release.py documents the same.
// Tokens, passwords and header values are Secret: masked in invocation.module_args and scrubbed
// from every returned string.
var Spec = module.Spec{
	{Name: "job", Type: module.TypeStr, Default: slo.DefaultJob},
	{Name: "max_5xx_ratio", Type: module.TypeFloat, Default: slo.DefaultMax5xxRatio, Min: ratioMin, Max: ratioMax},
	{Name: "min_health_ratio", Type: module.TypeFloat, Default: slo.DefaultMinHealthRatio, Min: ratioMin, Max: ratioMax},
	{Name: "max_error_logs_per_min", Type: module.TypeFloat, Default: slo.DefaultMaxErrorLogsPerMin, Min: module.AtLeast(0), Limit: &maxErrorLogsPerMin},
	{Name: "window", Type: module.TypeStr, Default: slo.DefaultWindow},
	{Name: "path", Type: module.TypePath, Default: guard.DefaultPath, Aliases: []string{"lock_file"}},
	{Name: "disable", Type: module.TypeList, Elements: module.TypeStr, Choices: builtinChecks},
	{Name: "checks", Type: module.TypeList, Elements: module.TypeDict},
	{Name: "query_timeout", Type: module.TypeStr, Default: slo.DefaultTimeout.String()},
	{Name: "report_only", Type: module.TypeBool, Default: false},
	{Name: "wait", Type: module.TypeBool, Default: false},
	{Name: "poll_interval", Type: module.TypeStr, Default: duration.Text(DefaultPollInterval)},
	{Name: "wait_timeout", Type: module.TypeStr, Default: duration.Text(DefaultWaitTimeout)},
	{Name: "textfile_dir", Type: module.TypePath},
}

func init() { Spec = append(append(Spec, endpointSpec()...), storeconf.Spec...) }

// Return is what the module returns besides the common keys (and what the command line prints
// with --json).
type Return struct {
	Stable      bool              `json:"stable"`
	Status      Status            `json:"status"`
	Unlocked    bool              `json:"unlocked"`
	WouldUnlock bool              `json:"would_unlock"`
	Evaluable   bool              `json:"evaluable"`
	WaitSeconds int64             `json:"wait_seconds"`
	EvaluableAt string            `json:"evaluable_at"`
	Window      string            `json:"window"`
	Checks      []slo.CheckResult `json:"checks"`
	EvaluatedAt string            `json:"evaluated_at"`
	Attempts    int               `json:"attempts"`
	Guard       guard.Status      `json:"guard"`
}

// deps are the seams of a run: the clock, and how an evaluator is built (tests give fakes).
type deps struct {
	clock        clock.Clock
	newEvaluator func(slo.Config) (evaluator, error)
}

func defaultDeps() deps {
	c := clock.Real{}
	return deps{clock: c, newEvaluator: func(cfg slo.Config) (evaluator, error) { return slo.New(cfg, slo.WithClock(c)) }}
}

// Handle implements the module.
func Handle(ctx *module.Ctx) (module.Result, error) {
	sigCtx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return handle(sigCtx, ctx, defaultDeps())
}

func handle(c context.Context, ctx *module.Ctx, d deps) (module.Result, error) {
	s, err := fromParams(ctx.Params)
	var ev evaluator
	if err == nil {
		ev, err = d.newEvaluator(s.cfg)
	}
	if err != nil {
		ret := Return{Status: StatusConfigError, Window: s.cfg.Window, Checks: []slo.CheckResult{}, Guard: guard.Status{Path: s.path}}
		msg := joinParamErrors(paramErrors(err), func(p string) string { return "parameter " + p })
		return module.Result{}, &module.Failure{Msg: msg, Data: ret}
	}
	g := guard.New(s.path)
	g.Store = s.store
	g.Clock = d.clock
	r := &releaser{guard: g, eval: ev, clock: d.clock}
	s.req.check = ctx.CheckMode
	out, err := r.run(c, s.req)
	for _, w := range out.warnings {
		ctx.Warn("%s", w)
	}
	ret := newReturn(out, s)
	stats := Artifacts(ret)
	msg := summary(out, s, err)
	if !ctx.CheckMode {
		ctx.Log("QoS guard release decision for %s: %s", s.path, msg)
		if dir := ctx.Params.Str("textfile_dir"); dir != "" {
			if werr := WriteMetrics(dir, ret, d.clock.Now()); werr != nil {
				ctx.Warn("could not write the release metrics: %v", werr)
			}
		}
	}
	if err != nil || failed(out.status, s.reportOnly) {
		return module.Result{}, &module.Failure{Msg: msg, Data: ret, Stats: stats}
	}
	res := module.Result{Changed: out.unlocked || out.wouldUnlock, Msg: msg, Data: ret, Stats: stats}
	if res.Changed {
		res.Diff = &module.Diff{Before: diffView(out.released), After: diffView(out.guard),
			BeforeHeader: s.path, AfterHeader: s.path}
	}
	return res, nil
}

// WriteMetrics writes the last evaluation for node_exporter's textfile collector into dir: per
// check its value, threshold and outcome (one-hot over pass, fail, unknown, config_error), and
// whether the system was stable.
func WriteMetrics(dir string, r Return, now time.Time) error {
	path := r.Guard.Path
	value := textfile.Metric{Name: "resilience_qos_release_check_value", Help: "The last value of each SLO check (NaN when there was none)."}
	threshold := textfile.Metric{Name: "resilience_qos_release_check_threshold", Help: "The threshold of each SLO check."}
	outcome := textfile.Metric{Name: "resilience_qos_release_check_outcome", Help: "The outcome of each SLO check in the last evaluation (1 for the outcome it had)."}
	for _, c := range r.Checks {
		l := map[string]string{"guard": path, "check": c.Name}
		v := math.NaN()
		if c.Value != nil {
			v = *c.Value
		}
		value.Samples = append(value.Samples, textfile.Sample{Labels: l, Value: v})
		threshold.Samples = append(threshold.Samples, textfile.Sample{Labels: l, Value: c.Threshold})
		for _, o := range []slo.Outcome{slo.OutcomePass, slo.OutcomeFail, slo.OutcomeUnknown, slo.OutcomeConfigError} {
			hit := 0.0
			if c.Outcome == o {
				hit = 1
			}
			outcome.Samples = append(outcome.Samples, textfile.Sample{
				Labels: map[string]string{"guard": path, "check": c.Name, "outcome": string(o)}, Value: hit})
		}
	}
	stable := 0.0
	if r.Stable {
		stable = 1
	}
	g := map[string]string{"guard": path}
	return textfile.Write(dir, textfile.FileName("resilience_qos_release", path), []textfile.Metric{
		{Name: "resilience_qos_release_stable", Help: "Whether the last evaluation found every SLO check passing.", Samples: []textfile.Sample{{Labels: g, Value: stable}}},
		{Name: "resilience_qos_release_last_evaluation_timestamp_seconds", Help: "When the SLOs were last evaluated, as a Unix time.", Samples: []textfile.Sample{{Labels: g, Value: float64(now.Unix())}}},
		value, threshold, outcome,
	})
}

// failed reports whether a status fails the task. report_only turns instability (unstable,
// unknown, not yet evaluable) into a report; configuration and guard errors always fail.
func failed(st Status, reportOnly bool) bool {
	switch st {
	case StatusStable:
		return false
	case StatusConfigError, StatusGuardError:
		return true
	}
	return !reportOnly
}

func newReturn(out outcome, s settings) Return {
	ret := Return{
		Stable:      out.status == StatusStable,
		Status:      out.status,
		Unlocked:    out.unlocked,
		WouldUnlock: out.wouldUnlock,
		Evaluable:   out.evaluable,
		WaitSeconds: int64((out.wait + time.Second - 1) / time.Second), // rounded up: never 0 while waiting
		Window:      s.cfg.Window,
		Checks:      out.report.Checks,
		Attempts:    out.attempts,
		Guard:       out.guard,
	}
	if ret.Checks == nil {
		ret.Checks = []slo.CheckResult{}
	}
	if !out.evaluableAt.IsZero() {
		ret.EvaluableAt = out.evaluableAt.UTC().Format(time.RFC3339)
	}
	if out.evaluated {
		ret.EvaluatedAt = out.report.EvaluatedAt.UTC().Format(time.RFC3339)
		ret.Window = out.report.Window
	}
	if ret.Guard.Path == "" {
		ret.Guard.Path = s.path
	}
	return ret
}

// Artifacts are the values published for AAP job and workflow templates. ansible-core drops the
// stats of failed tasks, so a failed release publishes them only with report_only.
func Artifacts(r Return) map[string]any {
	checks := make([]map[string]any, 0, len(r.Checks))
	for _, c := range r.Checks {
		checks = append(checks, map[string]any{"name": c.Name, "outcome": c.Outcome, "value": c.Value,
			"comparison": c.Comparison, "threshold": c.Threshold})
	}
	return map[string]any{
		"qos_release_stable":   r.Stable,
		"qos_release_unlocked": r.Unlocked,
		"qos_release_status":   r.Status,
		"qos_release_checks":   checks,
	}
}

// diffView is the part of the guard that --diff shows.
func diffView(s guard.Status) map[string]any {
	if !s.Locked {
		return map[string]any{"locked": false}
	}
	return map[string]any{"locked": true, "lock_id": s.LockID, "locked_at": s.LockedAt,
		"expires_at": s.ExpiresAt, "owner": s.Owner, "reason": s.Reason}
}

// summary is the task's message (and the command line's last line).
func summary(out outcome, s settings, err error) string {
	path := s.path
	var msg string
	switch {
	case err != nil:
		msg = "guard error, nothing was released: " + err.Error()
	case out.status == StatusStable && out.unlocked:
		msg = fmt.Sprintf("stable: every SLO check passed over the %s window; released the QoS guard %s (lock %s, owner %s)",
			out.report.Window, path, out.released.LockID, out.released.Owner)
	case out.status == StatusStable && out.wouldUnlock:
		msg = fmt.Sprintf("stable: every SLO check passed over the %s window; would release the QoS guard %s (lock %s, owner %s) "+
			"but check mode changes nothing", out.report.Window, path, out.released.LockID, out.released.Owner)
	case out.status == StatusStable:
		msg = fmt.Sprintf("stable: every SLO check passed over the %s window; the QoS guard %s was not locked", out.report.Window, path)
	case out.status == StatusNotYetEvaluable:
		msg = fmt.Sprintf("not yet evaluable: the %s stability window would reach back before the guard was locked at %s; "+
			"evaluable in %s, at %s. The QoS guard %s stays locked",
			s.cfg.Window, out.lockedSince.UTC().Format(time.RFC3339), roundUp(out.wait), out.evaluableAt.UTC().Format(time.RFC3339), path)
	case out.status == StatusConfigError:
		msg = "configuration error, nothing was decided (fix the check, trying again will not help): " +
			checkList(out.report, slo.OutcomeConfigError) + ". " + staysLocked(out, path)
	case out.status == StatusUnstable:
		msg = "unstable: " + checkList(out.report, slo.OutcomeFail, slo.OutcomeUnknown) + ". " + staysLocked(out, path)
	default:
		msg = "stability unknown: " + checkList(out.report, slo.OutcomeUnknown) + ". " + staysLocked(out, path)
	}
	if s.req.wait && err == nil {
		msg += fmt.Sprintf(" (waited %s, %d evaluation%s)", out.waited.Round(time.Second), out.attempts, plural(out.attempts))
	}
	if out.interrupted {
		msg += " (interrupted)"
	}
	return msg
}

func staysLocked(out outcome, path string) string {
	if out.guard.Locked {
		return fmt.Sprintf("The QoS guard %s stays locked", path)
	}
	return fmt.Sprintf("The QoS guard %s is not locked", path)
}

// checkList names each check with one of the outcomes, its value and why.
func checkList(r slo.Report, outcomes ...slo.Outcome) string {
	var parts []string
	for _, c := range r.Checks {
		for _, o := range outcomes {
			if c.Outcome == o {
				parts = append(parts, fmt.Sprintf("%s %s (value %s): %s", c.Name, outcomeWord(c.Outcome), valueText(c.Value), c.Message))
			}
		}
	}
	return strings.Join(parts, "; ")
}

func outcomeWord(o slo.Outcome) string {
	switch o {
	case slo.OutcomePass:
		return "passed"
	case slo.OutcomeFail:
		return "failed"
	case slo.OutcomeConfigError:
		return "is misconfigured"
	}
	return "is unknown"
}

func valueText(v *float64) string {
	if v == nil {
		return "none"
	}
	return fmt.Sprintf("%g", *v)
}

func roundUp(d time.Duration) time.Duration { return (d + time.Second - 1).Truncate(time.Second) }

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
