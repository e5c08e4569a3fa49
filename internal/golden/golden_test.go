package golden

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"resilience.ops/internal/guard"
	"resilience.ops/internal/modtest"
)

var update = flag.Bool("update", false, "rewrite testdata with the answers of the binaries (those of $GOLDEN_BIN_DIR, else the tree's)")

// programs are the binaries the corpus calls, by the name the cases use.
var programs = map[string]string{
	"retry_manager":     "resilience.ops/internal/cmd/retry_manager",
	"qos_guard":         "resilience.ops/internal/cmd/qos_guard",
	"qos_guard_release": "resilience.ops/internal/cmd/qos_guard_release",
	"retry_backoff":     "resilience.ops/internal/cmd/retry_backoff",
}

// step is one call: a module run on args (with the control keys of check and diff mode), or a
// command line (cli set) with env added to the environment. setup runs first, in the case's
// directory; a step without prog only sets up. Strings in args, cli and env may hold $DIR (the
// case's directory), $URL (the test server's base URL) and $HOSTPORT (its host and port); in args,
// $OPID is the operation_id the previous step returned, and the string "$PREV" is the whole result
// of the previous step (a registered result).
type step struct {
	prog  string
	args  map[string]any
	check bool
	diff  bool
	cli   []string
	env   map[string]string
	setup func(t *testing.T, dir string)
}

// gcase is a sequence of steps in one directory. Its answers are kept in testdata/<name>.txt.
type gcase struct {
	name  string
	steps []step
}

// allCases gathers the corpus.
func allCases() []gcase {
	var all []gcase
	for _, group := range [][]gcase{retryRunCases(), retryHTTPCases(), retryGuardrailCases(), retrySessionCases(),
		retrySendCases(), retryParamCases(), guardCases(), releaseCases(), cliCases()} {
		all = append(all, group...)
	}
	return all
}

func TestGolden(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the corpus runs shell commands and records Linux's messages")
	}
	cases := allCases()
	seen := map[string]bool{}
	for _, c := range cases {
		if seen[c.name] {
			t.Fatalf("case %s is listed twice", c.name)
		}
		seen[c.name] = true
	}
	bins := binaries(t)
	srv := newServer(t)
	owner := guard.DefaultOwner()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			sem <- struct{}{}
			defer func() { <-sem }()
			got := runCase(t, c, bins, srv, owner)
			file := filepath.Join("testdata", c.name+".txt")
			if *update {
				if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(file)
			if err != nil {
				t.Fatalf("no recorded answer (run go test -update with the reference binaries): %v", err)
			}
			if diff := cmp.Diff(string(want), got); diff != "" {
				t.Errorf("the answers differ from the recorded ones (-recorded +now):\n%s", diff)
			}
		})
	}
	wg.Wait()
	if *update {
		pruneStale(t, seen)
	}
}

// pruneStale removes recorded answers of cases that are no longer in the corpus.
func pruneStale(t *testing.T, names map[string]bool) {
	_ = filepath.Walk("testdata", func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() || !strings.HasSuffix(p, ".txt") {
			return nil
		}
		name := strings.TrimSuffix(strings.TrimPrefix(filepath.ToSlash(p), "testdata/"), ".txt")
		if !names[name] {
			t.Logf("removing %s: not in the corpus", p)
			_ = os.Remove(p)
		}
		return nil
	})
}

// binaries returns the path of each program: built from the tree, or taken from $GOLDEN_BIN_DIR.
func binaries(t *testing.T) map[string]string {
	out := map[string]string{}
	if dir := os.Getenv("GOLDEN_BIN_DIR"); dir != "" {
		for name := range programs {
			out[name] = filepath.Join(dir, name)
		}
		return out
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for name, pkg := range programs {
		wg.Go(func() {
			bin := modtest.BuildBinary(t, pkg)
			mu.Lock()
			out[name] = bin
			mu.Unlock()
		})
	}
	wg.Wait()
	return out
}

// runCase runs the steps of c in a fresh directory and returns the normalised answers.
func runCase(t *testing.T, c gcase, bins map[string]string, srv *server, owner string) string {
	dir := t.TempDir()
	sockDir, err := os.MkdirTemp("", "gl") // short: a socket path is limited to 108 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(sockDir) })
	sock := filepath.Join(sockDir, "log")
	sink := newSyslogSink(t, sock)
	n := &normalizer{dir: dir, host: srv.host, owner: owner}
	if real, err := filepath.EvalSymlinks(dir); err == nil {
		n.realDir = real
	}
	var b strings.Builder
	x := &expander{dir: dir, url: srv.url}
	for i, s := range c.steps {
		if s.setup != nil {
			s.setup(t, dir)
		}
		if s.prog == "" {
			continue
		}
		fmt.Fprintf(&b, "== step %d: %s%s\n", i+1, s.prog, mode(s))
		code, stdout, stderr := runStep(t, s, bins[s.prog], x, sock)
		x.prev = nil
		_ = json.Unmarshal([]byte(stdout), &x.prev)
		fmt.Fprintf(&b, "exit %d\n", code)
		if s.cli != nil {
			fmt.Fprintf(&b, "-- stdout\n%s-- stderr\n%s", n.text(stdout), n.text(stderr))
		} else {
			b.WriteString(n.json(stdout))
			if stderr != "" {
				fmt.Fprintf(&b, "-- stderr\n%s", n.text(stderr))
			}
		}
		for _, line := range sink.step(t) {
			fmt.Fprintf(&b, "syslog: %s\n", n.text(line))
		}
	}
	b.WriteString("== files\n")
	b.WriteString(files(t, dir, n))
	return b.String()
}

func mode(s step) string {
	var m []string
	if s.check {
		m = append(m, "check")
	}
	if s.diff {
		m = append(m, "diff")
	}
	if s.cli != nil {
		m = append(m, "command line")
	}
	if len(m) == 0 {
		return ""
	}
	return " (" + strings.Join(m, ", ") + ")"
}

// runStep runs one step and returns its exit status and output.
func runStep(t *testing.T, s step, bin string, x *expander, sock string) (int, string, string) {
	ctx, cancel := context.WithTimeout(context.Background(), modtest.HangDeadline)
	defer cancel()
	var cmd *exec.Cmd
	if s.cli != nil {
		args := make([]string, len(s.cli))
		for i, a := range s.cli {
			args[i] = x.text(a)
		}
		cmd = exec.CommandContext(ctx, bin, args...)
	} else {
		args := map[string]any{}
		for k, v := range s.args {
			args[k] = x.value(v)
		}
		args["_ansible_check_mode"] = s.check
		args["_ansible_diff"] = s.diff
		args["_ansible_no_log"] = false
		args["_ansible_verbosity"] = 0
		args["_ansible_version"] = "2.14.18"
		args["_ansible_module_name"] = "resilience.ops." + s.prog
		args["_ansible_syslog_facility"] = "LOG_USER"
		data, err := json.Marshal(args)
		if err != nil {
			t.Fatal(err)
		}
		prog, argsFile := modtest.ModuleDir(t, bin, data)
		cmd = exec.CommandContext(ctx, prog, argsFile)
	}
	cmd.Dir = x.dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + x.dir, "LANG=C", "TZ=UTC",
		"RESILIENCE_OPS_SYSLOG_ADDR=unixgram:" + sock}
	for k, v := range s.env {
		cmd.Env = append(cmd.Env, k+"="+x.text(v))
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("%s hangs", s.prog)
	}
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, stdout.String(), stderr.String()
}

// expander fills the placeholders of a step.
type expander struct {
	dir, url string
	prev     map[string]any // the previous step's result
}

func (x *expander) text(s string) string {
	opID, _ := x.prev["operation_id"].(string)
	return strings.NewReplacer("$HOSTPORT", strings.TrimPrefix(x.url, "http://"), "$DIR", x.dir, "$URL", x.url,
		"$OPID", opID).Replace(s)
}

func (x *expander) value(v any) any {
	switch t := v.(type) {
	case string:
		if t == "$PREV" {
			return x.prev
		}
		return x.text(t)
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = x.value(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[k] = x.value(e)
		}
		return out
	}
	return v
}

// syslogSink reads the messages sent to its socket as they come, so that the kernel's small
// queue of datagrams never fills, and hands them out step by step.
type syslogSink struct {
	conn, marker *net.UnixConn
	lines        chan string
}

// stepEnd marks the end of a step's messages: sent by the test after the step, it comes after
// every message of the step, since a datagram socket keeps their order.
const stepEnd = "\x00end of step"

func newSyslogSink(t *testing.T, sock string) *syslogSink {
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	marker, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	s := &syslogSink{conn: conn, marker: marker, lines: make(chan string, 1024)}
	go func() {
		buf := make([]byte, 65536)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				close(s.lines)
				return
			}
			msg := string(buf[:n])
			if i := strings.Index(msg, "]: "); i >= 0 {
				msg = msg[i+3:]
			}
			s.lines <- strings.TrimRight(msg, "\n")
		}
	}()
	t.Cleanup(func() { marker.Close(); conn.Close() })
	return s
}

// step returns the messages of the step that just ended, without the syslog header.
func (s *syslogSink) step(t *testing.T) []string {
	if _, err := s.marker.Write([]byte(stepEnd)); err != nil {
		t.Fatal(err)
	}
	var out []string
	for line := range s.lines {
		if line == stepEnd {
			return out
		}
		out = append(out, line)
	}
	t.Fatal("the syslog socket closed")
	return nil
}

// files lists what the steps left in dir: each file's name and mode, and the normalised content
// of the JSON, JSON lines and Prometheus text files.
func files(t *testing.T, dir string, n *normalizer) string {
	var lines []string
	_ = filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || p == dir {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		if fi.IsDir() {
			lines = append(lines, fmt.Sprintf("%s/ %v", n.text(rel), fi.Mode().Perm()))
			return nil
		}
		line := fmt.Sprintf("%s %v", n.text(rel), fi.Mode().Perm())
		switch ext := filepath.Ext(p); {
		case strings.Contains(rel, "circuit"+string(filepath.Separator)):
			// The guardrails' documents count calls in buckets of the wall clock: not compared.
		case ext == ".json" || ext == ".jsonl" || ext == ".prom" || strings.HasSuffix(p, "guard"):
			data, err := os.ReadFile(p)
			if err == nil {
				line += "\n" + indent(n.text(string(data)))
			}
		}
		lines = append(lines, line)
		return nil
	})
	sort.Strings(lines)
	if len(lines) == 0 {
		return "(none)\n"
	}
	return strings.Join(lines, "\n") + "\n"
}

func indent(s string) string {
	var b strings.Builder
	for _, l := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		b.WriteString("    " + l + "\n")
	}
	return strings.TrimRight(b.String(), "\n")
}

// normalizer replaces what differs from run to run.
type normalizer struct {
	dir, realDir, host, owner string
}

var (
	httpDateRE  = regexp.MustCompile(`[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT`)
	timestampRE = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)`)
	sessionIDRE = regexp.MustCompile(`retry_\d{10}_\d{6}`)
	opIDRE      = regexp.MustCompile(`_\d{10}_\d{6}`)
	lockIDRE    = regexp.MustCompile(`\b[0-9a-f]{16}\b`)
	// measuredRE are the keys whose numbers are measured times: they differ from run to run.
	measuredRE = regexp.MustCompile(`"(execution_time|session_duration|total_execution_time|average_execution_time|` +
		`operations_per_minute|retry_execution_time|waited|total_waited|remaining_seconds|wait_seconds|retry_in|` +
		`next_trial_in|qos_guard_remaining_seconds|duration|execution_seconds)":\s*-?[0-9][0-9.e+-]*`)
	// measuredMetricRE are the metrics whose values are measured times or rates.
	measuredMetricRE = regexp.MustCompile(`((retry_session_execution_seconds|retry_operation_duration_seconds_sum|` +
		`retry_session_operations_per_second|retry_session_duration_seconds|_timestamp_seconds)(\{[^}]*\})?) -?[0-9][0-9.e+-]*`)
	unixTimeRE       = regexp.MustCompile(`\b1[6-9]\d{8}(\d{3}|\.\d+)?\b|\b1\.\d+e\+09\b`)
	durationRE       = regexp.MustCompile(`(allowed in |evaluable in |succeeded after |failed after )[0-9][0-9hmsµn.]*s`)
	remainingRE      = regexp.MustCompile(`\([0-9][0-9hms.]* remaining\)`)
	measuredInTextRE = regexp.MustCompile(`(total_execution_time|operations_per_minute) -?[0-9][0-9.e+-]*`)
	slotRE           = regexp.MustCompile(`("slot":\s*|\.slot|\.trial)\d+`)
	pidRE            = regexp.MustCompile(`(pid |"pid":\s*|process )\d+`)
)

func (n *normalizer) text(s string) string {
	if n.realDir != "" && n.realDir != n.dir {
		s = strings.ReplaceAll(s, n.realDir, "$DIR")
	}
	s = strings.ReplaceAll(s, n.dir, "$DIR")
	s = strings.ReplaceAll(s, textfileName(n.dir), "$TEXTFILEDIR")
	s = strings.ReplaceAll(s, n.host, "$HOST")
	if n.owner != "" {
		s = strings.ReplaceAll(s, n.owner, "$OWNER")
	}
	s = httpDateRE.ReplaceAllString(s, "$$HTTPDATE")
	s = timestampRE.ReplaceAllString(s, "$$TIME")
	s = sessionIDRE.ReplaceAllString(s, "retry_$$ID")
	s = opIDRE.ReplaceAllString(s, "_$$ID")
	s = measuredRE.ReplaceAllString(s, `"$1":"$$N"`)
	s = measuredMetricRE.ReplaceAllString(s, "$1 $$N")
	s = measuredInTextRE.ReplaceAllString(s, "$1 $$N")
	s = unixTimeRE.ReplaceAllString(s, "$$UNIXTIME")
	s = durationRE.ReplaceAllString(s, "${1}$$DURATION")
	s = remainingRE.ReplaceAllString(s, "($$DURATION remaining)")
	s = slotRE.ReplaceAllString(s, "${1}$$N")
	s = pidRE.ReplaceAllString(s, "${1}$$PID")
	return lockIDRE.ReplaceAllString(s, "$$LOCKID")
}

// textfileName is dir as package textfile writes it into a file name.
func textfileName(dir string) string {
	var b strings.Builder
	for _, r := range strings.Trim(dir, "/") {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// json normalises one JSON answer and indents it (which only adds blanks: two answers differ
// after it exactly when they differed before).
func (n *normalizer) json(s string) string {
	s = n.text(s)
	var b bytes.Buffer
	if err := json.Indent(&b, []byte(strings.TrimSpace(s)), "", "  "); err != nil {
		return "(not JSON) " + s
	}
	return b.String() + "\n"
}
