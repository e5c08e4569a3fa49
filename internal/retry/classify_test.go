package retry

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
	"resilience.ops/internal/field"
)

func ev(rule, field, match string) Evidence { return Evidence{Rule: rule, Field: field, Match: match} }

func goErr(match string) Evidence   { return ev("builtin.go_error", "error", match) }
func status(code string) Evidence   { return ev("builtin.http_status", "http_status", code) }
func exitCode(code string) Evidence { return ev("builtin.exit_code", "exit_code", code) }
func msg(match string) Evidence     { return ev("builtin.message", "message", match) }

func dialErr(errno syscall.Errno) error {
	return &net.OpError{Op: "dial", Net: "tcp", Err: &os.SyscallError{Syscall: "connect", Err: errno}}
}

func TestClassifyBuiltin(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		failure Failure
		want    ErrorType
		wantEv  Evidence
	}{
		// Go errors, by errors.Is and errors.As.
		{"ECONNREFUSED", Failure{Err: dialErr(syscall.ECONNREFUSED)}, ConnectionError, goErr("syscall.ECONNREFUSED")},
		{"ECONNRESET wrapped", Failure{Err: fmt.Errorf("read inventory: %w", dialErr(syscall.ECONNRESET))}, ConnectionError, goErr("syscall.ECONNRESET")},
		{"EHOSTUNREACH", Failure{Err: dialErr(syscall.EHOSTUNREACH)}, ConnectionError, goErr("syscall.EHOSTUNREACH")},
		{"ETIMEDOUT", Failure{Err: dialErr(syscall.ETIMEDOUT)}, Timeout, goErr("syscall.ETIMEDOUT")},
		{"DNS not found", Failure{Err: &net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "no such host", Name: "vcenter.example", IsNotFound: true}}},
			NetworkError, goErr("*net.DNSError")},
		{"DNS timeout", Failure{Err: &net.DNSError{Err: "i/o timeout", Name: "vcenter.example", IsTimeout: true}}, NetworkError, goErr("*net.DNSError")},
		{"context deadline", Failure{Err: fmt.Errorf("create vm: %w", context.DeadlineExceeded)}, Timeout, goErr("context.DeadlineExceeded")},
		{"os deadline is a net.Error timeout", Failure{Err: &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}}, Timeout, goErr("net.Error.Timeout")},
		{"unknown authority via url and tls", Failure{Err: &url.Error{Op: "Get", URL: "https://vcenter.example/sdk",
			Err: &tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}}}, ConfigurationError, goErr("x509.UnknownAuthorityError")},
		{"hostname mismatch", Failure{Err: x509.HostnameError{Certificate: &x509.Certificate{}, Host: "vcenter.example"}}, ConfigurationError, goErr("x509.HostnameError")},
		{"expired certificate", Failure{Err: x509.CertificateInvalidError{Reason: x509.Expired, Detail: "expired"}}, ConfigurationError, goErr("x509.CertificateInvalidError")},
		{"tls verification without x509 detail", Failure{Err: &tls.CertificateVerificationError{Err: errors.New("bad")}}, ConfigurationError, goErr("*tls.CertificateVerificationError")},
		{"plain HTTP on a TLS port", Failure{Err: tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"}}, ConfigurationError, goErr("tls.RecordHeaderError")},
		{"command not found", Failure{Err: &exec.Error{Name: "govc", Err: exec.ErrNotFound}}, ConfigurationError, goErr("exec.ErrNotFound")},
		{"EACCES", Failure{Err: &fs.PathError{Op: "open", Path: "/etc/vmware.conf", Err: syscall.EACCES}}, PermissionError, goErr("fs.ErrPermission")},
		{"ENOENT", Failure{Err: &fs.PathError{Op: "open", Path: "/tmp/x.ova", Err: syscall.ENOENT}}, ResourceNotFound, goErr("fs.ErrNotExist")},
		{"other net.OpError", Failure{Err: &net.OpError{Op: "read", Net: "tcp", Err: errors.New("strange")}}, NetworkError, goErr("*net.OpError")},
		{"plain error text is matched", Failure{Err: errors.New("Connection refused by vCenter")}, ConnectionError, ev("builtin.message", "error", "Connection refused")},
		{"context canceled is not classified", Failure{Err: context.Canceled}, UnknownError, ev("none", "", "")},

		// HTTP statuses.
		{"408", Failure{HTTPStatus: 408}, Timeout, status("408")},
		{"429", Failure{HTTPStatus: 429}, RateLimitExceeded, status("429")},
		{"500", Failure{HTTPStatus: 500}, TemporaryFailure, status("500")},
		{"502", Failure{HTTPStatus: 502}, TemporaryFailure, status("502")},
		{"503", Failure{HTTPStatus: 503}, ServiceUnavailable, status("503")},
		{"504", Failure{HTTPStatus: 504}, Timeout, status("504")},
		{"401", Failure{HTTPStatus: 401}, AuthenticationError, status("401")},
		{"403", Failure{HTTPStatus: 403}, AuthorizationError, status("403")},
		{"404", Failure{HTTPStatus: 404}, ResourceNotFound, status("404")},
		{"400", Failure{HTTPStatus: 400}, InvalidParameter, status("400")},
		{"422", Failure{HTTPStatus: 422}, InvalidParameter, status("422")},
		{"409", Failure{HTTPStatus: 409}, ResourceBusy, status("409")},
		{"423", Failure{HTTPStatus: 423}, ResourceBusy, status("423")},
		{"407", Failure{HTTPStatus: 407}, AuthenticationError, status("407")},
		{"410", Failure{HTTPStatus: 410}, ResourceNotFound, status("410")},
		{"425", Failure{HTTPStatus: 425}, TemporaryFailure, status("425")},
		{"501", Failure{HTTPStatus: 501}, ConfigurationError, status("501")},
		{"507", Failure{HTTPStatus: 507}, QuotaExceeded, status("507")},
		{"other 4xx", Failure{HTTPStatus: 418}, InvalidParameter, status("418")},
		{"other 5xx", Failure{HTTPStatus: 599}, TemporaryFailure, status("599")},
		{"3xx falls through", Failure{HTTPStatus: 302}, UnknownError, ev("none", "", "")},
		{"status before message", Failure{HTTPStatus: 404, Message: "connection refused"}, ResourceNotFound, status("404")},

		// Exit codes.
		{"exit 124 timeout(1)", Failure{ExitCode: new(124)}, Timeout, exitCode("124")},
		{"exit 137 killed", Failure{ExitCode: new(137), Stderr: "Killed"}, Timeout, exitCode("137")},
		{"exit 126", Failure{ExitCode: new(126)}, PermissionError, exitCode("126")},
		{"exit 127", Failure{ExitCode: new(127)}, ConfigurationError, exitCode("127")},
		{"exit 75 EX_TEMPFAIL", Failure{ExitCode: new(75)}, TemporaryFailure, exitCode("75")},
		{"exit 77 EX_NOPERM", Failure{ExitCode: new(77)}, PermissionError, exitCode("77")},
		{"exit 78 EX_CONFIG", Failure{ExitCode: new(78)}, ConfigurationError, exitCode("78")},
		{"exit 1 says nothing", Failure{ExitCode: new(1)}, UnknownError, ev("none", "", "")},
		{"exit 1 with stderr", Failure{ExitCode: new(1), Stderr: "open /etc/x: Permission denied"}, PermissionError,
			ev("builtin.message", "stderr", "Permission denied")},

		// The attempt ran out of time.
		{"timed out wins over message", Failure{TimedOut: true, Message: "Authentication failed"}, Timeout, ev("builtin.timed_out", "timed_out", "true")},

		// Messages.
		{"reference: Connection timeout to vCenter", Failure{Message: "Connection timeout to vCenter"}, ConnectionError, msg("Connection timeout")},
		{"reference: VM creation timeout", Failure{Message: "VM creation timeout"}, Timeout, msg("timeout")},
		{"connection timed out", Failure{Message: "connect: connection timed out"}, ConnectionError, msg("connection timed out")},
		{"connection refused upper case", Failure{Message: "CONNECTION REFUSED"}, ConnectionError, msg("CONNECTION REFUSED")},
		{"reset by peer", Failure{Message: "read: reset by peer"}, ConnectionError, msg("reset by peer")},
		{"network unreachable", Failure{Message: "connect: network is unreachable"}, ConnectionError, msg("unreachable")},
		{"failed to connect", Failure{Message: "Failed to connect to 10.0.0.5"}, ConnectionError, msg("Failed to connect")},
		{"name resolution before temporary", Failure{Message: "Temporary failure in name resolution"}, NetworkError, msg("name resolution")},
		{"no such host", Failure{Message: "lookup vc01: no such host"}, NetworkError, msg("no such host")},
		{"timed out", Failure{Message: "Task timed out after 600 seconds"}, Timeout, msg("timed out")},
		{"login timed out is retried", Failure{Message: "Login timed out"}, Timeout, msg("timed out")},
		{"temporarily unavailable", Failure{Message: "Resource temporarily unavailable"}, TemporaryFailure, msg("temporarily unavailable")},
		{"try again", Failure{Message: "Could not acquire lease, try again"}, TemporaryFailure, msg("try again")},
		{"503 text", Failure{Message: "HTTP 503"}, ServiceUnavailable, msg("503")},
		{"service temporarily unavailable", Failure{Message: "Service Temporarily Unavailable"}, ServiceUnavailable, msg("Service Temporarily Unavailable")},
		{"rate limit", Failure{Message: "API rate limit exceeded"}, RateLimitExceeded, msg("rate limit")},
		{"too many requests", Failure{Message: "Too Many Requests"}, RateLimitExceeded, msg("Too Many Requests")},
		{"throttled", Failure{Message: "Request was throttled"}, RateLimitExceeded, msg("throttl")},
		{"busy", Failure{Message: "Datastore is busy"}, ResourceBusy, msg("busy")},
		{"locked", Failure{Message: "Object is locked by another task"}, ResourceBusy, msg("locked")},
		{"in use", Failure{Message: "Address already in use"}, ResourceBusy, msg("in use")},
		{"conflict", Failure{Message: "409 Conflict"}, ResourceBusy, msg("409")},
		{"authentication", Failure{Message: "Authentication failed for user root"}, AuthenticationError, msg("Authenticat")},
		{"invalid credentials", Failure{Message: "Invalid credentials"}, AuthenticationError, msg("Invalid credentials")},
		{"login failed", Failure{Message: "Login failed"}, AuthenticationError, msg("Login failed")},
		{"unauthorized", Failure{Message: "401 Unauthorized"}, AuthenticationError, msg("401")},
		{"locked account fails fast", Failure{Message: "account locked: authentication failed"}, AuthenticationError, msg("authenticat")},
		{"forbidden", Failure{Message: "403 Forbidden"}, AuthorizationError, msg("403")},
		{"not authorized", Failure{Message: "User is not authorized to perform this action"}, AuthorizationError, msg("not authorized")},
		{"permission denied", Failure{Message: "Permission denied"}, PermissionError, msg("Permission denied")},
		{"access denied", Failure{Message: "Access denied for user"}, PermissionError, msg("Access denied")},
		{"not found", Failure{Message: "VM 'web01' not found"}, ResourceNotFound, msg("not found")},
		{"does not exist", Failure{Message: "Datastore ds9 does not exist"}, ResourceNotFound, msg("does not exist")},
		{"404 text", Failure{Message: "Error 404"}, ResourceNotFound, msg("404")},
		{"quota", Failure{Message: "Quota exceeded for project"}, QuotaExceeded, msg("Quota")},
		{"insufficient capacity", Failure{Message: "Insufficient capacity on cluster"}, QuotaExceeded, msg("Insufficient capacity")},
		{"invalid parameter", Failure{Message: "Invalid parameter: num_cpus"}, InvalidParameter, msg("Invalid parameter")},
		{"invalid value", Failure{Message: "invalid value for memory_mb"}, InvalidParameter, msg("invalid value")},
		{"configuration", Failure{Message: "Bad configuration option"}, ConfigurationError, msg("configuration")},
		{"misconfigured", Failure{Message: "Proxy is misconfigured"}, ConfigurationError, msg("misconfigur")},
		{"numbers need word boundaries", Failure{Message: "listening on port 4010"}, UnknownError, ev("none", "", "")},
		{"busybox is not busy", Failure{Message: "busybox exited"}, UnknownError, ev("none", "", "")},
		{"blocked is not locked", Failure{Message: "request blocked"}, UnknownError, ev("none", "", "")},
		{"user is not in use", Failure{Message: "log in user admin"}, UnknownError, ev("none", "", "")},
		{"nothing matches", Failure{Message: "Something odd happened"}, UnknownError, ev("none", "", "")},
		{"empty failure", Failure{}, UnknownError, ev("none", "", "")},

		// Tools' own wording (wordingRules) wins over general words, in any field.
		{"vendor auth wording beats a general timed out in the message", Failure{Message: "task timed out",
			Stderr: "govc: ServerFaultCode: Cannot complete login due to an incorrect user name or password."}, AuthenticationError,
			ev("builtin.message", "stderr", "incorrect user name or password")},
		{"the attempt's own timeout still wins", Failure{TimedOut: true, Stderr: "ServerFaultCode: InvalidLogin"}, Timeout,
			ev("builtin.timed_out", "timed_out", "true")},
		{"ssh auth beats failed to connect", Failure{Message: "Failed to connect to the host via ssh: u@h: Permission denied (publickey)."},
			AuthenticationError, msg("Permission denied (publickey")},
		{"a local permission denied stays local", Failure{Message: "open /etc/x: Permission denied (os error 13)"}, PermissionError,
			msg("Permission denied")},
		{"certificate beats unable to connect", Failure{Message: "Unable to connect to vCenter: [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed"},
			ConfigurationError, msg("certificate verify failed")},
		{"curl code from the prefix", Failure{ExitCode: new(28), Stderr: "curl: (28) Failed to connect to vc port 443 after 3000 ms: Timeout was reached"},
			Timeout, ev("builtin.message", "stderr", "curl: (28) ")},
		{"curl code not mapped falls through to the words", Failure{Stderr: "curl: (35) OpenSSL SSL_connect: Connection reset by peer in connection to vc:443"},
			ConnectionError, ev("builtin.message", "stderr", "Connection reset")},
		{"curl 22 takes the status", Failure{Stderr: "curl: (22) The requested URL returned error: 599"}, TemporaryFailure,
			ev("builtin.message", "stderr", "returned error: 599")},
		{"a 2xx status line says nothing", Failure{Stdout: "HTTP/1.1 200 OK", Message: "Something odd happened"}, UnknownError, ev("none", "", "")},
		{"status -1 is not a status", Failure{Message: "Status code was -1 and not [200]: Connection failure: connection was closed before a valid response was received"},
			ConnectionError, msg("connection was closed")},
		{"fault names are whole words", Failure{Message: "xinvalidloginy xnopermissiony xduplicatenamey"}, UnknownError, ev("none", "", "")},
		{"fault type name", Failure{Message: "*types.TaskInProgress"}, ResourceBusy, msg("TaskInProgress")},

		// Fields in order: message, error, stderr, stdout.
		{"message before stderr", Failure{Message: "quota reached", Stderr: "connection refused"}, QuotaExceeded, msg("quota")},
		{"stderr before stdout", Failure{Message: "task failed", Stderr: "permission denied", Stdout: "timed out"}, PermissionError,
			ev("builtin.message", "stderr", "permission denied")},
		{"stdout last", Failure{Stdout: "waiting... connection reset"}, ConnectionError, ev("builtin.message", "stdout", "connection reset")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, gotEv := (*Classifier)(nil).Classify(tt.failure)
			if got != tt.want {
				t.Errorf("Classify() type = %s, want %s", got, tt.want)
			}
			if diff := cmp.Diff(tt.wantEv, gotEv); diff != "" {
				t.Errorf("Classify() evidence mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestClassifyUserRules(t *testing.T) {
	t.Parallel()
	c, err := NewClassifier([]Rule{
		{Type: ResourceBusy, Pattern: `vCenter`, Field: FieldMessage},
		{Type: ResourceBusy, ExitCode: new(1), Pattern: `lock`, Field: FieldStderr},
		{Type: QuotaExceeded, HTTPStatus: 500},
		{Type: TemporaryFailure, ExitCode: new(3)},
		{Type: InvalidParameter, Pattern: `(?-i)STRICT`},
		{Type: Timeout, Pattern: `slow`},
		{Type: AuthenticationError, Pattern: `slow`}, // never reached: the rule before wins
	})
	if err != nil {
		t.Fatalf("NewClassifier: %v", err)
	}
	tests := []struct {
		name    string
		failure Failure
		want    ErrorType
		wantEv  Evidence
	}{
		{"user rule wins over built-in message", Failure{Message: "Connection timeout to vCenter"}, ResourceBusy, ev("rules[0]", "message", "vCenter")},
		{"field restricts the pattern", Failure{Stderr: "Connection timeout to vCenter"}, ConnectionError, ev("builtin.message", "stderr", "Connection timeout")},
		{"all conditions must hold", Failure{ExitCode: new(1), Stderr: "dpkg: LOCK held"}, ResourceBusy, ev("rules[1]", "stderr", "LOCK")},
		{"exit code mismatch", Failure{ExitCode: new(2), Stderr: "dpkg lock held"}, UnknownError, ev("none", "", "")},
		{"exit code missing", Failure{Stderr: "dpkg lock held"}, UnknownError, ev("none", "", "")},
		{"user status wins over built-in", Failure{HTTPStatus: 500}, QuotaExceeded, ev("rules[2]", "http_status", "500")},
		{"user exit code", Failure{ExitCode: new(3)}, TemporaryFailure, ev("rules[3]", "exit_code", "3")},
		{"user rule wins over timed out", Failure{ExitCode: new(3), TimedOut: true}, TemporaryFailure, ev("rules[3]", "exit_code", "3")},
		{"case-sensitive opt-in matches", Failure{Message: "STRICT mode"}, InvalidParameter, ev("rules[4]", "message", "STRICT")},
		{"case-sensitive opt-in", Failure{Message: "strict mode"}, UnknownError, ev("none", "", "")},
		{"first matching rule wins", Failure{Message: "SLOW disk"}, Timeout, ev("rules[5]", "message", "SLOW")},
		{"any field includes the error text", Failure{Err: errors.New("so slow")}, Timeout, ev("rules[5]", "error", "slow")},
		{"built-ins still apply", Failure{HTTPStatus: 503}, ServiceUnavailable, status("503")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, gotEv := c.Classify(tt.failure)
			if got != tt.want {
				t.Errorf("Classify() type = %s, want %s", got, tt.want)
			}
			if diff := cmp.Diff(tt.wantEv, gotEv); diff != "" {
				t.Errorf("Classify() evidence mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNewClassifierValidation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		rule Rule
		want []string
	}{
		{"valid pattern", Rule{Type: Timeout, Pattern: "slow"}, nil},
		{"valid unknown_error target", Rule{Type: UnknownError, ExitCode: new(1)}, nil},
		{"missing type", Rule{Pattern: "x"}, []string{"rules[0].error_type is required"}},
		{"unknown type", Rule{Type: "flaky", Pattern: "x"},
			[]string{`rules[0].error_type must be one of connection_error, timeout, temporary_failure, network_error, service_unavailable, rate_limit_exceeded, resource_busy, authentication_error, authorization_error, permission_error, resource_not_found, configuration_error, invalid_parameter, quota_exceeded, unknown_error, got "flaky"`}},
		{"reserved type", Rule{Type: BulkheadFull, Pattern: "x"},
			[]string{"rules[0].error_type must not be bulkhead_full: reserved error types are set by the engine"}},
		{"no condition", Rule{Type: Timeout}, []string{"rules[0] must set at least one of pattern, exit_code, http_status"}},
		{"bad regexp", Rule{Type: Timeout, Pattern: "(slow"},
			[]string{"rules[0].pattern is not a valid regular expression: error parsing regexp: missing closing ): `(?i)(slow`"}},
		{"bad field", Rule{Type: Timeout, Pattern: "x", Field: "body"},
			[]string{`rules[0].field must be one of any, message, error, stderr, stdout, got "body"`}},
		{"field without pattern", Rule{Type: Timeout, Field: FieldStderr, ExitCode: new(1)},
			[]string{"rules[0].field needs a pattern to match against stderr"}},
		{"bad status", Rule{Type: Timeout, HTTPStatus: 42}, []string{"rules[0].http_status must be between 100 and 599, got 42"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := NewClassifier([]Rule{tt.rule})
			if tt.want == nil {
				if err != nil || c == nil {
					t.Fatalf("NewClassifier() = %v, %v; want a classifier", c, err)
				}
				return
			}
			if err == nil || c != nil {
				t.Fatalf("NewClassifier() = %v, %v; want error %q", c, err, tt.want)
			}
			if got := strings.Split(err.Error(), "\n"); !cmp.Equal(got, tt.want) {
				t.Errorf("NewClassifier() messages mismatch (-want +got):\n%s", cmp.Diff(tt.want, got))
			}
		})
	}
}

func TestNewClassifierNamesEachRule(t *testing.T) {
	t.Parallel()
	_, err := NewClassifier([]Rule{
		{Type: Timeout, Pattern: "ok"},
		{Type: Timeout, Pattern: "[bad"},
		{Pattern: "x", HTTPStatus: 700},
	})
	want := []string{
		"rules[1].pattern is not a valid regular expression: error parsing regexp: missing closing ]: `[bad`",
		"rules[2].error_type is required",
		"rules[2].http_status must be between 100 and 599, got 700",
	}
	if err == nil {
		t.Fatal("NewClassifier() = nil error")
	}
	if diff := cmp.Diff(want, strings.Split(err.Error(), "\n")); diff != "" {
		t.Errorf("messages mismatch (-want +got):\n%s", diff)
	}
	var ve *field.Error
	if !errors.As(err, &ve) || ve.Path != "rules[1].pattern" || ve.Unwrap() == nil {
		t.Errorf("first *field.Error = %+v, want rules[1].pattern wrapping the regexp error", ve)
	}
}

func TestFailureSummary(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("é", MaxErrorMessageBytes) // two bytes each
	tests := []struct {
		name    string
		failure Failure
		want    string
	}{
		{"message first", Failure{Message: "boom", Err: errors.New("err"), Stderr: "stderr"}, "boom"},
		{"then the error", Failure{Err: errors.New("dial failed"), Stderr: "stderr"}, "dial failed"},
		{"then stderr, trimmed", Failure{Stderr: "  no space left\n", Stdout: "out"}, "no space left"},
		{"then stdout", Failure{Stdout: "out"}, "out"},
		{"then the status", Failure{HTTPStatus: 503}, "HTTP status 503"},
		{"then the exit code", Failure{ExitCode: new(2)}, "exit code 2"},
		{"then the timeout", Failure{TimedOut: true}, "attempt timed out"},
		{"else", Failure{}, "failed without details"},
		{"long text is cut on a rune boundary", Failure{Message: long}, long[:MaxErrorMessageBytes-4] + "…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := tt.failure.Summary()
			if got != tt.want {
				t.Errorf("Summary() = %q, want %q", got, tt.want)
			}
			if len(got) > MaxErrorMessageBytes {
				t.Errorf("len(Summary()) = %d, want at most %d", len(got), MaxErrorMessageBytes)
			}
		})
	}
}

func TestEvidenceMatchIsCut(t *testing.T) {
	t.Parallel()
	c, err := NewClassifier([]Rule{{Type: Timeout, Pattern: `x+`}})
	if err != nil {
		t.Fatal(err)
	}
	_, got := c.Classify(Failure{Stdout: strings.Repeat("x", 5000)})
	if len(got.Match) > MaxEvidenceBytes || !strings.HasSuffix(got.Match, "…") {
		t.Errorf("evidence match of %d bytes, want at most %d ending in …", len(got.Match), MaxEvidenceBytes)
	}
}

func TestClassifyScansTheTail(t *testing.T) {
	t.Parallel()
	head := "connection refused\n" + strings.Repeat("é", MaxScanBytes) // the head is beyond the scan window
	typ, _ := (*Classifier)(nil).Classify(Failure{Stdout: head + "\nPermission denied"})
	if typ != PermissionError {
		t.Errorf("Classify() = %s, want the tail's permission_error", typ)
	}
	typ, _ = (*Classifier)(nil).Classify(Failure{Stdout: head})
	if typ != UnknownError {
		t.Errorf("Classify() = %s, want unknown_error: the head is not scanned", typ)
	}
	if got := tail("aé", 1); got != "" {
		t.Errorf("tail cut a rune: %q", got)
	}
}
