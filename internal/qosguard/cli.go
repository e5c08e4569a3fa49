package qosguard

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"

	"resilience.ops/internal/field"
	"resilience.ops/internal/guard"
	"resilience.ops/internal/module"
	"resilience.ops/internal/state"
	"resilience.ops/internal/storeconf"
)

// Exit statuses of the command line. `status` exits 1 while the guard is locked (scripts depend
// on that), 0 when it is unlocked.
const (
	exitOK     = 0
	exitLocked = 1
	exitFailed = 1
	exitUsage  = 2
)

const usage = `usage: qos_guard [flags] lock [minutes] | unlock | status

  lock [minutes]  lock the guard window (default $QOS_GUARD_WINDOW or 15 minutes); an expiry
                  already in place is never shortened unless --force is given
  unlock          remove the guard (--id requires that lock id; --force overrides)
  status          exit 1 while the guard is locked (or cannot be read), 0 when it is unlocked

The guard is kept in a local file (--path, $QOS_GUARD_FILE) or, with --store etcd, in an etcd
cluster that a fleet shares (--etcd-endpoints, $QOS_GUARD_ETCD_ENDPOINTS; the path then names the
guard's key under --etcd-prefix). The etcd password is read from $QOS_GUARD_ETCD_PASSWORD only.

flags:
`

// Main runs qos_guard with argv (os.Args: the program name, then its arguments) and returns the exit
// status: the Ansible module when ansible-core runs it (module.ArgsFile), else the command line.
func Main(argv []string, stdout, stderr io.Writer, getenv func(string) string) int {
	if path, ok := module.ArgsFile(argv); ok {
		return module.Run(path, stdout, Spec, Handle)
	}
	args := argv[min(len(argv), 1):]
	return cli(args, stdout, stderr, getenv)
}

func cli(args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "qos_guard: "+format+"\n", a...)
		return exitUsage
	}
	o := newOptions(getenv)
	pos, err := o.parse(args)
	if errors.Is(err, flag.ErrHelp) {
		o.help(stdout)
		return exitOK
	}
	if err != nil {
		return fail("%v (see qos_guard -h)", err)
	}
	if len(pos) == 0 {
		return fail("missing command: lock, unlock or status (see qos_guard -h)")
	}
	st, msg := o.store(getenv)
	if msg != "" {
		return fail("%s", msg)
	}
	if err := guard.CheckText(*o.owner, *o.reason, *o.id); err != nil {
		var le *guard.LimitError
		if errors.As(err, &le) {
			flagName := map[string]string{"owner": "--owner", "reason": "--reason", "lock_id": "--id"}[le.Field]
			return fail("%s must be at most %d bytes, got %d bytes", flagName, le.Max, le.Got)
		}
		return fail("%v", err)
	}
	g := guard.New(*o.path)
	g.Store = st
	res, err, msg := o.run(g, pos, getenv)
	if msg != "" {
		return fail("%s", msg)
	}
	if res.Warning != "" {
		fmt.Fprintf(stderr, "qos_guard: warning: %s\n", res.Warning)
	}
	if err != nil {
		fmt.Fprintf(stderr, "qos_guard: %s\n", oneLine(err.Error()))
		if pos[0] == "status" {
			return exitLocked // fail closed: a guard that cannot be read counts as locked
		}
		return exitFailed
	}
	if *o.asJSON {
		b, _ := json.Marshal(Return{Status: res.After, ExpiredLockRemoved: res.ExpiredRemoved})
		fmt.Fprintln(stdout, string(b))
	} else {
		fmt.Fprintln(stdout, cliLine(pos[0], res))
	}
	if pos[0] == "status" && res.After.Locked {
		return exitLocked
	}
	return exitOK
}

// options are the flags of the command line.
type options struct {
	set                     *flag.FlagSet
	path, reason, owner, id *string
	force, asJSON           *bool
	storeFlags              func(raw map[string]any, source map[string]string)
}

func newOptions(getenv func(string) string) *options {
	fs := flag.NewFlagSet("qos_guard", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return &options{set: fs,
		path:       fs.String("path", envOr(getenv, "QOS_GUARD_FILE", guard.DefaultPath), "guard file ($QOS_GUARD_FILE)"),
		reason:     fs.String("reason", "", "why the guard is locked or unlocked"),
		owner:      fs.String("owner", "", "who holds the lock (default user@host)"),
		id:         fs.String("id", "", "unlock only this lock id"),
		force:      fs.Bool("force", false, "lock: replace any lock; unlock: remove any lock"),
		asJSON:     fs.Bool("json", false, "print the guard state as JSON"),
		storeFlags: storeconf.Flags(fs),
	}
}

func (o *options) help(w io.Writer) {
	fmt.Fprint(w, usage)
	o.set.SetOutput(w)
	o.set.PrintDefaults()
	o.set.SetOutput(io.Discard)
}

// parse reads the flags, which may come before or after the command, and returns the command
// and its arguments.
func (o *options) parse(args []string) ([]string, error) {
	var pos []string
	rest := args
	for {
		if err := o.set.Parse(rest); err != nil {
			return nil, err
		}
		if o.set.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, o.set.Arg(0))
		rest = o.set.Args()[1:]
	}
}

// store opens the store the flags and environment choose; the message names the flag or
// variable of a bad setting.
func (o *options) store(getenv func(string) string) (state.Store, string) {
	raw, source := map[string]any{}, map[string]string{}
	storeconf.FromEnv(getenv, raw, source)
	o.storeFlags(raw, source)
	params, err := storeconf.Spec.Decode(raw)
	var st state.Store
	if err == nil {
		st, err = storeconf.Open(params)
	}
	if err == nil {
		return st, ""
	}
	var pe *field.Error
	if errors.As(err, &pe) {
		name := pe.Path
		if s, ok := source[pe.Path]; ok {
			name = s
		}
		return nil, fmt.Sprintf("%s: %s", name, pe.Detail())
	}
	return nil, err.Error()
}

// run runs command pos[0] with its arguments on g; msg is a usage error.
func (o *options) run(g *guard.Guard, pos []string, getenv func(string) string) (res guard.Result, err error, msg string) {
	switch cmd := pos[0]; cmd {
	case "lock":
		if len(pos) > 2 {
			return res, nil, "lock takes at most one argument, the minutes"
		}
		minutesText, source := envOr(getenv, "QOS_GUARD_WINDOW", strconv.Itoa(guard.DefaultWindowMinutes)), "QOS_GUARD_WINDOW"
		if len(pos) == 2 {
			minutesText, source = pos[1], "minutes"
		}
		minutes, perr := strconv.Atoi(strings.TrimSpace(minutesText))
		if perr != nil || minutes < 1 || minutes > guard.MaxWindowMinutes {
			return res, nil, fmt.Sprintf("%s must be a whole number of minutes between 1 and %d, got %q", source, guard.MaxWindowMinutes, minutesText)
		}
		res, err = g.Lock(guard.LockRequest{Minutes: minutes, Owner: *o.owner, Reason: *o.reason, Extend: true, Force: *o.force}, false)
	case "unlock":
		if len(pos) > 1 {
			return res, nil, "unlock takes no argument"
		}
		res, err = g.Unlock(guard.UnlockRequest{LockID: *o.id, Force: *o.force, Reason: *o.reason}, false)
	case "status":
		if len(pos) > 1 {
			return res, nil, "status takes no argument"
		}
		res, err = g.Status(false)
	default:
		return res, nil, fmt.Sprintf("unknown command %q: expected lock, unlock or status", cmd)
	}
	return res, err, ""
}

func cliLine(cmd string, res guard.Result) string {
	switch {
	case cmd == "lock" && !res.Changed:
		return "unchanged: " + Summary(res.After) + " (a later expiry is kept; use --force to replace it)"
	case cmd == "unlock" && res.Changed:
		return fmt.Sprintf("QoS guard %s unlocked (was lock %s, owner %s)", res.After.Path, res.Before.LockID, res.Before.Owner)
	case cmd == "unlock":
		return fmt.Sprintf("QoS guard %s was not locked", res.After.Path)
	}
	return Summary(res.After)
}

func envOr(getenv func(string) string, key, def string) string {
	if v := strings.TrimSpace(getenv(key)); v != "" {
		return v
	}
	return def
}

func oneLine(s string) string { return strings.ReplaceAll(s, "\n", " ") }
