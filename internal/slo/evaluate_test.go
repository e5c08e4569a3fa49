package slo

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"resilience.ops/internal/modtest"
)

type want struct {
	outcome Outcome
	reason  Reason
	value   *float64 // nil: must be null
	msg     string   // substring of the message
}

func ptr(v float64) *float64 { return &v }

func TestEvaluateFixtures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                 string
		prom5xx, promHealth  fixture
		lokiCount, lokiVol   fixture
		adjust               func(*Config)
		status               Status
		http5xx, health, log want
	}{
		{
			name:    "stable",
			prom5xx: promVector, promHealth: promHealth, lokiCount: lokiCount, lokiVol: lokiVolume,
			status:  StatusStable,
			http5xx: want{OutcomePass, "", ptr(0.002), "5xx ratio 0.002 <= 0.01"},
			health:  want{OutcomePass, "", ptr(0.999), "health ratio 0.999 >= 0.995"},
			log:     want{OutcomePass, "", ptr(0.4), "error log rate 0.4 lines/min <= 1 lines/min (6 matching lines in 15m)"},
		},
		{
			name:    "too many error logs",
			prom5xx: promVector, promHealth: promHealth, lokiCount: lokiCount, lokiVol: lokiVolume,
			adjust:  func(c *Config) { c.MaxErrorLogsPerMin = 0.2 },
			status:  StatusUnstable,
			http5xx: want{OutcomePass, "", ptr(0.002), ""},
			health:  want{OutcomePass, "", ptr(0.999), ""},
			log:     want{OutcomeFail, "", ptr(0.4), "error log rate 0.4 lines/min is not <= 0.2 lines/min"},
		},
		{
			name:    "5xx too high, health too low",
			prom5xx: promVector, promHealth: promHealth, lokiCount: lokiCount, lokiVol: lokiVolume,
			adjust:  func(c *Config) { c.Max5xxRatio, c.MinHealthRatio = 0.001, 0.9999 },
			status:  StatusUnstable,
			http5xx: want{OutcomeFail, "", ptr(0.002), "5xx ratio 0.002 is not <= 0.001"},
			health:  want{OutcomeFail, "", ptr(0.999), "health ratio 0.999 is not >= 0.9999"},
			log:     want{OutcomePass, "", ptr(0.4), ""},
		},
		{
			name:    "no error lines, stream has lines: zero",
			prom5xx: promVector, promHealth: promHealth, lokiCount: lokiEmpty, lokiVol: lokiVolume,
			status:  StatusStable,
			http5xx: want{OutcomePass, "", ptr(0.002), ""},
			health:  want{OutcomePass, "", ptr(0.999), ""},
			log:     want{OutcomePass, "", ptr(0), "the stream has 120 lines"},
		},
		{
			name:    "no error lines and no stream: unknown",
			prom5xx: promVector, promHealth: promHealth, lokiCount: lokiEmpty, lokiVol: lokiEmpty,
			status:  StatusUnknown,
			http5xx: want{OutcomePass, "", ptr(0.002), ""},
			health:  want{OutcomePass, "", ptr(0.999), ""},
			log:     want{OutcomeUnknown, ReasonNoLogStream, nil, "a wrong job label or a missing or wrong tenant (X-Scope-OrgID)"},
		},
		{
			name:    "volume query fails",
			prom5xx: promVector, promHealth: promHealth, lokiCount: lokiEmpty, lokiVol: serverError,
			status:  StatusUnknown,
			http5xx: want{OutcomePass, "", ptr(0.002), ""},
			health:  want{OutcomePass, "", ptr(0.999), ""},
			log:     want{OutcomeUnknown, ReasonServerError, nil, "volume query: loki failed: HTTP 500"},
		},
		{
			name:    "no series: unknown, never a pass",
			prom5xx: promEmpty, promHealth: promEmpty, lokiCount: lokiCount, lokiVol: lokiVolume,
			status:  StatusUnknown,
			http5xx: want{OutcomeUnknown, ReasonNoData, nil, "5xx ratio: no data for the window"},
			health:  want{OutcomeUnknown, ReasonNoData, nil, "health ratio: no data for the window"},
			log:     want{OutcomePass, "", ptr(0.4), ""},
		},
		{
			name:    "missing health series alone keeps it locked",
			prom5xx: promVector, promHealth: promEmpty, lokiCount: lokiCount, lokiVol: lokiVolume,
			status:  StatusUnknown,
			http5xx: want{OutcomePass, "", ptr(0.002), ""},
			health:  want{OutcomeUnknown, ReasonNoData, nil, ""},
			log:     want{OutcomePass, "", ptr(0.4), ""},
		},
		{
			name:    "prometheus bad_data 400 and loki text/plain 400: config_error",
			prom5xx: promBadData, promHealth: promHealth, lokiCount: lokiParseErr, lokiVol: lokiVolume,
			status:  StatusConfigError,
			http5xx: want{OutcomeConfigError, ReasonBadQuery, nil, "prometheus rejected the query: HTTP 400 Bad Request (bad_data): invalid parameter"},
			health:  want{OutcomePass, "", ptr(0.999), ""},
			log:     want{OutcomeConfigError, ReasonBadQuery, nil, "loki rejected the query: HTTP 400 Bad Request: parse error at line 1, col 30: literal not terminated"},
		},
		{
			name:    "config_error wins over fail",
			prom5xx: promBadData, promHealth: promHealth, lokiCount: lokiCount, lokiVol: lokiVolume,
			adjust:  func(c *Config) { c.MinHealthRatio = 1 },
			status:  StatusConfigError,
			http5xx: want{OutcomeConfigError, ReasonBadQuery, nil, ""},
			health:  want{OutcomeFail, "", ptr(0.999), ""},
			log:     want{OutcomePass, "", ptr(0.4), ""},
		},
		{
			name:    "execution 422 and prometheus timeout 503: unknown",
			prom5xx: promExec, promHealth: promTimeout, lokiCount: lokiCount, lokiVol: lokiVolume,
			status:  StatusUnknown,
			http5xx: want{OutcomeUnknown, ReasonExecution, nil, "vector cannot contain metrics with the same labelset"},
			health:  want{OutcomeUnknown, ReasonTimeout, nil, "query timed out in expression evaluation"},
			log:     want{OutcomePass, "", ptr(0.4), ""},
		},
		{
			name:    "500 and garbage body: unknown",
			prom5xx: serverError, promHealth: garbage, lokiCount: garbage, lokiVol: lokiVolume,
			status:  StatusUnknown,
			http5xx: want{OutcomeUnknown, ReasonServerError, nil, "HTTP 500 Internal Server Error: internal error"},
			health:  want{OutcomeUnknown, ReasonBadResponse, nil, "cannot decode the answer of prometheus"},
			log:     want{OutcomeUnknown, ReasonBadResponse, nil, "cannot decode the answer of loki"},
		},
		{
			name:    "NaN and two series",
			prom5xx: promNaN, promHealth: promTwo, lokiCount: lokiCount, lokiVol: lokiVolume,
			status:  StatusConfigError,
			http5xx: want{OutcomeUnknown, ReasonNotFinite, nil, "5xx ratio is NaN"},
			health:  want{OutcomeConfigError, ReasonAmbiguous, nil, "returned 2 series"},
			log:     want{OutcomePass, "", ptr(0.4), ""},
		},
		{
			name:    "loki log query (streams): config_error",
			prom5xx: promVector, promHealth: promHealth, lokiCount: lokiStreams, lokiVol: lokiVolume,
			status:  StatusConfigError,
			http5xx: want{OutcomePass, "", ptr(0.002), ""},
			health:  want{OutcomePass, "", ptr(0.999), ""},
			log:     want{OutcomeConfigError, ReasonBadQuery, nil, "resultType streams"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			prom := fakeProm(t, tt.prom5xx, tt.promHealth)
			loki := fakeLoki(t, tt.lokiCount, tt.lokiVol)
			cfg := testConfig(prom.URL, loki.URL)
			if tt.adjust != nil {
				tt.adjust(&cfg)
			}
			got := evaluate(t, cfg)
			if got.Status != tt.status || got.Stable != (tt.status == StatusStable) {
				t.Errorf("status = %s (stable %v), want %s; checks: %+v", got.Status, got.Stable, tt.status, got.Checks)
			}
			checkWant(t, result(t, got, CheckHTTP5xxRatio), tt.http5xx)
			checkWant(t, result(t, got, CheckHealthRatio), tt.health)
			checkWant(t, result(t, got, CheckErrorLogRate), tt.log)
		})
	}
}

func checkWant(t *testing.T, got CheckResult, w want) {
	t.Helper()
	if got.Outcome != w.outcome || got.Reason != w.reason {
		t.Errorf("%s: outcome %s/%q, want %s/%q (message %q)", got.Name, got.Outcome, got.Reason, w.outcome, w.reason, got.Message)
	}
	switch {
	case w.value == nil && got.Value != nil:
		t.Errorf("%s: value = %v, want null", got.Name, *got.Value)
	case w.value != nil && (got.Value == nil || *got.Value != *w.value):
		t.Errorf("%s: value = %v, want %v", got.Name, got.Value, *w.value)
	}
	if !strings.Contains(got.Message, w.msg) {
		t.Errorf("%s: message %q does not contain %q", got.Name, got.Message, w.msg)
	}
}

func TestEvaluateRequests(t *testing.T) {
	t.Parallel()
	prom := fakeProm(t, promVector, promHealth)
	loki := fakeLoki(t, lokiEmpty, lokiVolume)
	cfg := testConfig(prom.URL, loki.URL)
	cfg.Job = `we"ird\job`
	cfg.Window = "90m"
	r := evaluate(t, cfg)
	if r.Window != "1h30m" || !r.EvaluatedAt.Equal(testNow) {
		t.Errorf("window %q, evaluated_at %v", r.Window, r.EvaluatedAt)
	}
	wantTime := strconv.FormatInt(testNow.Unix(), 10)
	wantProm := []string{
		`avg_over_time(job:http_5xx_ratio_1m{job="we\"ird\\job"}[1h30m])`,
		`avg_over_time(job:health_ok_ratio_1m{job="we\"ird\\job"}[1h30m])`,
	}
	for _, req := range prom.requests() {
		if req.path != "/api/v1/query" || req.time != wantTime || !slices.Contains(wantProm, req.query) {
			t.Errorf("prometheus got %s %s time=%s query=%s", req.method, req.path, req.time, req.query)
		}
	}
	wantLoki := []string{
		`sum(count_over_time({job="we\"ird\\job"} |~ "ERROR|Exception|Traceback" [1h30m]))`,
		`sum(count_over_time({job="we\"ird\\job"}[1h30m]))`,
	}
	got := loki.requests()
	if len(got) != 2 {
		t.Fatalf("loki got %d requests, want count then volume", len(got))
	}
	for i, req := range got {
		if req.path != "/loki/api/v1/query" || req.time != wantTime || req.query != wantLoki[i] {
			t.Errorf("loki got %s %s time=%s query=%s", req.method, req.path, req.time, req.query)
		}
	}
}

func TestEvaluateCustomChecks(t *testing.T) {
	t.Parallel()
	routes := map[string]fixture{
		"up_scalar":     promScalar,
		"empty_fail":    promEmpty,
		"empty_zero":    promEmpty,
		"empty_default": promEmpty,
		"range":         promMatrix,
		"rate":          lokiRate,
	}
	route := func(q string) http.HandlerFunc { return serve(t, routes[q]) }
	prom, loki := newFake(t, route), newFake(t, route)
	cfg := testConfig(prom.URL, loki.URL)
	cfg.Disable = []string{CheckHTTP5xxRatio, CheckHealthRatio, CheckErrorLogRate}
	th := func(v float64) *float64 { return &v }
	cfg.Checks = []CheckSpec{
		{Name: "scalar", Source: SourcePrometheus, Query: "up_scalar", Comparison: EQ, Threshold: th(42)},
		{Name: "fail", Source: SourcePrometheus, Query: "empty_fail", Comparison: LT, Threshold: th(1), NoData: NoDataFail},
		{Name: "zero", Source: SourcePrometheus, Query: "empty_zero", Comparison: LT, Threshold: th(1), NoData: NoDataZero},
		{Name: "default", Source: SourcePrometheus, Query: "empty_default", Comparison: LT, Threshold: th(1)},
		{Name: "matrix", Source: SourcePrometheus, Query: "range", Comparison: NE, Threshold: th(0)},
		{Name: "loki_rate", Source: SourceLoki, Query: "rate", Comparison: LT, Threshold: th(0.01)},
	}
	r := evaluate(t, cfg)
	if len(r.Checks) != len(cfg.Checks) || r.Status != StatusConfigError {
		t.Fatalf("status %s with %d checks, want config_error with %d", r.Status, len(r.Checks), len(cfg.Checks))
	}
	for name, w := range map[string]want{
		"scalar":    {OutcomePass, "", ptr(42), "scalar 42 == 42"},
		"fail":      {OutcomeFail, ReasonNoData, nil, "no_data: fail"},
		"zero":      {OutcomePass, "", ptr(0), "zero 0 < 1 (no data, counted as 0)"},
		"default":   {OutcomeUnknown, ReasonNoData, nil, "no_data: unknown"},
		"matrix":    {OutcomeConfigError, ReasonAmbiguous, nil, "returned a matrix"},
		"loki_rate": {OutcomePass, "", ptr(0.006666666666666667), ""},
	} {
		checkWant(t, result(t, r, name), w)
	}
}

func TestEvaluateTenantRequired(t *testing.T) {
	t.Parallel()
	for _, status := range []int{http.StatusUnauthorized, http.StatusNotFound} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			t.Parallel()
			prom := fakeProm(t, promVector, promHealth)
			count, volume := serve(t, lokiCount), serve(t, lokiVolume)
			loki := newFake(t, func(q string) http.HandlerFunc {
				return func(w http.ResponseWriter, r *http.Request) {
					switch {
					case r.Header.Get(TenantHeader) != "team-a":
						http.Error(w, "no org id", status) // what Loki sends with auth_enabled
					case strings.Contains(q, "|~"):
						count(w, r)
					default:
						volume(w, r)
					}
				}
			})
			cfg := testConfig(prom.URL, loki.URL)
			without := evaluate(t, cfg)
			logs := result(t, without, CheckErrorLogRate)
			if without.Stable || logs.Outcome == OutcomePass || !strings.Contains(logs.Message, TenantHeader) {
				t.Errorf("without tenant: status %s, %s: %s", without.Status, logs.Outcome, logs.Message)
			}
			cfg.Endpoints[SourceLoki].TenantID = "team-a"
			with := evaluate(t, cfg)
			if !with.Stable {
				t.Errorf("with tenant: status %s, checks %+v", with.Status, with.Checks)
			}
		})
	}
}

func TestEvaluateSlowServerTimesOut(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	slow := newFake(t, func(string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-release:
			}
		}
	})
	t.Cleanup(func() { close(release) }) // runs before the server closes
	loki := fakeLoki(t, lokiCount, lokiVolume)
	cfg := testConfig(slow.URL, loki.URL)
	cfg.Timeout = 100 * time.Millisecond
	// The server answers only when the test ends: without the timeout the evaluation would hang
	// (modtest.Finishes); no duration is measured.
	var r Report
	modtest.Finishes(t, func() { r = evaluate(t, cfg) })
	if r.Status != StatusUnknown {
		t.Errorf("status %s, want unknown", r.Status)
	}
	checkWant(t, result(t, r, CheckHTTP5xxRatio), want{OutcomeUnknown, ReasonTimeout, nil, "prometheus did not answer in time (timeout 100ms)"})
	checkWant(t, result(t, r, CheckErrorLogRate), want{OutcomePass, "", ptr(0.4), ""})
}

func TestEvaluateEndlessBodyIsBounded(t *testing.T) {
	t.Parallel()
	endless := newFake(t, func(string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", jsonType)
			_, _ = w.Write([]byte(`{"status":"success","data":{"resultType":"vector","result":[`))
			chunk := []byte(strings.Repeat(`{"metric":{},"value":[1,"1"]},`, 1000))
			for r.Context().Err() == nil {
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
		}
	})
	loki := fakeLoki(t, lokiCount, lokiVolume)
	r := evaluate(t, testConfig(endless.URL, loki.URL), WithMaxResponseBytes(256<<10))
	checkWant(t, result(t, r, CheckHTTP5xxRatio), want{OutcomeUnknown, ReasonTooLarge, nil, "larger than the size limit"})
	checkWant(t, result(t, r, CheckHealthRatio), want{OutcomeUnknown, ReasonTooLarge, nil, ""})
}

func TestEvaluateUnreachable(t *testing.T) {
	t.Parallel()
	gone := newFake(t, nil)
	gone.Close()
	r := evaluate(t, testConfig(gone.URL, gone.URL))
	if r.Status != StatusUnknown {
		t.Errorf("status %s, want unknown", r.Status)
	}
	for _, c := range r.Checks {
		checkWant(t, c, want{OutcomeUnknown, ReasonUnreachable, nil, "cannot reach " + string(c.Source)})
	}
}

func TestEvaluateCanceled(t *testing.T) {
	t.Parallel()
	prom := fakeProm(t, promVector, promHealth)
	loki := fakeLoki(t, lokiCount, lokiVolume)
	e, err := New(testConfig(prom.URL, loki.URL))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := e.Evaluate(ctx)
	for _, c := range r.Checks {
		checkWant(t, c, want{OutcomeUnknown, ReasonCanceled, nil, ""})
	}
}

func TestReportJSON(t *testing.T) {
	t.Parallel()
	prom := fakeProm(t, promVector, promEmpty)
	loki := fakeLoki(t, lokiCount, lokiVolume)
	b, err := json.Marshal(evaluate(t, testConfig(prom.URL, loki.URL)))
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if got["stable"] != false || got["status"] != "unknown" || got["window"] != "15m" || got["evaluated_at"] != "2026-11-23T15:40:00Z" {
		t.Errorf("report: %s", b)
	}
	checks := got["checks"].([]any)
	health := checks[1].(map[string]any)
	for _, key := range []string{"name", "source", "query", "value", "threshold", "comparison", "outcome", "reason", "message"} {
		if _, ok := health[key]; !ok {
			t.Errorf("check result has no %q: %v", key, health)
		}
	}
	if health["value"] != nil || health["comparison"] != ">=" || health["outcome"] != "unknown" {
		t.Errorf("health result: %v", health)
	}
}

func TestNewReportStatus(t *testing.T) {
	t.Parallel()
	tests := []struct {
		outcomes []Outcome
		want     Status
	}{
		{[]Outcome{OutcomePass, OutcomePass}, StatusStable},
		{[]Outcome{OutcomePass, OutcomeUnknown}, StatusUnknown},
		{[]Outcome{OutcomeUnknown, OutcomeFail}, StatusUnstable},
		{[]Outcome{OutcomeFail, OutcomeConfigError, OutcomeUnknown}, StatusConfigError},
		{nil, StatusConfigError},
	}
	for _, tt := range tests {
		var checks []CheckResult
		for _, o := range tt.outcomes {
			checks = append(checks, CheckResult{Outcome: o})
		}
		got := newReport(testNow, "15m", checks)
		if got.Status != tt.want || got.Stable != (tt.want == StatusStable) {
			t.Errorf("%v: got %s (stable %v), want %s", tt.outcomes, got.Status, got.Stable, tt.want)
		}
	}
}

// A gateway that allows only GET answers 405 to v1's POST; v1 then retries
// with GET, which statusClient must not prevent.
func TestEvaluateGetFallback(t *testing.T) {
	t.Parallel()
	count := serve(t, lokiCount)
	loki := newFake(t, func(string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodGet {
				http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
				return
			}
			count(w, r)
		}
	})
	prom := fakeProm(t, promVector, promHealth)
	if r := evaluate(t, testConfig(prom.URL, loki.URL)); !r.Stable {
		t.Fatalf("status %s: %+v", r.Status, r.Checks)
	}
	if got := loki.requests(); len(got) != 2 || got[0].method != http.MethodPost || got[1].method != http.MethodGet {
		t.Errorf("loki requests: %+v", got)
	}
}
