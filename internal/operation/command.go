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

// killGrace is how long a killed command's pipes may stay open before Wait gives up on them.
const killGrace = 2 * time.Second

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
// the whole process group is killed. A non-zero exit gives a Failure with the exit code and the
// output.
func (c Command) Run(ctx context.Context) (CommandResult, *retry.Failure) {
	return c.run(ctx, nil, nil)
}

// RunPassthrough is Run that also copies the command's output to stdout and stderr as it comes,
// for command-line use.
func (c Command) RunPassthrough(ctx context.Context, stdout, stderr io.Writer) (CommandResult, *retry.Failure) {
	return c.run(ctx, stdout, stderr)
}

func (c Command) run(ctx context.Context, passOut, passErr io.Writer) (CommandResult, *retry.Failure) {
	argv := c.argv()
	res := CommandResult{Cmd: argv, RC: -1}
	max := c.MaxOutput
	if max <= 0 {
		max = DefaultMaxOutput
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = c.Chdir
	if len(c.Env) > 0 {
		keys := make([]string, 0, len(c.Env))
		for k := range c.Env {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		cmd.Env = os.Environ()
		for _, k := range keys {
			cmd.Env = append(cmd.Env, k+"="+c.Env[k])
		}
	}
	if c.Stdin != "" {
		cmd.Stdin = strings.NewReader(c.Stdin)
	}
	stdout, stderr := &tailBuffer{max: max}, &tailBuffer{max: max}
	cmd.Stdout, cmd.Stderr = io.Writer(stdout), io.Writer(stderr)
	if passOut != nil {
		cmd.Stdout = io.MultiWriter(stdout, passOut)
	}
	if passErr != nil {
		cmd.Stderr = io.MultiWriter(stderr, passErr)
	}
	setProcessGroup(cmd)
	cmd.WaitDelay = killGrace
	err := cmd.Run()
	res.Stdout, res.StdoutTruncated = stdout.String(), stdout.dropped > 0
	res.Stderr, res.StderrTruncated = stderr.String(), stderr.dropped > 0
	if cmd.ProcessState != nil {
		res.RC = cmd.ProcessState.ExitCode()
	}
	if err == nil {
		return res, nil
	}
	f := &retry.Failure{Stdout: res.Stdout, Stderr: res.Stderr}
	var exitErr *exec.ExitError
	switch {
	case ctx.Err() != nil:
		f.TimedOut = errors.Is(ctx.Err(), context.DeadlineExceeded)
		f.Err = ctx.Err()
		f.Message = fmt.Sprintf("command %s was killed: %v", argv[0], ctx.Err())
	case errors.As(err, &exitErr) && res.RC >= 0:
		rc := res.RC
		f.ExitCode = &rc
		f.Message = firstLine(res.Stderr, res.Stdout)
		if f.Message == "" {
			f.Message = fmt.Sprintf("command %s exited with status %d", argv[0], rc)
		}
	default: // could not start: not found, not executable, bad chdir
		f.Err = err
		f.Message = fmt.Sprintf("command %s could not run: %v", argv[0], err)
		rc := 127
		if errors.Is(err, os.ErrPermission) {
			rc = 126
		}
		f.ExitCode = &rc
		res.RC = rc
	}
	return res, f
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
