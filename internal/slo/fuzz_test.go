package slo

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"resilience.ops/internal/clock"
)

// stubClient answers every request with one status and body, without a
// network, so that the fuzzer exercises v1's decoding and ours.
type stubClient struct {
	status int
	body   []byte
}

func (s stubClient) URL(ep string, _ map[string]string) *url.URL {
	return &url.URL{Scheme: "http", Host: "stub", Path: ep}
}

func (s stubClient) Do(context.Context, *http.Request) (*http.Response, []byte, error) {
	return &http.Response{StatusCode: s.status, Header: http.Header{}}, s.body, nil
}

// FuzzServerResponse feeds arbitrary answers to every built-in check: no
// panic, outcomes and reasons from their closed sets, a value only when it is
// finite (JSON cannot hold NaN), and a report that always marshals.
func FuzzServerResponse(f *testing.F) {
	for _, fx := range []fixture{promVector, promEmpty, promBadData, promExec, promTimeout, promNaN, promTwo,
		promScalar, promMatrix, lokiCount, lokiEmpty, lokiParseErr, lokiStreams, garbage, serverError} {
		f.Add(fx.status, fx.body(f))
	}
	outcomes := []Outcome{OutcomePass, OutcomeFail, OutcomeUnknown, OutcomeConfigError}
	reasons := []Reason{"", ReasonNoData, ReasonNoLogStream, ReasonNotFinite, ReasonUnreachable, ReasonTimeout,
		ReasonCanceled, ReasonServerError, ReasonExecution, ReasonBadResponse, ReasonTooLarge, ReasonBadQuery,
		ReasonAmbiguous, ReasonAuth, ReasonNotFound, ReasonTLS, ReasonRequestError, ReasonRedirect, ReasonOutOfDomain,
		ReasonStaleSample}
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		if status < 100 || status > 599 {
			return
		}
		cfg := DefaultConfig()
		red := newRedactor(Config{})
		stub := stubClient{status, body}
		e := &Evaluator{
			checks: buildChecks(cfg, "15m", 15),
			clients: map[Source]querier{
				SourcePrometheus: v1.NewAPI(statusClient{Client: stub, redact: red}),
				SourceLoki:       v1.NewAPI(statusClient{Client: stub, check: backendOf(SourceLoki).checkAnswer, redact: red}),
			},
			window: "15m", duration: 15 * time.Minute, timeout: time.Second, clock: clock.Func(func() time.Time { return testNow }), redact: red,
		}
		r := e.Evaluate(context.Background())
		for _, c := range r.Checks {
			if !slices.Contains(outcomes, c.Outcome) || !slices.Contains(reasons, c.Reason) {
				t.Fatalf("%s: outcome %q reason %q", c.Name, c.Outcome, c.Reason)
			}
			if c.Value != nil && !isFinite(*c.Value) {
				t.Fatalf("%s: non-finite value %v", c.Name, *c.Value)
			}
			if c.Outcome == OutcomePass && status/100 != 2 {
				t.Fatalf("%s passed on HTTP %d", c.Name, status)
			}
		}
		if _, err := json.Marshal(r); err != nil {
			t.Fatalf("marshal: %v", err)
		}
	})
}
