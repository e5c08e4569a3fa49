package slo

import (
	"strconv"
	"time"
)

// Outcome is how one check ended.
type Outcome string

// Outcomes.
const (
	OutcomePass Outcome = "pass"
	OutcomeFail Outcome = "fail"
	// OutcomeUnknown: the check could not tell (no data, NaN/Inf, server
	// unreachable or failing, timeout, query execution error). Trying again
	// later may help.
	OutcomeUnknown Outcome = "unknown"
	// OutcomeConfigError: the server rejected the request in a way that
	// trying again will not fix (a query it cannot parse, an ambiguous
	// result, rejected credentials, an unknown path, an untrusted
	// certificate).
	OutcomeConfigError Outcome = "config_error"
)

// Reason says why a check did not simply pass or fail; it is empty when the
// value was compared. It is one of the Reason* constants.
type Reason string

// Reasons, a closed set.
const (
	ReasonNoData       Reason = "no_data"            // empty result (the outcome follows the no-data policy)
	ReasonNoLogStream  Reason = "no_log_stream"      // error_log_rate: no line at all for the selector
	ReasonNotFinite    Reason = "not_finite"         // NaN or ±Inf
	ReasonUnreachable  Reason = "unreachable"        // connection refused, DNS, network
	ReasonTimeout      Reason = "timeout"            // our deadline, or the server's query timeout
	ReasonCanceled     Reason = "canceled"           // the caller's context ended
	ReasonServerError  Reason = "server_error"       // 5xx, 429
	ReasonExecution    Reason = "execution"          // the server failed to run a valid query (422)
	ReasonBadResponse  Reason = "bad_response"       // an answer that is not the expected JSON
	ReasonTooLarge     Reason = "response_too_large" // see DefaultMaxResponseBytes
	ReasonBadQuery     Reason = "bad_query"          // the server rejected the query (400, bad_data)
	ReasonAmbiguous    Reason = "ambiguous"          // more than one series, or not a number
	ReasonAuth         Reason = "auth"               // 401/403: credentials or tenant
	ReasonNotFound     Reason = "not_found"          // 404: URL or tenant
	ReasonTLS          Reason = "tls"                // certificate not trusted, handshake failed
	ReasonRequestError Reason = "request_error"      // anything else
	ReasonRedirect     Reason = "redirect"           // a redirect to another origin, not followed
	ReasonOutOfDomain  Reason = "out_of_domain"      // a ratio outside [0, 1], a negative count
	ReasonStaleSample  Reason = "stale_sample"       // a sample from before the window, or from the future
)

// CheckResult is the result of one check. Value is null when there is none
// (no data, NaN/Inf, errors).
type CheckResult struct {
	Name        string     `json:"name"`
	Source      Source     `json:"source"`
	Query       string     `json:"query"`
	VolumeQuery string     `json:"volume_query,omitempty"`
	Value       *float64   `json:"value"`
	Threshold   float64    `json:"threshold"`
	Comparison  Comparison `json:"comparison"`
	Outcome     Outcome    `json:"outcome"`
	Reason      Reason     `json:"reason,omitempty"`
	Message     string     `json:"message"`
	Warnings    []string   `json:"warnings,omitempty"`
}

// Status sums up a report.
type Status string

// Statuses, from strongest to weakest: config_error wins over unstable,
// which wins over unknown.
const (
	StatusStable      Status = "stable"       // every enabled check passed
	StatusUnstable    Status = "unstable"     // some check failed, none is a config_error
	StatusUnknown     Status = "unknown"      // no check failed, some could not tell
	StatusConfigError Status = "config_error" // some check is misconfigured
)

// Report is the result of one evaluation.
type Report struct {
	Stable      bool          `json:"stable"`
	Status      Status        `json:"status"`
	Window      string        `json:"window"`
	EvaluatedAt time.Time     `json:"evaluated_at"`
	Checks      []CheckResult `json:"checks"`
}

func newReport(at time.Time, window string, checks []CheckResult) Report {
	r := Report{Window: window, EvaluatedAt: at, Checks: checks}
	rank := map[Outcome]int{OutcomePass: 0, OutcomeUnknown: 1, OutcomeFail: 2, OutcomeConfigError: 3}
	status := []Status{StatusStable, StatusUnknown, StatusUnstable, StatusConfigError}
	worst := 0
	for _, c := range checks {
		worst = max(worst, rank[c.Outcome])
	}
	if len(checks) == 0 {
		worst = rank[OutcomeConfigError] // Validate prevents this; never stable on nothing
	}
	r.Status = status[worst]
	r.Stable = r.Status == StatusStable
	return r
}

// formatValue writes v in the shortest form that reads back the same.
func formatValue(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
