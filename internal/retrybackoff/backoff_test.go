package retrybackoff

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func runBackoff(t *testing.T, ctx context.Context, env map[string]string, args ...string) (int, string, string, *fakeClock) {
	t.Helper()
	clk := newFakeClock()
	var out, errb bytes.Buffer
	code := Backoff(ctx, args, &out, &errb, func(k string) string { return env[k] }, Deps{Clock: clk, Rand: zero})
	return code, out.String(), errb.String(), clk
}

func TestBackoffDoublesTheDelay(t *testing.T) {
	t.Parallel()
	code, stdout, stderr, clk := runBackoff(t, context.Background(), nil,
		"3", "5", "--", "sh", "-c", flaky(t, 3, "Connection timeout to vCenter"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if diff := cmp.Diff([]float64{5, 10}, slept(clk)); diff != "" {
		t.Errorf("waits: base * 2^(attempt-1) (-want +got):\n%s", diff)
	}
	if !strings.Contains(stdout, "done at 3") {
		t.Errorf("the command's output was not passed through: %q", stdout)
	}
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	var logs []string
	for _, l := range lines {
		if strings.HasPrefix(l, "retry_backoff: ") {
			logs = append(logs, l)
		}
	}
	want := []string{"attempt 1/3 failed", "attempt 2/3 failed", "attempt 3/3 succeeded"}
	if len(logs) != len(want) {
		t.Fatalf("log lines = %q; want one per attempt", logs)
	}
	for i, w := range want {
		if !strings.Contains(logs[i], w) {
			t.Errorf("log line %d = %q; want %q", i, logs[i], w)
		}
	}
	if !strings.Contains(logs[0], "retrying in 5s") || !strings.Contains(logs[1], "retrying in 10s") {
		t.Errorf("log lines do not give the delays: %q", logs)
	}
}

func TestBackoffDefaultsFromEnvironment(t *testing.T) {
	t.Parallel()
	code, _, stderr, clk := runBackoff(t, context.Background(),
		map[string]string{"MAX_RETRY_ATTEMPTS": "4", "BASE_RETRY_DELAY": "2"}, "--", "false")
	if code != 1 || !strings.Contains(stderr, "attempts_exhausted after 4 attempt(s)") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if diff := cmp.Diff([]float64{2, 4, 8}, slept(clk)); diff != "" {
		t.Errorf("waits (-want +got):\n%s", diff)
	}
}

func TestBackoffOptions(t *testing.T) {
	t.Parallel()
	t.Run("max delay caps", func(t *testing.T) {
		_, _, _, clk := runBackoff(t, context.Background(), nil, "--max-delay", "15", "5", "10", "--", "false")
		if diff := cmp.Diff([]float64{10, 15, 15, 15}, slept(clk)); diff != "" {
			t.Errorf("waits (-want +got):\n%s", diff)
		}
	})
	t.Run("only listed exit codes are retried", func(t *testing.T) {
		code, _, stderr, _ := runBackoff(t, context.Background(), nil, "--retry-exit-codes", "75", "3", "1", "--", "sh", "-c", "exit 2")
		if code != 1 || !strings.Contains(stderr, "non_retryable_error after 1 attempt") {
			t.Errorf("exit %d: %s", code, stderr)
		}
		code, _, stderr, _ = runBackoff(t, context.Background(), nil, "--retry-exit-codes", "75", "3", "1", "--", "sh", "-c", "exit 75")
		if code != 1 || !strings.Contains(stderr, "attempts_exhausted after 3 attempt(s)") {
			t.Errorf("exit %d: %s", code, stderr)
		}
	})
	t.Run("classify fails fast on a non-retryable error", func(t *testing.T) {
		code, _, stderr, _ := runBackoff(t, context.Background(), nil, "--classify", "3", "1", "--", "sh", "-c", "echo 'permission denied' >&2; exit 1")
		if code != 1 || !strings.Contains(stderr, "(permission_error)") || !strings.Contains(stderr, "after 1 attempt") {
			t.Errorf("exit %d: %s", code, stderr)
		}
	})
	t.Run("per-attempt timeout", func(t *testing.T) {
		code, _, stderr, _ := runBackoff(t, context.Background(), nil, "--timeout", "0.2", "1", "1", "--", "sleep", "30")
		if code != 1 || !strings.Contains(stderr, "(timeout)") {
			t.Errorf("exit %d: %s", code, stderr)
		}
	})
}

func TestBackoffCancelled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // as SIGINT/SIGTERM do through signal.NotifyContext
	code, _, stderr, _ := runBackoff(t, ctx, nil, "3", "5", "--", "sleep", "30")
	if code != 130 || !strings.Contains(stderr, "interrupted") {
		t.Errorf("exit %d: %s", code, stderr)
	}
}

func TestBackoffUsage(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"3", "5", "true"}, nil, "missing -- before the command"},
		{[]string{"3", "5", "--"}, nil, "missing the command"},
		{[]string{"0", "5", "--", "true"}, nil, `max_attempts must be a whole number from 1 to 10, got "0"`},
		{[]string{"11", "--", "true"}, nil, `got "11"`},
		{[]string{"3", "-1", "--", "true"}, nil, `base_seconds must be a number of seconds of at least 0, got "-1"`},
		{[]string{"--", "true"}, map[string]string{"MAX_RETRY_ATTEMPTS": "x"}, `MAX_RETRY_ATTEMPTS must be a whole number`},
		{[]string{"--jitter", "wild", "--", "true"}, nil, "jitter_mode"},
		{[]string{"1", "2", "3", "--", "true"}, nil, "at most max_attempts and base_seconds"},
	} {
		code, _, stderr, _ := runBackoff(t, context.Background(), tc.env, tc.args...)
		if code != 2 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%q: exit %d, stderr %q; want 2 and %q", tc.args, code, stderr, tc.want)
		}
	}
}

// TestBackoffLimits: every number of retry_backoff has a maximum, and a value past it is a usage
// error naming the argument, flag or variable, before anything runs. `retry_backoff 3 1e308` used
// to overflow into "base_delay must not be negative, got -9223372036.8s", and --timeout 1e-10
// rounded to no timeout at all.
func TestBackoffLimits(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"3", "1e308", "--", "true"}, nil, `base_seconds must be a number of seconds of at most 86400 (one day), got "1e308"`},
		{[]string{"3", "86400.5", "--", "true"}, nil, `base_seconds must be a number of seconds of at most 86400`},
		{[]string{"--", "true"}, map[string]string{"BASE_RETRY_DELAY": "1e10"}, `BASE_RETRY_DELAY must be a number of seconds of at most 86400`},
		{[]string{"3", "NaN", "--", "true"}, nil, `base_seconds must be a number of seconds of at least 0, got "NaN"`},
		{[]string{"--max-delay", "1e10", "3", "1", "--", "true"}, nil, `--max-delay must be a number of seconds of at most 86400`},
		{[]string{"--timeout", "1e-10", "3", "1", "--", "true"}, nil, `--timeout must be 0 (off) or a number of seconds from 0.001 to 86400, got "1e-10"`},
		{[]string{"--timeout", "1e308", "3", "1", "--", "true"}, nil, `--timeout must be 0 (off) or a number of seconds from 0.001 to 86400`},
		{[]string{"--max-total-time", "-1", "3", "1", "--", "true"}, nil, `--max-total-time must be 0 (off)`},
		{[]string{"--max-total-time", "90000", "3", "1", "--", "true"}, nil, `--max-total-time must be 0 (off)`},
		{[]string{"--multiplier", "1000", "3", "1", "--", "true"}, nil, `--multiplier must be a number from 1 to 100, got 1000`},
		{[]string{"--multiplier", "NaN", "3", "1", "--", "true"}, nil, `--multiplier must be a number from 1 to 100, got NaN`},
	} {
		code, _, stderr, clk := runBackoff(t, context.Background(), tc.env, tc.args...)
		if code != 2 || !strings.Contains(stderr, tc.want) || strings.Contains(stderr, "negative") {
			t.Errorf("%q %v: exit %d, stderr %q; want 2 and %q", tc.args, tc.env, code, stderr, tc.want)
		}
		if len(slept(clk)) > 0 || strings.Contains(stderr, "attempt") {
			t.Errorf("%q: ran the command: %q", tc.args, stderr)
		}
	}
	// The largest values are accepted (the command runs once, and succeeds).
	code, _, stderr, _ := runBackoff(t, context.Background(), nil, "--max-delay", "86400", "--timeout", "86400",
		"--max-total-time", "86400", "--multiplier", "100", "1", "86400", "--", "true")
	if code != 0 {
		t.Errorf("the largest values: exit %d: %s", code, stderr)
	}
}
