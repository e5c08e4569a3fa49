package retry

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"resilience.ops/internal/field"
)

// Limits on the text that classification scans and records keep.
const (
	// MaxErrorMessageBytes bounds error_message in attempt records (see
	// [Failure.Summary]); longer text is cut and ends in "…".
	MaxErrorMessageBytes = 1024
	// MaxEvidenceBytes bounds the matched text kept in [Evidence].
	MaxEvidenceBytes = 200
	// MaxScanBytes bounds the text that patterns are matched against: only
	// the last MaxScanBytes of each field are scanned, where commands print
	// their errors, so that huge outputs do not make classification slow.
	MaxScanBytes = 64 << 10
)

// Failure is what an attempt observed when it failed. Set whatever is known;
// [Classifier.Classify] looks at all of it.
// Failure is a plain value: safe for concurrent use as long as nobody
// modifies it.
type Failure struct {
	// Err is the Go error, if any. It is classified with errors.Is and
	// errors.As first; its text is matched like Message after that.
	Err error
	// HTTPStatus is the response status; 0 means no response.
	HTTPStatus int
	// ExitCode is the process exit status; nil means no process exited.
	ExitCode *int
	// Message is a summary, such as a module's msg.
	Message string
	// Stdout and Stderr are a command's output.
	Stdout, Stderr string
	// TimedOut says the attempt ran out of time. The engine sets it when the
	// attempt's context hit its deadline (attempt_timeout or max_total_time).
	TimedOut bool
	// Type, when set, is the failure's type decided by the caller:
	// [Classifier.Classify] returns it as is, before any rule. It is how the
	// reserved types (circuit_open, bulkhead_full, retry_budget_exhausted),
	// which no rule may produce, reach the records; see [WithGate].
	Type ErrorType
}

// Summary is the failure's message for records and errors: the first
// non-empty of Message, Err's text, Stderr and Stdout, or else a description
// of the status, exit code or timeout, cut to MaxErrorMessageBytes.
func (f Failure) Summary() string {
	for _, s := range f.texts() {
		if s = strings.TrimSpace(s); s != "" {
			return clip(s, MaxErrorMessageBytes)
		}
	}
	switch {
	case f.HTTPStatus != 0:
		return "HTTP status " + strconv.Itoa(f.HTTPStatus)
	case f.ExitCode != nil:
		return "exit code " + strconv.Itoa(*f.ExitCode)
	case f.TimedOut:
		return "attempt timed out"
	}
	return "failed without details"
}

// Field names a text field of a Failure that a rule's pattern is matched
// against. A string value: safe for concurrent use.
type Field string

// The fields. Any tries them in the order message, error, stderr, stdout,
// which is also the order of the built-in message rules.
const (
	FieldAny     Field = "any"
	FieldMessage Field = "message"
	FieldError   Field = "error" // the text of Failure.Err
	FieldStderr  Field = "stderr"
	FieldStdout  Field = "stdout"
)

// textFields is the order of Failure.texts.
var textFields = []Field{FieldMessage, FieldError, FieldStderr, FieldStdout}

func (f Failure) texts() [4]string {
	var errText string
	if f.Err != nil {
		errText = f.Err.Error()
	}
	return [4]string{f.Message, errText, f.Stderr, f.Stdout}
}

// Rule is a user classification rule: when every condition it sets holds,
// the failure is of Type. Rules are tried in order before the built-in ones,
// so the first matching rule wins over everything else.
// Rule is a plain value: safe for concurrent use as long as nobody modifies it.
type Rule struct {
	// Type (error_type) is the type given to matching failures; required.
	Type ErrorType
	// Pattern (pattern) is an RE2 regular expression, matched
	// case-insensitively like the built-ins (start it with (?-i) to match
	// case); "" sets no condition. Empty fields never match.
	Pattern string
	// Field (field) is the text the pattern is matched against; "" means any.
	Field Field
	// ExitCode (exit_code) must equal the failure's exit code; nil sets no condition.
	ExitCode *int
	// HTTPStatus (http_status) must equal the failure's status; 0 sets no condition.
	HTTPStatus int
}

// Evidence says why a failure got its type, for debug_mode.
// A plain value: safe for concurrent use.
type Evidence struct {
	// Rule is "rules[i]" for a user rule, "builtin.<kind>" for a built-in
	// one (timed_out, go_error, http_status, exit_code, message), "preset"
	// for a type set by the caller ([Failure.Type]), or "none" for
	// unknown_error.
	Rule string `json:"rule"`
	// Field is what matched: message, error, stderr, stdout, http_status,
	// exit_code or timed_out.
	Field string `json:"field,omitempty"`
	// Match is the matched text (cut to MaxEvidenceBytes), the status or
	// exit code, or the Go error that matched, such as "syscall.ECONNREFUSED".
	Match string `json:"match,omitempty"`
}

// Classifier sorts failures into error types: user rules first, in order,
// then the built-in rules. The zero value and a nil *Classifier use the
// built-in rules only. A Classifier is immutable: safe for concurrent use.
type Classifier struct {
	rules []compiledRule
}

type compiledRule struct {
	Rule
	name   string
	re     *regexp.Regexp
	fields []int // indexes into Failure.texts
}

// NewClassifier checks and compiles rules. Its error joins one
// *field.Error per problem, naming the rule index and field, for example
// "rules[2].pattern is not a valid regular expression: ...".
func NewClassifier(rules []Rule) (*Classifier, error) {
	c := &Classifier{rules: make([]compiledRule, 0, len(rules))}
	var ps problems
	for i, r := range rules {
		cr, errs := compileRule(i, r)
		ps = append(ps, errs...)
		c.rules = append(c.rules, cr)
	}
	if err := errors.Join(ps...); err != nil {
		return nil, err
	}
	return c, nil
}

func compileRule(i int, r Rule) (compiledRule, problems) {
	var ps problems
	param := func(field string) string { return fmt.Sprintf("rules[%d].%s", i, field) }
	cr := compiledRule{Rule: r, name: fmt.Sprintf("rules[%d]", i)}
	switch {
	case r.Type == "":
		ps.add(param("error_type"), "is required")
	case r.Type.Reserved():
		ps.add(param("error_type"), "must not be %s: reserved error types are set by the engine", r.Type)
	case !r.Type.Known():
		ps.add(param("error_type"), "must be one of %s, got %q", joinStrings(assignableTypes()), r.Type)
	}
	if r.Pattern == "" && r.ExitCode == nil && r.HTTPStatus == 0 {
		ps.add(fmt.Sprintf("rules[%d]", i), "must set at least one of pattern, exit_code, http_status")
	}
	if r.Pattern != "" {
		re, err := regexp.Compile("(?i)" + r.Pattern)
		if err != nil {
			ps = append(ps, &field.Error{Path: param("pattern"), Problem: "is not a valid regular expression", Err: err, Form: field.Sentence})
		}
		cr.re = re
	}
	switch {
	case r.Field == "" || r.Field == FieldAny:
		cr.fields = []int{0, 1, 2, 3}
	case slices.Contains(textFields, r.Field):
		cr.fields = []int{slices.Index(textFields, r.Field)}
		if r.Pattern == "" {
			ps.add(param("field"), "needs a pattern to match against %s", r.Field)
		}
	default:
		ps.add(param("field"), "must be one of %s, %s, got %q", FieldAny, joinStrings(textFields), r.Field)
	}
	if r.HTTPStatus != 0 && (r.HTTPStatus < 100 || r.HTTPStatus > 599) {
		ps.add(param("http_status"), "must be between 100 and 599, got %d", r.HTTPStatus)
	}
	return cr, ps
}

// match reports whether every condition of r holds for f, with the evidence.
func (r *compiledRule) match(f *Failure, texts *[4]string) (Evidence, bool) {
	if r.HTTPStatus != 0 && r.HTTPStatus != f.HTTPStatus {
		return Evidence{}, false
	}
	if r.ExitCode != nil && (f.ExitCode == nil || *f.ExitCode != *r.ExitCode) {
		return Evidence{}, false
	}
	switch {
	case r.re != nil:
		for _, i := range r.fields {
			if m, ok := find(r.re, texts[i]); ok {
				return Evidence{Rule: r.name, Field: string(textFields[i]), Match: m}, true
			}
		}
		return Evidence{}, false
	case r.ExitCode != nil:
		return Evidence{Rule: r.name, Field: "exit_code", Match: strconv.Itoa(*r.ExitCode)}, true
	default:
		return Evidence{Rule: r.name, Field: "http_status", Match: strconv.Itoa(r.HTTPStatus)}, true
	}
}

// Classify returns the type of f and the evidence for it. A Failure whose
// Type is set has that type (evidence rule "preset"). Otherwise the first
// match wins, in this order: the user rules; the attempt timed out (timeout); the
// Go error (errors.Is/As, see builtin.go); the HTTP status; the exit code;
// the exact wordings of known tools (curl, ssh, govc, pyvmomi,
// community.vmware, TLS stacks, HTTP status lines; wordingRules in
// builtin.go) on message, error, stderr, stdout in turn; then the general
// message patterns on the same fields in turn. Only the last MaxScanBytes of
// each field are scanned. With no match the type is unknown_error. Classify does not decide whether to
// retry: see [Policy.ShouldRetry].
func (c *Classifier) Classify(f Failure) (ErrorType, Evidence) {
	if f.Type != "" {
		return f.Type, Evidence{Rule: "preset", Field: "type", Match: string(f.Type)}
	}
	texts := f.texts()
	for i := range texts {
		texts[i] = tail(texts[i], MaxScanBytes)
	}
	if c != nil {
		for i := range c.rules {
			if ev, ok := c.rules[i].match(&f, &texts); ok {
				return c.rules[i].Type, ev
			}
		}
	}
	return classifyBuiltin(&f, &texts)
}

// find returns the first match of re in a non-empty text, cut to MaxEvidenceBytes.
func find(re *regexp.Regexp, text string) (string, bool) {
	if text == "" {
		return "", false
	}
	loc := re.FindStringIndex(text)
	if loc == nil {
		return "", false
	}
	return clip(text[loc[0]:loc[1]], MaxEvidenceBytes), true
}

// clip cuts s to at most n bytes on a rune boundary, ending in "…" when cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const ellipsis = "…"
	cut := n - len(ellipsis)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + ellipsis
}

// tail returns the last n bytes of s or a little less, from a rune boundary.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	start := len(s) - n
	for start < len(s) && !utf8.RuneStart(s[start]) {
		start++
	}
	return s[start:]
}
