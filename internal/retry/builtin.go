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

// A messageRule matches the ASCII-lowercased text of a field (see
// lowerASCII), which makes it case-insensitive and several times faster
// than (?i). Its type is typ, or, when resolve is set, what resolve makes of
// the submatches of a match (a status or an exit code found in the text);
// resolve returning false means that match says nothing.
type messageRule struct {
	typ     ErrorType
	re      *regexp.Regexp
	resolve func(sub []string) (ErrorType, bool)
}

// find returns the type and the byte range of the rule's match in lower.
// With resolve, the last resolvable match wins: the final status line after
// redirects, the last error a tool printed.
func (r *messageRule) find(lower string) (ErrorType, []int, bool) {
	if r.resolve == nil {
		loc := r.re.FindStringIndex(lower)
		if loc == nil {
			return "", nil, false
		}
		return r.typ, loc, true
	}
	all := r.re.FindAllStringSubmatchIndex(lower, -1)
	for i := len(all) - 1; i >= 0; i-- {
		m := all[i]
		sub := make([]string, len(m)/2)
		for j := range sub {
			if m[2*j] >= 0 {
				sub[j] = lower[m[2*j]:m[2*j+1]]
			}
		}
		if t, ok := r.resolve(sub); ok {
			return t, m[:2], true
		}
	}
	return "", nil, false
}

// wordingRules hold the exact wording of the tools that retried jobs run:
// curl, ssh, govc and govmomi, pyvmomi and community.vmware, Go's and
// Python's TLS stacks, HTTP status lines. Each is backed by a fixture in
// testdata/classify that names the source of the wording. They are tried on
// every field before any of messagePatterns, so that a tool's own words win
// over a vague word elsewhere: "Failed to connect to the host via ssh:
// u@h: Permission denied (publickey)." is an authentication failure, not a
// connection problem, and a TLS certificate that fails verification is
// configuration_error even inside "Unable to connect to vCenter".
//
// vSphere faults appear by their wording from vCenter ("Cannot complete
// login due to an incorrect user name or password."), or, when the fault
// carries no message (vcsim, pyvmomi's str() of a fault, a task's fault in
// vcsim), by their type name: "ServerFaultCode: DuplicateName",
// "*types.ResourceInUse", "(vim.fault.InvalidLogin) {". Decisions:
// NotAuthenticated (a session that is not logged in) is authentication_error
// like InvalidLogin: each govc or Ansible task logs in again, so a
// NotAuthenticated that reaches us is not a session that expired in between;
// DuplicateName is invalid_parameter: the same request names an object that
// exists and cannot succeed on retry (use an idempotency check for a create
// that may have happened).
var wordingRules = []messageRule{
	// curl: "curl: (<exit code>) <message>" (src/tool_operate.c). Exit code
	// 22 (-f) carries the HTTP status: the status rule below decides.
	{re: regexp.MustCompile(`curl: \((\d{1,3})\) `), resolve: func(sub []string) (ErrorType, bool) {
		code, _ := strconv.Atoi(sub[1])
		t, ok := curlExitTypes[code]
		return t, ok
	}},
	// An HTTP status: a status line (HTTP/1.1 503 Service Unavailable),
	// ansible's uri ("Status code was 503 and not [200]"), Python's urllib
	// ("HTTP Error 503: ..."), curl and git ("The requested URL returned
	// error: 503").
	{re: regexp.MustCompile(`(?:\bhttp/\d(?:\.\d)? |\bstatus code was |\bhttp error |returned error: )([1-5]\d\d)\b`),
		resolve: func(sub []string) (ErrorType, bool) {
			code, _ := strconv.Atoi(sub[1])
			return statusType(code)
		}},
	// A certificate that fails verification: Go (x509: ..., tls: failed to
	// verify certificate), Python and OpenSSL (certificate verify failed),
	// curl (SSL certificate problem).
	{ConfigurationError, regexp.MustCompile(`\bx509: |tls: failed to verify certificate|certificate verify failed|ssl certificate problem`), nil},
	// OpenSSH: the server refused every authentication method, or the host
	// key is unknown or changed, or the client's files have unsafe modes.
	{AuthenticationError, regexp.MustCompile(`permission denied \((?:publickey|password|keyboard-interactive|gssapi|hostbased)|too many authentication failures`), nil},
	{ConfigurationError, regexp.MustCompile(`host key verification failed|remote host identification has changed|bad owner or permissions on`), nil},
	// vSphere: InvalidLogin and NotAuthenticated; community.vmware's message
	// for InvalidLogin.
	{AuthenticationError, regexp.MustCompile(`incorrect user name or password|\blogin failure\b|\binvalidlogin\b|\bnotauthenticated\b|\bunable to log on to vcenter`), nil},
	// vSphere NoPermission; community.vmware's message for it.
	{AuthorizationError, regexp.MustCompile(`\bnopermission\b|does not have required permission`), nil},
	// vSphere InvalidArgument and DuplicateName; govc asking for a choice.
	{InvalidParameter, regexp.MustCompile(`\binvalidargument\b|a specified parameter was not correct|\bduplicatename\b|resolves to multiple instances`), nil},
	// vSphere ResourceInUse and TaskInProgress: another operation holds it.
	{ResourceBusy, regexp.MustCompile(`\bresourceinuse\b|\btaskinprogress\b`), nil},
	// vSphere Timedout.
	{Timeout, regexp.MustCompile(`\btimedout\b`), nil},
	// community.vmware: connection settings missing, or a request vCenter
	// could not parse (InvalidRequest: a wrong endpoint or API version).
	{ConfigurationError, regexp.MustCompile(`parameter is missing|request is malformed`), nil},
}

// curlExitTypes classifies curl's exit codes (CURLE_* in include/curl/curl.h)
// when curl printed "curl: (<code>) ..."; codes not listed leave the text to
// the other rules. Alone, an exit code says nothing: other tools use the
// same numbers, and `curl -s` prints no message (use -sS, or a rule with
// exit_code).
var curlExitTypes = map[int]ErrorType{
	1:  InvalidParameter,    // CURLE_UNSUPPORTED_PROTOCOL: the URL's scheme
	3:  InvalidParameter,    // CURLE_URL_MALFORMAT
	5:  NetworkError,        // CURLE_COULDNT_RESOLVE_PROXY
	6:  NetworkError,        // CURLE_COULDNT_RESOLVE_HOST
	7:  ConnectionError,     // CURLE_COULDNT_CONNECT
	9:  AuthorizationError,  // CURLE_REMOTE_ACCESS_DENIED
	18: ConnectionError,     // CURLE_PARTIAL_FILE: the transfer was cut short
	28: Timeout,             // CURLE_OPERATION_TIMEDOUT
	47: ConfigurationError,  // CURLE_TOO_MANY_REDIRECTS
	52: ConnectionError,     // CURLE_GOT_NOTHING: empty reply from server
	55: ConnectionError,     // CURLE_SEND_ERROR
	56: ConnectionError,     // CURLE_RECV_ERROR
	58: ConfigurationError,  // CURLE_SSL_CERTPROBLEM: the local client certificate
	60: ConfigurationError,  // CURLE_PEER_FAILED_VERIFICATION
	67: AuthenticationError, // CURLE_LOGIN_DENIED
	77: ConfigurationError,  // CURLE_SSL_CACERT_BADFILE
	78: ResourceNotFound,    // CURLE_REMOTE_FILE_NOT_FOUND
	83: ConfigurationError,  // CURLE_SSL_ISSUER_ERROR
}

// messagePatterns are the general words, tried in order on each field after
// every wordingRule has failed on every field.
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
var messagePatterns = []messageRule{
	{ConnectionError, regexp.MustCompile(`connection (?:was )?(?:timed? ?out|timeout|refused|reset|aborted|closed|failed|lost)|reset by peer|unreachable|no route to host|(?:failed|unable|could not) to connect|broken pipe`), nil},
	{NetworkError, regexp.MustCompile(`no such host|unknown host|could not resolve|name resolution|name or service not known|no address associated with hostname|server misbehaving|network (?:error|is down)`), nil},
	{Timeout, regexp.MustCompile(`timed? ?out|deadline exceeded`), nil},
	{RateLimitExceeded, regexp.MustCompile(`rate.?limit|too many requests|throttl|\b429\b`), nil},
	{ServiceUnavailable, regexp.MustCompile(`\b503\b|service (?:temporarily )?unavailable`), nil},
	{TemporaryFailure, regexp.MustCompile(`temporar(?:il)?y unavailable|temporary failure|try again|\b50[02]\b|internal server error|bad gateway`), nil},
	{AuthenticationError, regexp.MustCompile(`authenticat|invalid credentials|login failed|unauthori[sz]ed|\b401\b`), nil},
	{AuthorizationError, regexp.MustCompile(`forbidden|not authori[sz]ed|\b403\b`), nil},
	{PermissionError, regexp.MustCompile(`permission denied|access denied|operation not permitted`), nil},
	{QuotaExceeded, regexp.MustCompile(`quota|insufficient capacity`), nil},
	{ResourceNotFound, regexp.MustCompile(`not found|does not exist|no such (?:file|directory|resource)|(?:unable to|failed to|could not|cannot) find\b|\b404\b`), nil},
	{ResourceBusy, regexp.MustCompile(`\bbusy\b|\blocked\b|\bin use\b|conflict|\b(?:409|423)\b`), nil},
	{InvalidParameter, regexp.MustCompile(`invalid (?:parameter|argument|value)|is mandatory|\b(?:400|422)\b`), nil},
	{ConfigurationError, regexp.MustCompile(`configuration|misconfigur`), nil},
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
	var lower [4]string
	for i, text := range texts {
		lower[i] = lowerASCII(text)
	}
	for _, rules := range [2][]messageRule{wordingRules, messagePatterns} {
		for i := range lower {
			if lower[i] == "" {
				continue
			}
			for r := range rules {
				if t, loc, ok := rules[r].find(lower[i]); ok {
					return t, Evidence{Rule: "builtin.message", Field: string(textFields[i]), Match: clip(texts[i][loc[0]:loc[1]], MaxEvidenceBytes)}
				}
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
