package slo

import (
	"errors"
	"fmt"
	"io/fs"
	"testing"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
)

func TestComparisonHolds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		c          Comparison
		lo, eq, hi bool // holds for 1, 2 and 3 against a threshold of 2
	}{
		{LT, true, false, false},
		{LE, true, true, false},
		{GT, false, false, true},
		{GE, false, true, true},
		{EQ, false, true, false},
		{NE, true, false, true},
		{"~", false, false, false}, // not a comparison: never holds
	}
	for _, tt := range tests {
		if got := [3]bool{tt.c.holds(1, 2), tt.c.holds(2, 2), tt.c.holds(3, 2)}; got != [3]bool{tt.lo, tt.eq, tt.hi} {
			t.Errorf("%s: got %v", tt.c, got)
		}
	}
}

func TestClassifyHTTPStatus(t *testing.T) {
	t.Parallel()
	tests := []struct {
		code    int
		typ     v1.ErrorType
		outcome Outcome
		reason  Reason
	}{
		{400, "", OutcomeConfigError, ReasonBadQuery},
		{400, v1.ErrBadData, OutcomeConfigError, ReasonBadQuery},
		{401, "", OutcomeConfigError, ReasonAuth},
		{403, "", OutcomeConfigError, ReasonAuth},
		{404, "", OutcomeConfigError, ReasonNotFound},
		{408, "", OutcomeUnknown, ReasonTimeout},
		{413, "", OutcomeConfigError, ReasonBadQuery},
		{422, v1.ErrExec, OutcomeUnknown, ReasonExecution},
		{429, "", OutcomeUnknown, ReasonServerError},
		{502, "", OutcomeUnknown, ReasonServerError},
		{503, v1.ErrTimeout, OutcomeUnknown, ReasonTimeout},
		{503, v1.ErrCanceled, OutcomeUnknown, ReasonCanceled},
		{304, "", OutcomeUnknown, ReasonBadResponse},
	}
	for _, tt := range tests {
		err := fmt.Errorf("query: %w", &httpError{Code: tt.code, Type: tt.typ})
		if got := classify(err, SourceLoki, 0, nil); got.outcome != tt.outcome || got.reason != tt.reason {
			t.Errorf("%d %s: %s/%s (%s), want %s/%s", tt.code, tt.typ, got.outcome, got.reason, got.msg, tt.outcome, tt.reason)
		}
	}
}

func TestClassifyOther(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err     error
		outcome Outcome
		reason  Reason
	}{
		{&v1.Error{Type: v1.ErrBadData, Msg: "2xx with status error"}, OutcomeConfigError, ReasonBadQuery},
		{&v1.Error{Type: v1.ErrServer, Msg: "odd"}, OutcomeUnknown, ReasonServerError},
		{errors.New("something else"), OutcomeUnknown, ReasonRequestError},
	}
	for _, tt := range tests {
		if got := classify(tt.err, SourcePrometheus, 0, nil); got.outcome != tt.outcome || got.reason != tt.reason {
			t.Errorf("%v: %s/%s, want %s/%s", tt.err, got.outcome, got.reason, tt.outcome, tt.reason)
		}
	}
}

func TestFieldErrorUnwraps(t *testing.T) {
	t.Parallel()
	cfg := DefaultConfig()
	cfg.Endpoints[SourcePrometheus].CAFile = "/nonexistent/ca.pem"
	_, err := New(cfg)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("New() = %v, want it to wrap fs.ErrNotExist", err)
	}
}
