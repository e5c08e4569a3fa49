package retry

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io/fs"
	"net"
	"os/exec"
	"regexp"
	"strconv"
	"syscall"
)

// goErrorRule classifies a Go error with errors.Is or errors.As.
type goErrorRule struct {
	name  string // shown as Evidence.Match
	typ   ErrorType
	match func(error) bool
}

func is(target error) func(error) bool {
	return func(err error) bool { return errors.Is(err, target) }
}

func as[E error](err error) bool {
	_, ok := errors.AsType[E](err)
	return ok
}

// goErrorRules are tried in order; the order matters where one error wraps
// another (a *net.OpError wraps a *net.DNSError or an errno).
//
// TLS decision: a certificate that fails verification (unknown authority,
// wrong host name, expired or otherwise invalid) and a peer that does not
// speak TLS are configuration_error: retrying cannot fix them, a CA bundle,
// host name or URL scheme must change. Other TLS failures (a handshake cut
// short by a reset) fall through to the connection rules.
//
// DNS decision: every *net.DNSError is network_error, including "no such
// host" and DNS timeouts, as name resolution often recovers.
var goErrorRules = []goErrorRule{
	{"context.DeadlineExceeded", Timeout, is(context.DeadlineExceeded)},
	{"x509.UnknownAuthorityError", ConfigurationError, as[x509.UnknownAuthorityError]},
	{"x509.HostnameError", ConfigurationError, as[x509.HostnameError]},
	{"x509.CertificateInvalidError", ConfigurationError, as[x509.CertificateInvalidError]},
	{"*tls.CertificateVerificationError", ConfigurationError, as[*tls.CertificateVerificationError]},
	{"tls.RecordHeaderError", ConfigurationError, as[tls.RecordHeaderError]},
	{"*net.DNSError", NetworkError, as[*net.DNSError]},
	{"syscall.ECONNREFUSED", ConnectionError, is(syscall.ECONNREFUSED)},
	{"syscall.ECONNRESET", ConnectionError, is(syscall.ECONNRESET)},
	{"syscall.ECONNABORTED", ConnectionError, is(syscall.ECONNABORTED)},
	{"syscall.EPIPE", ConnectionError, is(syscall.EPIPE)},
	{"syscall.EHOSTUNREACH", ConnectionError, is(syscall.EHOSTUNREACH)},
	{"syscall.ENETUNREACH", ConnectionError, is(syscall.ENETUNREACH)},
	{"syscall.ETIMEDOUT", Timeout, is(syscall.ETIMEDOUT)},
	{"net.Error.Timeout", Timeout, func(err error) bool {
		ne, ok := errors.AsType[net.Error](err)
		return ok && ne.Timeout()
	}},
	{"exec.ErrNotFound", ConfigurationError, is(exec.ErrNotFound)},
	{"fs.ErrPermission", PermissionError, is(fs.ErrPermission)},
	{"fs.ErrNotExist", ResourceNotFound, is(fs.ErrNotExist)},
	{"*net.OpError", NetworkError, as[*net.OpError]},
}

// statusTypes classifies HTTP statuses; see statusType for the others.
var statusTypes = map[int]ErrorType{
	400: InvalidParameter,
	401: AuthenticationError,
	403: AuthorizationError,
	404: ResourceNotFound,
	407: AuthenticationError, // proxy authentication required
	408: Timeout,
	409: ResourceBusy,
	410: ResourceNotFound, // gone
	422: InvalidParameter,
	423: ResourceBusy,     // locked
	425: TemporaryFailure, // too early: the server asks to try again
	429: RateLimitExceeded,
	500: TemporaryFailure,
	501: ConfigurationError, // not implemented: wrong endpoint or API version
	502: TemporaryFailure,
	503: ServiceUnavailable,
	504: Timeout,
	507: QuotaExceeded, // insufficient storage
}

// statusType classifies an HTTP status. Statuses not in statusTypes fall
// back by class: other 4xx are invalid_parameter (the request is wrong and
// will stay wrong), other 5xx are temporary_failure; below 400 no type.
func statusType(code int) (ErrorType, bool) {
	if t, ok := statusTypes[code]; ok {
		return t, true
	}
	switch {
	case code >= 400 && code <= 499:
		return InvalidParameter, true
	case code >= 500 && code <= 599:
		return TemporaryFailure, true
	}
	return "", false
}

// exitCodeTypes classifies process exit codes that carry a meaning of their
// own. Other codes (1 above all) say nothing; the messages decide.
var exitCodeTypes = map[int]ErrorType{
	75:  TemporaryFailure,   // EX_TEMPFAIL (sysexits.h)
	77:  PermissionError,    // EX_NOPERM
	78:  ConfigurationError, // EX_CONFIG
	124: Timeout,            // timeout(1): the command timed out
	126: PermissionError,    // found but not executable
	127: ConfigurationError, // command not found
	137: Timeout,            // 128+SIGKILL, as after timeout -s KILL (the OOM killer looks the same)
}

// messagePatterns are tried in order on each text field. They are lower
// case and matched against the ASCII-lowercased text (see lowerASCII), which
// makes them case-insensitive and several times faster than (?i).
// The order matters:
//   - connection problems come first, so that "Connection timeout to
//     vCenter" is connection_error (the connection could not be made), not
//     timeout; the same text from a Go error (a dial timeout, a net.Error)
//     is classified as timeout by the Go error rules: both are retried;
//   - name resolution comes before temporary_failure ("Temporary failure in
//     name resolution" is network_error);
//   - the other retryable transport signs (timeout, throttling, 503, 500/502)
//     come before the non-retryable types, so that "login timed out" is
//     retried;
//   - the non-retryable types come before resource_busy, whose words
//     (locked, in use, conflict) are the broadest, so that "account locked:
//     authentication failed" fails fast;
//   - configuration, the vaguest word, is last.
var messagePatterns = []struct {
	typ ErrorType
	re  *regexp.Regexp
}{
	{ConnectionError, regexp.MustCompile(`connection (?:timed? ?out|timeout|refused|reset|aborted|closed|failed|lost)|reset by peer|unreachable|no route to host|(?:failed|unable|could not) to connect|broken pipe`)},
	{NetworkError, regexp.MustCompile(`no such host|unknown host|could not resolve|name resolution|name or service not known|network (?:error|is down)`)},
	{Timeout, regexp.MustCompile(`timed? ?out|deadline exceeded`)},
	{RateLimitExceeded, regexp.MustCompile(`rate.?limit|too many requests|throttl|\b429\b`)},
	{ServiceUnavailable, regexp.MustCompile(`\b503\b|service (?:temporarily )?unavailable`)},
	{TemporaryFailure, regexp.MustCompile(`temporar(?:il)?y unavailable|temporary failure|try again|\b50[02]\b|internal server error|bad gateway`)},
	{AuthenticationError, regexp.MustCompile(`authenticat|invalid credentials|login failed|unauthori[sz]ed|\b401\b`)},
	{AuthorizationError, regexp.MustCompile(`forbidden|not authori[sz]ed|\b403\b`)},
	{PermissionError, regexp.MustCompile(`permission denied|access denied|operation not permitted`)},
	{QuotaExceeded, regexp.MustCompile(`quota|insufficient capacity`)},
	{ResourceNotFound, regexp.MustCompile(`not found|does not exist|no such (?:file|directory|resource)|\b404\b`)},
	{ResourceBusy, regexp.MustCompile(`\bbusy\b|\blocked\b|\bin use\b|conflict|\b(?:409|423)\b`)},
	{InvalidParameter, regexp.MustCompile(`invalid (?:parameter|argument|value)|\b(?:400|422)\b`)},
	{ConfigurationError, regexp.MustCompile(`configuration|misconfigur`)},
}

// classifyBuiltin applies the built-in rules in the order documented on Classify.
func classifyBuiltin(f *Failure, texts *[4]string) (ErrorType, Evidence) {
	if f.TimedOut {
		return Timeout, Evidence{Rule: "builtin.timed_out", Field: "timed_out", Match: "true"}
	}
	if f.Err != nil {
		for _, r := range goErrorRules {
			if r.match(f.Err) {
				return r.typ, Evidence{Rule: "builtin.go_error", Field: string(FieldError), Match: r.name}
			}
		}
	}
	if t, ok := statusType(f.HTTPStatus); ok {
		return t, Evidence{Rule: "builtin.http_status", Field: "http_status", Match: strconv.Itoa(f.HTTPStatus)}
	}
	if f.ExitCode != nil {
		if t, ok := exitCodeTypes[*f.ExitCode]; ok {
			return t, Evidence{Rule: "builtin.exit_code", Field: "exit_code", Match: strconv.Itoa(*f.ExitCode)}
		}
	}
	for i, text := range texts {
		lower := lowerASCII(text)
		for _, p := range messagePatterns {
			if loc := p.re.FindStringIndex(lower); loc != nil {
				return p.typ, Evidence{Rule: "builtin.message", Field: string(textFields[i]), Match: clip(text[loc[0]:loc[1]], MaxEvidenceBytes)}
			}
		}
	}
	return UnknownError, Evidence{Rule: "none"}
}

// lowerASCII lowers ASCII letters only, so that byte offsets into the result
// are offsets into s.
func lowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}
