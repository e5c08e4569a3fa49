package slo

import "strconv"

// ErrorLogPattern is the RE2 line filter of the error_log_rate check.
const ErrorLogPattern = "ERROR|Exception|Traceback"

// jobSelector returns {job="<job>"} with the value written as a double-quoted
// string literal. PromQL and LogQL both read string literals with Go's
// escaping rules (strconv.Unquote), so strconv.Quote escapes quotes,
// backslashes and control characters correctly for both.
func jobSelector(job string) string {
	return "{job=" + strconv.Quote(job) + "}"
}

// http5xxQuery is avg_over_time(job:http_5xx_ratio_1m{job="<job>"}[<window>]).
func http5xxQuery(job, window string) string {
	return "avg_over_time(job:http_5xx_ratio_1m" + jobSelector(job) + "[" + window + "])"
}

// healthQuery is avg_over_time(job:health_ok_ratio_1m{job="<job>"}[<window>]).
func healthQuery(job, window string) string {
	return "avg_over_time(job:health_ok_ratio_1m" + jobSelector(job) + "[" + window + "])"
}

// errorLogCountQuery is the LogQL metric query of the error_log_rate check:
//
//	sum(count_over_time({job="<job>"} |~ "ERROR|Exception|Traceback" [<window>]))
//
// run as an instant query at the evaluation time. It counts the matching
// lines in the window; the check divides the count by the window in minutes.
// It does not use rate(): LogQL's rate is per second, and LogQL has no
// subqueries to re-average it. When no line matches, Loki returns an empty
// vector rather than 0, hence [logVolumeQuery].
func errorLogCountQuery(job, window string) string {
	return "sum(count_over_time(" + jobSelector(job) + " |~ " + strconv.Quote(ErrorLogPattern) + " [" + window + "]))"
}

// logVolumeQuery counts all lines of the job's streams in the window:
//
//	sum(count_over_time({job="<job>"}[<window>]))
//
// A count > 0 shows that the selector and the tenant are right, so an empty
// error count really means zero errors.
func logVolumeQuery(job, window string) string {
	return "sum(count_over_time(" + jobSelector(job) + "[" + window + "]))"
}
