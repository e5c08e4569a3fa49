// Package operation runs the operations that retry_manager retries: a command or an HTTP request.
// Each run is one attempt: it reports what it observed as a retry.Failure for the engine to
// classify, and never retries by itself.
package operation

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"strings"
	"time"

	"resilience.ops/internal/retry"
)

// DefaultMaxOutput bounds the stdout and stderr kept from one attempt (the last bytes are kept:
// they hold the error). The rest is counted and dropped.
const DefaultMaxOutput = 64 << 10

// killGrace bounds each wait for the processes of a command to end: after SIGTERM, before SIGKILL,
// and for its output pipes to close once they are gone.
const killGrace = 2 * time.Second

// AttemptEnv is set in the environment of every command (on Linux) to a value of its own, and so
// inherited by the processes it starts: it is how the processes of one run are found once they
// have left its process group.
const AttemptEnv = "RESILIENCE_OPS_ATTEMPT"

// Command is a command to run. Exactly one of Argv and Shell is set. Safe for concurrent use:
// Run does not modify it.
type Command struct {
	Argv      []string          // run directly, no shell
	Shell     string            // run by /bin/sh -c (cmd.exe /C on Windows)
	Chdir     string            // working directory
	Env       map[string]string // added to the module's environment
	Stdin     string
	MaxOutput int // bytes kept of stdout and of stderr; DefaultMaxOutput when 0
}

// CommandResult is what the last attempt of a command gave.
type CommandResult struct {
	RC              int      `json:"rc"`
	Stdout          string   `json:"stdout"`
	Stderr          string   `json:"stderr"`
	StdoutTruncated bool     `json:"stdout_truncated"`
	StderrTruncated bool     `json:"stderr_truncated"`
	Cmd             []string `json:"cmd"`
}

// Validate reports a command that cannot run, naming the parameter.
func (c Command) Validate() error {
	switch {
	case len(c.Argv) == 0 && c.Shell == "":
		return errors.New("command: give argv (a list) or a command string")
	case len(c.Argv) > 0 && c.Shell != "":
		return errors.New("command: give either argv or a command string, not both")
	case len(c.Argv) > 0 && c.Argv[0] == "":
		return errors.New("command: argv[0] is empty")
	}
	return nil
}

func (c Command) argv() []string {
	if len(c.Argv) > 0 {
		return c.Argv
	}
	return shellArgv(c.Shell)
}

// Run runs the command once. The context's deadline is the per-attempt timeout: when it passes,
// every process of the command is killed at once (see below). A non-zero exit gives a Failure with
// the exit code and the output.
//
// The command's exit status is reported as it was, also when it leaves processes running (a
// daemon, "cmd &"), which may hold its stdout and stderr open: when the command exits, what it
// left running is ended, with SIGTERM and, after killGrace, SIGKILL, and its output up to then is
// kept. An attempt never leaves processes behind. "Every process of the command" is its process
// group and, on Linux, every process it started, also those that left the group (setsid, a
// double fork): this process becomes a child subreaper (PR_SET_CHILD_SUBREAPER), so orphans of the
// command are re-parented to it rather than to init, and the command's processes carry a marker
// in their environment (AttemptEnv). A process that both leaves the group and clears its
// environment escapes once its parent is gone. Other Unix systems end the process group only;
// Windows ends the command's own process on timeout and leaves its children.
func (c Command) Run(ctx context.Context) (CommandResult, *retry.Failure) {
	return c.run(ctx, nil, nil)
}

// RunPassthrough is Run that also copies the command's output to stdout and stderr as it comes,
// for command-line use.
func (c Command) RunPassthrough(ctx context.Context, stdout, stderr io.Writer) (CommandResult, *retry.Failure) {
	return c.run(ctx, stdout, stderr)
}

// chdirProblem reports a working directory that the command cannot run in, naming the chdir
// parameter and the path, with the exit status a shell gives a command it cannot run: the
// runtime's own message ("fork/exec /usr/bin/pwd: no such file or directory") blamed the program.
func chdirProblem(dir string) (string, int) {
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return fmt.Sprintf("chdir %s: the directory does not exist", dir), 127
	case errors.Is(err, os.ErrPermission):
		return fmt.Sprintf("chdir %s: permission denied", dir), 126
	case err != nil:
		return fmt.Sprintf("chdir %s: %v", dir, err), 127
	case !fi.IsDir():
		return fmt.Sprintf("chdir %s: not a directory", dir), 127
	}
	return "", 0
}

func (c Command) run(ctx context.Context, passOut, passErr io.Writer) (CommandResult, *retry.Failure) {
	argv := c.argv()
	res := CommandResult{Cmd: argv, RC: -1}
	couldNotRun := func(msg string, rc int, err error) (CommandResult, *retry.Failure) {
		res.RC = rc
		return res, &retry.Failure{Err: err, Message: msg, ExitCode: &rc}
	}
	if c.Chdir != "" {
		if msg, rc := chdirProblem(c.Chdir); msg != "" {
			return couldNotRun(msg, rc, nil)
		}
	}
	cmd := c.command(argv)
	procs := newProcTree(cmd)
	if err := ctx.Err(); err != nil { // out of time before it started
		res.RC = -1
		return res, &retry.Failure{Err: err, TimedOut: errors.Is(err, context.DeadlineExceeded),
			Message: fmt.Sprintf("command %s was not started: %v", argv[0], err)}
	}
	out, rc, err := c.start(cmd, passOut, passErr)
	if err != nil {
		return couldNotRun(fmt.Sprintf("command %s could not run: %v", argv[0], err), rc, err)
	}
	err, killed := waitOrKill(ctx, cmd, procs)
	// Whatever the command left running ends now, and with it the pipes it holds.
	procs.end(!killed)
	out.drain()
	res.Stdout, res.StdoutTruncated = out.stdout.String(), out.stdout.dropped > 0
	res.Stderr, res.StderrTruncated = out.stderr.String(), out.stderr.dropped > 0
	if cmd.ProcessState != nil {
		res.RC = cmd.ProcessState.ExitCode()
	}
	if !killed && err == nil {
		return res, nil
	}
	return res, failureOf(ctx, argv[0], res, err, killed)
}

// command is the process to start: argv in the directory, with the environment and the
// variables of c, in a stable order.
func (c Command) command(argv []string) *exec.Cmd {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = c.Chdir
	cmd.Env = os.Environ()
	if len(c.Env) > 0 {
		keys := make([]string, 0, len(c.Env))
		for k := range c.Env {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			cmd.Env = append(cmd.Env, k+"="+c.Env[k])
		}
	}
	return cmd
}

// output reads what a started command writes: the last bytes of stdout and stderr, also passed
// through when asked, until both pipes are closed.
type output struct {
	stdout, stderr *tailBuffer
	outR, errR     *os.File
	copied         chan struct{}
}

// start starts cmd with pipes of its own (*os.File, so that Wait returns when the process exits,
// whoever else holds them) whose output is copied by our readers, and feeds it c.Stdin. On error
// it returns the exit status a shell gives a command it cannot run.
func (c Command) start(cmd *exec.Cmd, passOut, passErr io.Writer) (*output, int, error) {
	max := c.MaxOutput
	if max <= 0 {
		max = DefaultMaxOutput
	}
	o := &output{stdout: &tailBuffer{max: max}, stderr: &tailBuffer{max: max}, copied: make(chan struct{}, 2)}
	var outW, errW io.Writer = o.stdout, o.stderr
	if passOut != nil {
		outW = io.MultiWriter(o.stdout, passOut)
	}
	if passErr != nil {
		errW = io.MultiWriter(o.stderr, passErr)
	}
	outR, outPipe, err := os.Pipe()
	if err != nil {
		return nil, 127, err
	}
	errR, errPipe, err := os.Pipe()
	if err != nil {
		outR.Close()
		outPipe.Close()
		return nil, 127, err
	}
	o.outR, o.errR = outR, errR
	cmd.Stdout, cmd.Stderr = outPipe, errPipe
	var inR, inW *os.File
	if c.Stdin != "" {
		if inR, inW, err = os.Pipe(); err == nil {
			cmd.Stdin = inR
		}
	}
	err = cmd.Start()
	outPipe.Close() // the child has its copies
	errPipe.Close()
	if inR != nil {
		inR.Close()
	}
	if err != nil {
		outR.Close()
		errR.Close()
		if inW != nil {
			inW.Close()
		}
		if errors.Is(err, os.ErrPermission) {
			return nil, 126, err
		}
		return nil, 127, err
	}
	if inW != nil {
		go func() { // a command that does not read its input must not block us: errors are ignored
			_, _ = io.WriteString(inW, c.Stdin)
			inW.Close()
		}()
	}
	for _, p := range []struct {
		r *os.File
		w io.Writer
	}{{outR, outW}, {errR, errW}} {
		go func() {
			_, _ = io.Copy(p.w, p.r)
			o.copied <- struct{}{}
		}()
	}
	return o, 0, nil
}

// waitOrKill waits for cmd to exit, or kills every process of its tree when ctx is done first
// (killed true).
func waitOrKill(ctx context.Context, cmd *exec.Cmd, procs *procTree) (err error, killed bool) {
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err = <-exited:
	case <-ctx.Done():
		select {
		case err = <-exited: // it had just exited: its status stands
		default:
			procs.kill() // every process at once, while the command's own pid is still held
			killed = true
			err = <-exited
		}
	}
	return err, killed
}

// drain waits until both readers are done, and closes the pipes: after killGrace a process out
// of reach holds them, and what was read is kept.
func (o *output) drain() {
	deadline := time.NewTimer(killGrace)
	for n := 0; n < 2; {
		select {
		case <-o.copied:
			n++
		case <-deadline.C:
			o.outR.Close()
			o.errR.Close()
		}
	}
	deadline.Stop()
	o.outR.Close()
	o.errR.Close()
}

// failureOf describes how the command prog failed: killed (the timeout or a cancellation), an
// exit status, or another error of Wait.
func failureOf(ctx context.Context, prog string, res CommandResult, err error, killed bool) *retry.Failure {
	f := &retry.Failure{Stdout: res.Stdout, Stderr: res.Stderr}
	var exitErr *exec.ExitError
	switch {
	case killed:
		f.TimedOut = errors.Is(ctx.Err(), context.DeadlineExceeded)
		f.Err = ctx.Err()
		f.Message = fmt.Sprintf("command %s was killed: %v", prog, ctx.Err())
	case errors.As(err, &exitErr) && res.RC >= 0:
		rc := res.RC
		f.ExitCode = &rc
		f.Message = firstLine(res.Stderr, res.Stdout)
		if f.Message == "" {
			f.Message = fmt.Sprintf("command %s exited with status %d", prog, rc)
		}
	default: // killed by a signal that was not ours, or a wait error
		f.Err = err
		f.Message = fmt.Sprintf("command %s failed: %v", prog, err)
	}
	return f
}

// firstLine returns the last non-empty line of the first text that has one: the line a tool
// prints its error on.
func firstLine(texts ...string) string {
	for _, t := range texts {
		lines := strings.Split(strings.TrimSpace(t), "\n")
		for i := len(lines) - 1; i >= 0; i-- {
			if l := strings.TrimSpace(lines[i]); l != "" {
				return l
			}
		}
	}
	return ""
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	buf     bytes.Buffer
	max     int
	dropped int64
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	n := len(p)
	if len(p) >= t.max {
		t.dropped += int64(t.buf.Len() + len(p) - t.max)
		t.buf.Reset()
		t.buf.Write(p[len(p)-t.max:])
		return n, nil
	}
	if over := t.buf.Len() + len(p) - t.max; over > 0 {
		t.dropped += int64(over)
		rest := append([]byte(nil), t.buf.Bytes()[over:]...)
		t.buf.Reset()
		t.buf.Write(rest)
	}
	t.buf.Write(p)
	return n, nil
}

func (t *tailBuffer) String() string { return t.buf.String() }
