package release

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"resilience.ops/internal/duration"
	"resilience.ops/internal/guard"
	"resilience.ops/internal/module"
	"resilience.ops/internal/slo"
	"resilience.ops/internal/storeconf"
)

// Exit statuses of the command line.
const (
	exitStable   = 0 // every check passed; the guard was released (or was not locked)
	exitUnstable = 1 // a check failed; the guard stays locked
	exitUsage    = 2 // usage, configuration (a rejected query too) or guard-file errors
	exitUnknown  = 3 // stability unknown, or not yet evaluable; try again later
)

const usage = `usage: qos_guard_release [flags]

Evaluates the SLO checks (5xx ratio and health ratio in Prometheus, error log rate in Loki) over the
stability window and releases the QoS guard window when every check passes. The window must not
reach back before the guard was locked: until then the result is "not yet evaluable".

Prints one line per check, then one line with the decision.

exit status: 0 stable (the guard was released, or was not locked), 1 unstable (the guard stays
locked), 3 unknown or not yet evaluable (try again later), 2 usage, configuration or guard-file
errors. With --report-only, instability exits 0.

environment (flags win): PROMETHEUS_URL, LOKI_URL, THREADER_JOB, STABILITY_WINDOW, QOS_GUARD_FILE,
MAX_5XX_RATIO, MIN_HEALTH_RATIO, MAX_ERROR_LOGS_PER_MIN, and for authentication
PROMETHEUS_BEARER_TOKEN, LOKI_BEARER_TOKEN, LOKI_TENANT (X-Scope-OrgID). A guard kept in etcd
(--store etcd): QOS_GUARD_STORE, QOS_GUARD_ETCD_ENDPOINTS (comma-separated), QOS_GUARD_ETCD_PREFIX,
QOS_GUARD_ETCD_USERNAME, QOS_GUARD_ETCD_PASSWORD (no flag), QOS_GUARD_ETCD_CA_FILE,
QOS_GUARD_ETCD_CERT_FILE, QOS_GUARD_ETCD_KEY_FILE, QOS_GUARD_ETCD_TIMEOUT. An unreachable etcd never
releases anything (exit 2).

flags:
`

// envParams maps environment variables to module parameters; flags override them.
var envParams = append(endpointEnv(), []struct{ env, param string }{
	{"THREADER_JOB", "job"},
	{"MAX_5XX_RATIO", "max_5xx_ratio"},
	{"MIN_HEALTH_RATIO", "min_health_ratio"},
	{"MAX_ERROR_LOGS_PER_MIN", "max_error_logs_per_min"},
	{"STABILITY_WINDOW", "window"},
	{"QOS_GUARD_FILE", "path"},
}...)

// Main runs qos_guard_release with argv (os.Args: the program name, then its arguments) and returns the exit
// status: the Ansible module when ansible-core runs it (module.ArgsFile), else the command line.
func Main(argv []string, stdout, stderr io.Writer, getenv func(string) string) int {
	if path, ok := module.ArgsFile(argv); ok {
		return module.Run(path, stdout, Spec, Handle)
	}
	args := argv[min(len(argv), 1):]
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return cli(ctx, args, stdout, stderr, getenv, defaultDeps())
}

func cli(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string, d deps) int {
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "qos_guard_release: "+format+"\n", a...)
		return exitUsage
	}
	f := newCLIFlags()
	if err := f.set.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, usage)
			f.set.SetOutput(stdout)
			f.set.PrintDefaults()
			return exitStable
		}
		return fail("%v (see qos_guard_release -h)", err)
	}
	if f.set.NArg() > 0 {
		return fail("unexpected argument %q: qos_guard_release takes only flags (see qos_guard_release -h)", f.set.Arg(0))
	}
	// The command line builds the module's parameters, so both are validated the same way.
	raw, name := f.params(getenv)
	params, err := Spec.Decode(raw)
	var s settings
	if err == nil {
		s, err = fromParams(params)
	}
	var ev evaluator
	if err == nil {
		ev, err = d.newEvaluator(s.cfg)
	}
	if err != nil {
		return fail("%s", joinParamErrors(paramErrors(err), name))
	}
	g := guard.New(s.path)
	g.Store = s.store
	g.Clock = d.clock
	r := &releaser{guard: g, eval: ev, clock: d.clock}
	out, err := r.run(ctx, s.req)
	ret := newReturn(out, s)
	for _, w := range out.warnings {
		fmt.Fprintf(stderr, "qos_guard_release: warning: %s\n", w)
	}
	if *f.asJSON {
		b, _ := json.Marshal(ret)
		fmt.Fprintln(stdout, string(b))
	} else {
		for _, c := range out.report.Checks {
			fmt.Fprintln(stdout, checkLine(c))
		}
		fmt.Fprintln(stdout, summary(out, s, err))
	}
	return exitCode(out.status, s.reportOnly)
}

// cliFlags are the flags of the command line; given maps the flags that set a parameter to
// their values, flagParams to the parameter.
type cliFlags struct {
	set                      *flag.FlagSet
	given                    map[string]*string
	flagParams               map[string]string
	reportOnly, wait, asJSON *bool
	storeFlags               func(raw map[string]any, source map[string]string)
}

func newCLIFlags() *cliFlags {
	fs := flag.NewFlagSet("qos_guard_release", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	f := &cliFlags{set: fs, given: map[string]*string{}, flagParams: map[string]string{}}
	str := func(name, param, help string) {
		f.flagParams[name] = param
		f.given[name] = fs.String(name, "", help)
	}
	for _, b := range backends {
		str(b.flag+"url", b.prefix+"url", b.description+" base URL ($"+b.env+"URL, default "+
			slo.DefaultConfig().Endpoints[b.source].URL+")")
	}
	str("job", "job", "job label of the built-in checks ($THREADER_JOB, default "+slo.DefaultJob+")")
	str("window", "window", "stability window, a Prometheus duration ($STABILITY_WINDOW, default "+slo.DefaultWindow+")")
	str("path", "path", "guard file ($QOS_GUARD_FILE, default "+guard.DefaultPath+")")
	str("poll-interval", "poll_interval", "with --wait: pause between evaluations (default "+duration.Text(DefaultPollInterval)+")")
	str("wait-timeout", "wait_timeout", "with --wait: give up after this long (default "+duration.Text(DefaultWaitTimeout)+")")
	f.reportOnly = fs.Bool("report-only", false, "report only: exit 0 on instability (configuration errors still exit 2)")
	f.wait = fs.Bool("wait", false, "re-evaluate until stable or until --wait-timeout; the guard stays locked meanwhile")
	f.asJSON = fs.Bool("json", false, "print the result as one JSON object instead of lines")
	f.storeFlags = storeconf.Flags(fs)
	return f
}

// params are the module parameters the environment and the flags (which win) give, and the name
// of where each came from, for messages.
func (f *cliFlags) params(getenv func(string) string) (map[string]any, func(param string) string) {
	raw := map[string]any{"report_only": *f.reportOnly, "wait": *f.wait}
	source := map[string]string{} // parameter -> where its value came from
	for _, e := range envParams {
		if v := strings.TrimSpace(getenv(e.env)); v != "" {
			raw[e.param], source[e.param] = v, e.env
		}
	}
	storeconf.FromEnv(getenv, raw, source)
	f.set.Visit(func(fl *flag.Flag) {
		if v, ok := f.given[fl.Name]; ok {
			raw[f.flagParams[fl.Name]], source[f.flagParams[fl.Name]] = *v, "--"+fl.Name
		}
	})
	f.storeFlags(raw, source)
	return raw, func(param string) string {
		base, _, _ := strings.Cut(param, "[")
		if s, ok := source[base]; ok {
			return s
		}
		return param
	}
}

// checkLine is one line per check: outcome, name, and the check's own message (value, comparison
// and threshold, or why there is no value).
func checkLine(c slo.CheckResult) string {
	return fmt.Sprintf("%-12s %-16s %s", strings.ToUpper(string(c.Outcome)), c.Name, strings.ReplaceAll(c.Message, "\n", " "))
}

func exitCode(st Status, reportOnly bool) int {
	switch st {
	case StatusStable:
		return exitStable
	case StatusConfigError, StatusGuardError:
		return exitUsage
	}
	if reportOnly {
		return exitStable
	}
	if st == StatusUnstable {
		return exitUnstable
	}
	return exitUnknown
}
