package slo

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"

	"resilience.ops/internal/secret"
)

// verdict is an outcome with its reason and message.
type verdict struct {
	outcome Outcome
	reason  Reason
	msg     string
}

// classify maps a query error to an outcome. ctxErr is the check's own
// context error, to tell our timeout from the caller's cancellation.
func classify(err error, src Source, timeout time.Duration, ctxErr error) verdict {
	unknown := func(r Reason, format string, args ...any) verdict {
		return verdict{OutcomeUnknown, r, fmt.Sprintf(format, args...)}
	}
	config := func(r Reason, format string, args ...any) verdict {
		return verdict{OutcomeConfigError, r, fmt.Sprintf(format, args...)}
	}
	var (
		he  *httpError
		ae  *v1.Error
		amb *ambiguousError
		wt  *wrongTypeError
		dns *net.DNSError
		op  *net.OpError
		cve *tls.CertificateVerificationError
		uae x509.UnknownAuthorityError
		hne x509.HostnameError
		cie x509.CertificateInvalidError
		rhe tls.RecordHeaderError
		se  *sampleTimeError
	)
	switch {
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(ctxErr, context.DeadlineExceeded):
		return unknown(ReasonTimeout, "%s did not answer in time (timeout %s)", src, timeout)
	case errors.Is(err, context.Canceled):
		return unknown(ReasonCanceled, "evaluation canceled before %s answered", src)
	case errors.Is(err, errResponseTooLarge):
		return unknown(ReasonTooLarge, "%s sent a response larger than the size limit", src)
	case errors.Is(err, errLogQuery):
		return config(ReasonBadQuery, "%v", err)
	case errors.Is(err, secret.ErrOtherOrigin):
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // its URL is the other origin's, named in err already
		}
		return unknown(ReasonRedirect, "%s answered with a redirect that was not followed, so its data cannot be trusted: %v", src, err)
	case errors.As(err, &se):
		return unknown(ReasonStaleSample, "%v", se)
	case errors.As(err, &he):
		return classifyHTTP(he, src)
	case errors.As(err, &ae):
		return classifyAPI(ae, src)
	case errors.As(err, &amb), errors.As(err, &wt):
		return config(ReasonAmbiguous, "%v", err)
	case errors.As(err, &cve), errors.As(err, &uae), errors.As(err, &hne), errors.As(err, &cie),
		errors.As(err, &rhe), errors.As(err, &op) && op.Op == "remote error": // a TLS alert from the server
		return config(ReasonTLS, "TLS with %s failed (check ca_file, client certificate and the URL scheme): %v", src, err)
	case errors.As(err, &dns), errors.As(err, &op):
		return unknown(ReasonUnreachable, "cannot reach %s: %v", src, err)
	}
	return unknown(ReasonRequestError, "query to %s failed: %v", src, err)
}

// classifyHTTP handles a non-2xx answer. A Prometheus-style errorType in the
// body decides first (Prometheus sends its query timeout as a 503 with
// errorType "timeout"); then the status.
func classifyHTTP(e *httpError, src Source) verdict {
	if v, ok := byErrorType(e.Type, e, src); ok {
		return v
	}
	switch c := e.Code; {
	case c == http.StatusBadRequest: // Loki's query errors: text/plain 400
		return verdict{OutcomeConfigError, ReasonBadQuery, fmt.Sprintf("%s rejected the query: %v", src, e)}
	case c == http.StatusUnauthorized || c == http.StatusForbidden:
		return verdict{OutcomeConfigError, ReasonAuth, fmt.Sprintf("%s refused the request, check the credentials%s: %v", src, tenantHint(src), e)}
	case c == http.StatusNotFound:
		return verdict{OutcomeConfigError, ReasonNotFound, fmt.Sprintf("%s has no query API at this URL, check the URL%s: %v", src, tenantHint(src), e)}
	case c == http.StatusRequestTimeout:
		return verdict{OutcomeUnknown, ReasonTimeout, fmt.Sprintf("%s timed out: %v", src, e)}
	case c == http.StatusTooManyRequests || c >= 500:
		return verdict{OutcomeUnknown, ReasonServerError, fmt.Sprintf("%s failed: %v", src, e)}
	case c >= 400:
		return verdict{OutcomeConfigError, ReasonBadQuery, fmt.Sprintf("%s rejected the request: %v", src, e)}
	}
	return verdict{OutcomeUnknown, ReasonBadResponse, fmt.Sprintf("unexpected answer from %s: %v", src, e)}
}

// classifyAPI handles the v1 errors left once statusClient has taken the
// non-2xx answers: a body that does not decode, or a 2xx with status "error".
func classifyAPI(e *v1.Error, src Source) verdict {
	if v, ok := byErrorType(e.Type, e, src); ok {
		return v
	}
	if e.Type == v1.ErrBadResponse {
		// The decoder quotes a piece of the body, cut wherever it was: it may hold the start of a
		// secret that the server echoed, which scrubbing cannot recognise. Leave the quote out.
		msg := e.Msg
		if i := strings.Index(msg, "...|"); i >= 0 {
			msg = strings.TrimRight(msg[:i], " ,of") + " (the body is not quoted)"
		}
		return verdict{OutcomeUnknown, ReasonBadResponse, fmt.Sprintf("cannot decode the answer of %s: %s", src, msg)}
	}
	return verdict{OutcomeUnknown, ReasonServerError, fmt.Sprintf("%s failed: %v", src, e)}
}

// byErrorType maps the errorType values that Prometheus itself sends.
func byErrorType(t v1.ErrorType, err error, src Source) (verdict, bool) {
	switch t {
	case v1.ErrBadData:
		return verdict{OutcomeConfigError, ReasonBadQuery, fmt.Sprintf("%s rejected the query: %v", src, err)}, true
	case v1.ErrTimeout:
		return verdict{OutcomeUnknown, ReasonTimeout, fmt.Sprintf("%s timed out evaluating the query: %v", src, err)}, true
	case v1.ErrCanceled:
		return verdict{OutcomeUnknown, ReasonCanceled, fmt.Sprintf("%s canceled the query: %v", src, err)}, true
	case v1.ErrExec:
		return verdict{OutcomeUnknown, ReasonExecution, fmt.Sprintf("%s failed to execute the query: %v", src, err)}, true
	}
	return verdict{}, false
}

func tenantHint(src Source) string {
	if b := backendOf(src); b != nil && b.Tenants {
		return " and the tenant (" + TenantHeader + ")"
	}
	return ""
}
