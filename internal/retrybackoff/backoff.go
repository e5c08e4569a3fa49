// Package retrybackoff is the retry_backoff command line: it runs a command with retries on the
// retry engine (package retry) with the limits of retry_manager's parameters, logs one line per
// attempt on stderr and passes the command's own output through. It replaces the shell script of
// the same name: retry_backoff <max_attempts> <base_seconds> -- <command...>.
package retrybackoff

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"resilience.ops/internal/clock"
	"resilience.ops/internal/duration"
	"resilience.ops/internal/field"
	"resilience.ops/internal/operation"
	"resilience.ops/internal/retry"
)

// Defaults of retry_backoff, as the shell script it replaces had them.
const (
	defaultCLIAttempts = 3 // $MAX_RETRY_ATTEMPTS
	defaultCLIBase     = 5 // seconds, $BASE_RETRY_DELAY
)

// Limits of the seconds, as retry_manager's: a delay from 0 to maxSeconds, a timeout 0 (off) or
// from minTimeout to maxSeconds.
const (
	maxSeconds = float64(retry.MaxDuration / time.Second)
	minTimeout = float64(retry.MinTimeout) / float64(time.Second)
)

// Exit statuses of retry_backoff.
const (
	exitOK     = 0
	exitFailed = 1
	exitUsage  = 2
	exitSignal = 128 // plus the signal number
)

const backoffUsage = `usage: retry_backoff [flags] [max_attempts [base_seconds]] -- command [args...]

Runs the command until it succeeds, at most max_attempts times (default $MAX_RETRY_ATTEMPTS or 3),
waiting base_seconds * 2^(attempt-1) between attempts (base default $BASE_RETRY_DELAY or 5).
Exits 0 when an attempt succeeds and 1 when every attempt failed; 2 on usage errors.
Processes an attempt leaves running are ended when it exits (SIGTERM, then SIGKILL).

flags:
`

// Main runs retry_backoff with argv (os.Args: the program's name, then its arguments) and
// returns the exit status. SIGINT and SIGTERM stop the command and the retries.
func Main(argv []string, stdout, stderr io.Writer, getenv func(string) string) int {
	args := argv[min(len(argv), 1):]
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return Backoff(ctx, args, stdout, stderr, getenv, Deps{})
}

// Deps are what a run takes from outside: the clock and the random source of jitter (nil: the
// real ones). Tests replace them.
type Deps struct {
	Clock clock.Clock
	Rand  func() float64
}

// Backoff is retry_backoff: it logs one line per attempt on stderr and passes the command's own
// output through.
func Backoff(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string, d Deps) int {
	logf := func(format string, a ...any) { fmt.Fprintf(stderr, "retry_backoff: "+format+"\n", a...) }
	fl := newFlags()
	inv, err := parseArgs(fl, args, getenv)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stderr, backoffUsage)
		fl.set.SetOutput(stderr)
		fl.set.PrintDefaults()
		return exitOK
	}
	if err != nil {
		logf("%s (see retry_backoff -h)", err)
		return exitUsage
	}
	opts := append(inv.options(logf), retry.WithClock(d.Clock))
	if d.Rand != nil {
		opts = append(opts, retry.WithRandom(d.Rand))
	}
	eng, err := retry.NewEngine(inv.policy, opts...)
	if err != nil {
		logf("%v (see retry_backoff -h)", err)
		return exitUsage
	}
	cmd := operation.Command{Argv: inv.command}
	var lastRC int
	out := eng.Do(ctx, func(c context.Context, n int) retry.Result {
		res, f := cmd.RunPassthrough(c, stdout, stderr)
		lastRC = res.RC
		return retry.Result{Failure: f}
	})
	switch {
	case out.Succeeded():
		return exitOK
	case out.Reason == retry.StopCancelled:
		logf("interrupted: the command and the retries were stopped")
		return exitSignal + int(syscall.SIGINT)
	}
	logf("failed: %s after %d attempt(s) (last exit status %d)", out.Reason, len(out.Attempts), lastRC)
	return exitFailed
}

// flags are the options of the command line.
type flags struct {
	set                                  *flag.FlagSet
	maxDelay, multiplier, timeout, total *float64
	jitter, exitCodes                    *string
	classify                             *bool
}

func newFlags() *flags {
	fs := flag.NewFlagSet("retry_backoff", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return &flags{set: fs,
		maxDelay:   fs.Float64("max-delay", retry.DefaultMaxDelay.Seconds(), "cap of each delay in seconds"),
		multiplier: fs.Float64("multiplier", 2, "backoff multiplier"),
		jitter:     fs.String("jitter", "none", "jitter mode: none, additive, full, equal, decorrelated"),
		timeout:    fs.Float64("timeout", 0, "per-attempt timeout in seconds, 0 (none) or 0.001 to 86400; every process of the command is then killed"),
		total:      fs.Float64("max-total-time", 0, "give up when the next wait would pass this many seconds (0: none)"),
		exitCodes:  fs.String("retry-exit-codes", "", "comma-separated exit codes to retry; others fail at once (default: retry any failure)"),
		classify:   fs.Bool("classify", false, "retry only failures classified as retryable (connection_error, timeout, ...)"),
	}
}

// invocation is what the command line asks for: the command, and the policy and rules of its
// retries.
type invocation struct {
	command    []string
	policy     retry.Policy
	classifier *retry.Classifier
}

// usagef is a usage error: exit status 2.
func usagef(format string, a ...any) error { return fmt.Errorf(format, a...) }

// parseArgs reads the command line: the flags and at most max_attempts and base_seconds (or
// $MAX_RETRY_ATTEMPTS and $BASE_RETRY_DELAY) before --, the command after it. flag.ErrHelp asks
// for the help; any other error is a usage error.
func parseArgs(fl *flags, args []string, getenv func(string) string) (invocation, error) {
	sep := slices.Index(args, "--")
	if sep < 0 {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help") {
			return invocation{}, flag.ErrHelp
		}
		return invocation{}, usagef("missing -- before the command")
	}
	if err := fl.set.Parse(args[:sep]); err != nil {
		return invocation{}, err
	}
	inv := invocation{command: args[sep+1:]}
	if len(inv.command) == 0 || inv.command[0] == "" {
		return inv, usagef("missing the command after --")
	}
	pos := fl.set.Args()
	if len(pos) > 2 {
		return inv, usagef("expected at most max_attempts and base_seconds before --, got %d arguments", len(pos))
	}
	attempts, base, err := positional(pos, getenv)
	if err != nil {
		return inv, err
	}
	var rules []retry.Rule
	if inv.policy, rules, err = fl.policy(attempts, base); err != nil {
		return inv, err
	}
	inv.classifier, err = retry.NewClassifier(rules)
	return inv, err
}

// positional reads max_attempts and base_seconds, from the arguments or the environment.
func positional(pos []string, getenv func(string) string) (int, float64, error) {
	attemptsText, attemptsSrc := envOr(getenv, "MAX_RETRY_ATTEMPTS", strconv.Itoa(defaultCLIAttempts)), "MAX_RETRY_ATTEMPTS"
	baseText, baseSrc := envOr(getenv, "BASE_RETRY_DELAY", strconv.Itoa(defaultCLIBase)), "BASE_RETRY_DELAY"
	if len(pos) > 0 {
		attemptsText, attemptsSrc = pos[0], "max_attempts"
	}
	if len(pos) > 1 {
		baseText, baseSrc = pos[1], "base_seconds"
	}
	attempts, err := strconv.Atoi(attemptsText)
	if err != nil || attempts < retry.MinMaxAttempts || attempts > retry.MaxMaxAttempts {
		return 0, 0, usagef("%s must be a whole number from %d to %d, got %q", attemptsSrc, retry.MinMaxAttempts, retry.MaxMaxAttempts, attemptsText)
	}
	base, err := cliSeconds(baseSrc, baseText, false)
	return attempts, base, err
}

// policy is the retry policy and the classification rules the flags ask for.
func (fl *flags) policy(attempts int, base float64) (retry.Policy, []retry.Rule, error) {
	for _, f := range []struct {
		name    string
		val     float64
		zeroOff bool
	}{{"--max-delay", *fl.maxDelay, false}, {"--timeout", *fl.timeout, true}, {"--max-total-time", *fl.total, true}} {
		if _, err := cliSeconds(f.name, strconv.FormatFloat(f.val, 'g', -1, 64), f.zeroOff); err != nil {
			return retry.Policy{}, nil, err
		}
	}
	if m := *fl.multiplier; !(m >= retry.MinBackoffMultiplier && m <= retry.MaxBackoffMultiplier) {
		return retry.Policy{}, nil, usagef("--multiplier must be a number from %g to %g, got %g", retry.MinBackoffMultiplier, retry.MaxBackoffMultiplier, m)
	}
	pol := retry.DefaultPolicy()
	pol.MaxAttempts = attempts
	pol.BaseDelay, pol.MaxDelay = duration.FromSeconds(base), duration.FromSeconds(*fl.maxDelay)
	pol.BackoffMultiplier = *fl.multiplier
	pol.JitterMode = retry.JitterMode(*fl.jitter)
	pol.JitterEnabled = *fl.jitter != string(retry.JitterNone)
	pol.AttemptTimeout, pol.MaxTotalTime = duration.FromSeconds(*fl.timeout), duration.FromSeconds(*fl.total)
	if !*fl.classify {
		// Like the script it replaces: any failure is retried.
		pol.RetryConditions = slices.DeleteFunc(retry.ErrorTypes(), retry.ErrorType.Reserved)
	}
	rules, err := fl.exitCodeRules(&pol)
	if err != nil {
		return pol, nil, err
	}
	if *fl.maxDelay < base {
		pol.MaxDelay = pol.BaseDelay
	}
	if err := pol.Validate(); err != nil {
		return pol, nil, usagef("%s", field.Line(err))
	}
	return pol, rules, nil
}

// exitCodeRules are the rules of --retry-exit-codes: the listed codes are retried, every other
// failure is not (a catch-all rule after them).
func (fl *flags) exitCodeRules(pol *retry.Policy) ([]retry.Rule, error) {
	if *fl.exitCodes == "" {
		return nil, nil
	}
	pol.RetryConditions = []retry.ErrorType{retry.TemporaryFailure}
	pol.RetryUnknown = false
	var rules []retry.Rule
	for _, s := range strings.Split(*fl.exitCodes, ",") {
		c, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || c < 1 || c > 255 {
			return nil, usagef("--retry-exit-codes must list exit codes from 1 to 255, got %q", s)
		}
		rules = append(rules, retry.Rule{Type: retry.TemporaryFailure, ExitCode: &c})
	}
	return append(rules, retry.Rule{Type: retry.ConfigurationError, Pattern: "(?s).", Field: ""}), nil
}

// options are the engine's classifier and the hook that logs each attempt.
func (inv invocation) options(logf func(format string, a ...any)) []retry.Option {
	attempts := inv.policy.MaxAttempts
	return []retry.Option{retry.WithClassifier(inv.classifier), retry.WithOnAttempt(func(a retry.Attempt) {
		if a.Succeeded {
			logf("attempt %d/%d succeeded after %s", a.Number, attempts, a.ExecutionTime().Round(time.Millisecond))
			return
		}
		next := "giving up"
		if a.ShouldRetry {
			next = "retrying in " + a.DelayBeforeRetry.Round(time.Millisecond).String()
		}
		logf("attempt %d/%d failed after %s (%s): %s; %s", a.Number, attempts,
			a.ExecutionTime().Round(time.Millisecond), a.ErrorType, clipLine(a.ErrorMessage), next)
	})}
}

// cliSeconds reads text, the value of the argument, flag or environment variable name, as a
// number of seconds with the ranges of the module's parameters: from 0 to maxSeconds for a delay;
// 0 (off) or from minTimeout to maxSeconds for a timeout (zeroOff). The error names the source.
func cliSeconds(name, text string, zeroOff bool) (float64, error) {
	f, err := strconv.ParseFloat(strings.TrimSpace(text), 64)
	ok := err == nil && !math.IsNaN(f)
	switch {
	case zeroOff:
		if !ok || f != 0 && (f < minTimeout || f > maxSeconds) {
			return 0, fmt.Errorf("%s must be 0 (off) or a number of seconds from %g to %g, got %q", name, minTimeout, maxSeconds, text)
		}
	case !ok || f < 0:
		return 0, fmt.Errorf("%s must be a number of seconds of at least 0, got %q", name, text)
	case f > maxSeconds:
		return 0, fmt.Errorf("%s must be a number of seconds of at most %g (one day), got %q", name, maxSeconds, text)
	}
	return f, nil
}

func envOr(getenv func(string) string, key, def string) string {
	if v := strings.TrimSpace(getenv(key)); v != "" {
		return v
	}
	return def
}

// clipLine is s on one line, at most 200 bytes.
func clipLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}
