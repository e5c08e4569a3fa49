package retry

import "slices"

// ErrorType is the class a failure is sorted into. The values are the
// error_type strings of the attempt records and of retry_conditions.
// ErrorType is a string value: safe for concurrent use.
type ErrorType string

// Error types retried by default (see [DefaultRetryConditions]).
const (
	ConnectionError    ErrorType = "connection_error"    // the connection could not be made or was lost
	Timeout            ErrorType = "timeout"             // the operation or a request timed out
	TemporaryFailure   ErrorType = "temporary_failure"   // a transient server-side failure (HTTP 500, 502)
	NetworkError       ErrorType = "network_error"       // name resolution or another network failure
	ServiceUnavailable ErrorType = "service_unavailable" // the service said it is unavailable (HTTP 503)
	RateLimitExceeded  ErrorType = "rate_limit_exceeded" // throttled (HTTP 429)
	ResourceBusy       ErrorType = "resource_busy"       // locked, in use or conflicting (HTTP 409, 423)
)

// Error types never retried by default: retrying cannot fix them.
const (
	AuthenticationError ErrorType = "authentication_error" // bad or missing credentials (HTTP 401)
	AuthorizationError  ErrorType = "authorization_error"  // authenticated but not allowed (HTTP 403)
	PermissionError     ErrorType = "permission_error"     // local permission denied
	ResourceNotFound    ErrorType = "resource_not_found"   // the target does not exist (HTTP 404)
	ConfigurationError  ErrorType = "configuration_error"  // wrong setup: missing command, bad certificate
	InvalidParameter    ErrorType = "invalid_parameter"    // the request itself is wrong (HTTP 400, 422)
	QuotaExceeded       ErrorType = "quota_exceeded"       // out of quota or capacity
)

// UnknownError is the type of a failure that no rule matched. It is retried
// when [Policy.RetryUnknown] is true (the default, as Ansible's until loop
// retries any failure) or when it is listed in [Policy.RetryConditions].
const UnknownError ErrorType = "unknown_error"

// Reserved error types, set by the guardrails (circuit breaker, bulkhead,
// retry budget) through [Failure.Type] and [WithGate], and never retried:
// [Policy.Validate] rejects them in retry_conditions, [NewClassifier]
// rejects them as a rule's error_type, and the engine stops on them with
// [StopRejected].
const (
	CircuitOpen          ErrorType = "circuit_open"
	BulkheadFull         ErrorType = "bulkhead_full"
	RetryBudgetExhausted ErrorType = "retry_budget_exhausted"
)

var (
	defaultRetryConditions = []ErrorType{
		ConnectionError, Timeout, TemporaryFailure, NetworkError,
		ServiceUnavailable, RateLimitExceeded, ResourceBusy,
	}
	nonRetryableTypes = []ErrorType{
		AuthenticationError, AuthorizationError, PermissionError, ResourceNotFound,
		ConfigurationError, InvalidParameter, QuotaExceeded,
	}
	reservedTypes = []ErrorType{CircuitOpen, BulkheadFull, RetryBudgetExhausted}
	allErrorTypes = slices.Concat(defaultRetryConditions, nonRetryableTypes, []ErrorType{UnknownError}, reservedTypes)
)

// DefaultRetryConditions returns a new slice with the seven error types
// retried by default, the default of retry_conditions.
func DefaultRetryConditions() []ErrorType { return slices.Clone(defaultRetryConditions) }

// ErrorTypes returns every known error type in a stable order: the
// retryable ones, the non-retryable ones, unknown_error, then the reserved
// ones. Use it for documentation and argument choices.
func ErrorTypes() []ErrorType { return slices.Clone(allErrorTypes) }

// Known reports whether t is one of [ErrorTypes].
func (t ErrorType) Known() bool { return slices.Contains(allErrorTypes, t) }

// Reserved reports whether t is reserved for a later feature and so never
// retried nor produced by classification rules.
func (t ErrorType) Reserved() bool { return slices.Contains(reservedTypes, t) }
