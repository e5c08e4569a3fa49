package export

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"resilience.ops/internal/modtest"
)

// smallSnapshot is one operation, no breach: small enough to spell payloads out.
func smallSnapshot() Snapshot {
	return Snapshot{
		SessionID: "retry_1701425100_000042",
		Time:      time.Date(2023, 12, 1, 10, 5, 30, 0, time.UTC),
		Duration:  60,
		Operations: []OperationStats{{Operation: "api_call", Status: "completed", Operations: 2, Attempts: 3, Retries: 1,
			ExecutionSeconds: 4.5, Failures: map[string]int{"timeout": 1}}},
		Statistics: Statistics{TotalOperations: 2, SuccessfulOperations: 2, SuccessRate: 100, RetryRate: 50,
			AverageRetryCount: 0.5, TotalExecutionTime: 4.5, OperationsPerMinute: 2},
	}
}

// jsonEqual compares JSON texts by value.
func jsonEqual(t *testing.T, want string, got []byte) {
	t.Helper()
	var w, g any
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("want: %v", err)
	}
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("got is not JSON: %v\n%s", err, got)
	}
	if diff := cmp.Diff(w, g); diff != "" {
		t.Errorf("payload (-want +got):\n%s\ngot: %s", diff, got)
	}
}

func TestSlackPayload(t *testing.T) {
	t.Parallel()
	rec := newRecorder(t, func(_ int, w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })
	sys := mustSystems(t, map[string]any{"name": "slack_webhook", "url": rec.URL + "/services/T000/B000/XXXX", "events": []any{"metrics", "alerts"}})
	snap := testSnapshot()
	snap.Operations[1].Operation = "db <migrate> & seed"

	alert := Deliver(context.Background(), sys, snap, testOptions(newFakeClock(), true, false))[0]
	metrics := Deliver(context.Background(), sys, smallSnapshot(), testOptions(newFakeClock(), false, false))[0]
	for _, r := range []Result{alert, metrics} {
		if !r.Sent || r.Attempts != 1 || r.StatusCode != 200 || r.Host != strings.TrimPrefix(rec.URL, "http://") {
			t.Errorf("result %+v", r)
		}
	}
	reqs := rec.requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests", len(reqs))
	}
	wantAlert := ":rotating_light: *Retry alert*: session `retry_1640995200_123456` breached 2 thresholds\n" +
		"• success_rate 80 is below min_success_rate 85\n" +
		"• failure_rate 20 is above max_error_rate 15\n" +
		"*Operations*\n" +
		"• vmware_vm_create: completed, 3 operations, 5 attempts, error types: connection_error (1), timeout (1)\n" +
		"• db &lt;migrate&gt; &amp; seed: failed, 1 operation, 3 attempts, error types: connection_error (2), timeout (1)\n" +
		"• network_configuration: completed, 1 operation, 1 attempt"
	wantMetrics := ":bar_chart: *Retry statistics*: session `retry_1701425100_000042`: 2 operations, success rate 100%, retry rate 50%, average retries 0.5, total execution time 4.5s\n" +
		"No threshold breached.\n" +
		"*Operations*\n" +
		"• api_call: completed, 2 operations, 3 attempts, error types: timeout (1)"
	for i, want := range []string{wantAlert, wantMetrics} {
		r := reqs[i]
		if got := string(r.Body); got != string(marshalJSON(map[string]string{"text": want})) {
			t.Errorf("body:\n%s\nwant text:\n%s", got, want)
		}
		if r.Method != "POST" || r.Path != "/services/T000/B000/XXXX" || r.Header.Get("Content-Type") != "application/json" ||
			r.Header.Get("Authorization") != "" || r.Header.Get("User-Agent") != userAgent {
			t.Errorf("request %s %s %v", r.Method, r.Path, r.Header)
		}
	}
	if !strings.Contains(string(reqs[0].Body), `db &lt;migrate&gt; &amp; seed`) {
		t.Errorf("HTML-escaped JSON: %s", reqs[0].Body)
	}
}

func TestDatadogPayload(t *testing.T) {
	t.Parallel()
	rec := newRecorder(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusAccepted)
		_, _ = w.Write([]byte(`{"status":"ok"}`))
	})
	sys := mustSystems(t,
		map[string]any{"name": "datadog", "url": rec.URL + "/api/v1/series", "auth_header": "DD-API-KEY key-123", "labels": map[string]any{"env": "prod"}},
		map[string]any{"name": "datadog_v2", "url": rec.URL + "/api/v2/series", "auth_header": "key-456"},
	)
	snap := smallSnapshot()
	snap.Alerts = []Alert{{Name: "max_average_retries", Value: 3, Threshold: 2.5}}
	results := Deliver(context.Background(), sys, snap, testOptions(newFakeClock(), false, false))
	for _, r := range results {
		if !r.Sent || r.StatusCode != 202 || r.Series != 14 {
			t.Errorf("result %+v", r)
		}
	}
	reqs := rec.requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests", len(reqs))
	}
	byPath := map[string]request{}
	for _, r := range reqs {
		byPath[r.Path] = r
	}
	v1, v2 := byPath["/api/v1/series"], byPath["/api/v2/series"]
	if v1.Header.Get("DD-API-KEY") != "key-123" || v2.Header.Get("DD-API-KEY") != "key-456" || v1.Header.Get("Content-Type") != "application/json" {
		t.Errorf("headers %v / %v", v1.Header, v2.Header)
	}
	const ts = "1701425130"
	tags := `["env:prod","operation:api_call","status:completed"]`
	jsonEqual(t, `{"series":[
		{"metric":"retry.operations","type":"count","points":[[`+ts+`,2]],"tags":`+tags+`,"interval":60},
		{"metric":"retry.attempts","type":"count","points":[[`+ts+`,3]],"tags":`+tags+`,"interval":60},
		{"metric":"retry.retries","type":"count","points":[[`+ts+`,1]],"tags":`+tags+`,"interval":60},
		{"metric":"retry.operation_duration_seconds.count","type":"count","points":[[`+ts+`,2]],"tags":`+tags+`,"interval":60},
		{"metric":"retry.operation_duration_seconds.sum","type":"count","points":[[`+ts+`,4.5]],"tags":`+tags+`,"interval":60},
		{"metric":"retry.attempt_failures","type":"count","points":[[`+ts+`,1]],"tags":["env:prod","error_type:timeout","operation:api_call","status:completed"],"interval":60},
		{"metric":"retry.session.success_ratio","type":"gauge","points":[[`+ts+`,1]],"tags":["env:prod"]},
		{"metric":"retry.session.failure_ratio","type":"gauge","points":[[`+ts+`,0]],"tags":["env:prod"]},
		{"metric":"retry.session.retry_ratio","type":"gauge","points":[[`+ts+`,0.5]],"tags":["env:prod"]},
		{"metric":"retry.session.average_retries","type":"gauge","points":[[`+ts+`,0.5]],"tags":["env:prod"]},
		{"metric":"retry.session.execution_seconds","type":"gauge","points":[[`+ts+`,4.5]],"tags":["env:prod"]},
		{"metric":"retry.session.operations_per_second","type":"gauge","points":[[`+ts+`,0.03333333333333333]],"tags":["env:prod"]},
		{"metric":"retry.session.breached_thresholds","type":"gauge","points":[[`+ts+`,1]],"tags":["env:prod"]},
		{"metric":"retry.session.snapshot_timestamp_seconds","type":"gauge","points":[[`+ts+`,`+ts+`]],"tags":["env:prod"]}
	]}`, v1.Body)

	var got struct {
		Series []map[string]any `json:"series"`
	}
	if err := json.Unmarshal(v2.Body, &got); err != nil || len(got.Series) != 14 {
		t.Fatalf("v2 body: %v %s", err, v2.Body)
	}
	jsonEqual(t, `{"metric":"retry.operations","type":1,"points":[{"timestamp":`+ts+`,"value":2}],"tags":["operation:api_call","status:completed"],"interval":60}`, mustJSON(got.Series[0]))
	jsonEqual(t, `{"metric":"retry.session.success_ratio","type":3,"points":[{"timestamp":`+ts+`,"value":1}]}`, mustJSON(got.Series[6]))
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func TestWebhookPayload(t *testing.T) {
	t.Parallel()
	rec := newRecorder(t, nil)
	sys := mustSystems(t, map[string]any{"name": "ops_hook", "type": "webhook", "url": rec.URL + "/hooks/abc", "method": "PUT",
		"auth_header": "X-Hook-Token: tok-789", "headers": map[string]any{"X-Team": "ops"}})
	res := Deliver(context.Background(), sys, smallSnapshot(), testOptions(newFakeClock(), false, false))[0]
	if !res.Sent {
		t.Fatalf("result %+v", res)
	}
	r := rec.requests()[0]
	if r.Method != "PUT" || r.Header.Get("X-Hook-Token") != "tok-789" || r.Header.Get("X-Team") != "ops" || r.Header.Get("Content-Type") != "application/json" {
		t.Errorf("request %s %v", r.Method, r.Header)
	}
	jsonEqual(t, `{"event":"metrics","source":"resilience.ops.retry_manager","sent_at":"2023-12-01T10:05:30Z","session":{
		"session_id":"retry_1701425100_000042","time":"2023-12-01T10:05:30Z","session_duration":60,
		"operations":[{"operation":"api_call","status":"completed","operations":2,"attempts":3,"retries":1,"execution_seconds":4.5,"failures":{"timeout":1}}],
		"final_statistics":{"total_operations":2,"successful_operations":2,"failed_operations":0,"success_rate":100,"failure_rate":0,"retry_rate":50,
			"average_retry_count":0.5,"total_execution_time":4.5,"operations_per_minute":2},
		"alerts":[]}}`, r.Body)

	snap := testSnapshot()
	res = Deliver(context.Background(), sys, snap, testOptions(newFakeClock(), true, false))[0]
	if !res.Sent {
		t.Fatalf("alert %+v", res)
	}
	var alert WebhookPayload
	if err := json.Unmarshal(rec.requests()[1].Body, &alert); err != nil {
		t.Fatal(err)
	}
	if alert.Event != EventAlerts || alert.AlertKey != AlertKey(snap) || len(alert.Session.Alerts) != 2 || alert.AlertKey == "" {
		t.Errorf("alert payload %+v", alert)
	}
}

func TestRetriesThenAccepts(t *testing.T) {
	t.Parallel()
	rec := newRecorder(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		switch n {
		case 1:
			http.Error(w, "maintenance", http.StatusServiceUnavailable)
		case 2:
			http.Error(w, "oops", http.StatusInternalServerError)
		default:
			w.WriteHeader(http.StatusOK)
		}
	})
	clk := newFakeClock()
	sys := mustSystems(t, map[string]any{"name": "ops_hook", "type": "webhook", "url": rec.URL, "retry_count": 2, "retry_delay": 7})
	res := Deliver(context.Background(), sys, smallSnapshot(), testOptions(clk, false, false))[0]
	if !res.Sent || res.Attempts != 3 || res.StopReason != "succeeded" || res.Error != "" || res.StatusCode != 200 {
		t.Errorf("result %+v", res)
	}
	if got, want := clk.Sleeps(), []time.Duration{7 * time.Second, 7 * time.Second}; !cmp.Equal(got, want) {
		t.Errorf("waits %v, want %v", got, want)
	}
	if n := len(rec.requests()); n != 3 {
		t.Errorf("%d requests", n)
	}
	bodies := rec.requests()
	if string(bodies[0].Body) != string(bodies[2].Body) {
		t.Error("a retry sent another payload")
	}
}

func TestRetryGivesUpAndWarns(t *testing.T) {
	t.Parallel()
	rec := newRecorder(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Retry-After", "20")
		http.Error(w, "slow down", http.StatusTooManyRequests)
	})
	clk := newFakeClock()
	sys := mustSystems(t, map[string]any{"name": "datadog", "url": rec.URL + "/api/v1/series", "retry_count": 1, "retry_delay": 2})
	results := Deliver(context.Background(), sys, smallSnapshot(), testOptions(clk, false, false))
	res := results[0]
	if res.Sent || res.Attempts != 2 || res.ErrorType != "rate_limit_exceeded" || res.StopReason != "attempts_exhausted" ||
		res.Error != "HTTP 429 Too Many Requests: slow down" || res.StatusCode != 429 {
		t.Errorf("result %+v", res)
	}
	if got := clk.Sleeps(); !cmp.Equal(got, []time.Duration{20 * time.Second}) {
		t.Errorf("Retry-After not honoured: waits %v", got)
	}
	host := strings.TrimPrefix(rec.URL, "http://")
	want := []string{"external system datadog (datadog, " + host + "): metrics not delivered after 2 attempts (rate_limit_exceeded): HTTP 429 Too Many Requests: slow down"}
	if got := Warnings(results); !cmp.Equal(got, want) {
		t.Errorf("warnings %q, want %q", got, want)
	}
	if err := Err(results); err != nil {
		t.Errorf("not required, but Err = %v", err)
	}
}

func TestNotRetried(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		status int
		typ    string
		error  string
	}{
		{"unauthorized", 401, "authentication_error", "HTTP 401 Unauthorized: invalid_token"},
		{"not found", 404, "resource_not_found", "HTTP 404 Not Found: invalid_token"},
		{"redirect", 302, "configuration_error", "HTTP 302 Found: redirects are not followed (credentials would go along); configure the final URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := newRecorder(t, func(_ int, w http.ResponseWriter, r *http.Request) {
				if tt.status == 302 {
					http.Redirect(w, r, "/elsewhere", http.StatusFound)
					return
				}
				http.Error(w, "invalid_token", tt.status)
			})
			sys := mustSystems(t, map[string]any{"name": "slack", "url": rec.URL + "/services/x", "retry_count": 3, "events": "metrics"})
			res := Deliver(context.Background(), sys, smallSnapshot(), testOptions(newFakeClock(), false, false))[0]
			if res.Attempts != 1 || string(res.ErrorType) != tt.typ || res.StopReason != "non_retryable_error" || res.Error != tt.error {
				t.Errorf("result %+v", res)
			}
			if n := len(rec.requests()); n != 1 {
				t.Errorf("%d requests (a redirect must not be followed)", n)
			}
		})
	}
}

func TestTimeoutHolds(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	rec := newRecorder(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		select { // hang until the client gives up
		case <-r.Context().Done():
		case <-release:
		}
	})
	t.Cleanup(func() { close(release) })
	sys := mustSystems(t, map[string]any{"name": "ops_hook", "type": "webhook", "url": rec.URL, "timeout": 0.2, "retry_count": 1, "retry_delay": 30})
	clk := newFakeClock()
	// The server never answers: without the timeout Deliver would block until the test's end
	// (modtest.Finishes catches that hang; no duration is measured).
	var res Result
	modtest.Finishes(t, func() { res = Deliver(context.Background(), sys, smallSnapshot(), testOptions(clk, false, false))[0] })
	if res.Sent || res.Attempts != 2 || res.ErrorType != "timeout" || res.Error != "no answer within the timeout of 0.2s" {
		t.Errorf("result %+v", res)
	}
	if got := clk.Sleeps(); !cmp.Equal(got, []time.Duration{30 * time.Second}) {
		t.Errorf("waits %v", got)
	}
}

func TestSystemsRunConcurrently(t *testing.T) {
	t.Parallel()
	// Each request waits until all five are in flight: one system at a time would time out.
	const n = 5
	var mu sync.Mutex
	inFlight := 0
	all := make(chan struct{})
	rec := newRecorder(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		if inFlight++; inFlight == n {
			close(all)
		}
		mu.Unlock()
		select {
		case <-all:
			w.WriteHeader(http.StatusOK)
		case <-r.Context().Done():
		}
	})
	var entries []map[string]any
	for _, name := range []string{"a", "b", "c", "d", "e"} {
		entries = append(entries, map[string]any{"name": name, "type": "webhook", "url": rec.URL, "timeout": 10, "retry_count": 0})
	}
	results := Deliver(context.Background(), mustSystems(t, entries...), smallSnapshot(), testOptions(newFakeClock(), false, false))
	for i, r := range results {
		if r.Name != entries[i]["name"] || !r.Sent {
			t.Errorf("result %d: %+v (not concurrent?)", i, r)
		}
	}
}

func TestRequiredFailureIsAnError(t *testing.T) {
	t.Parallel()
	rec := newRecorder(t, func(_ int, w http.ResponseWriter, _ *http.Request) { http.Error(w, "down", http.StatusBadGateway) })
	sys := mustSystems(t,
		map[string]any{"name": "prometheus", "url": rec.URL + "/api/v1/write", "required": true, "retry_count": 0},
		map[string]any{"name": "datadog", "url": rec.URL + "/api/v1/series", "retry_count": 0},
		map[string]any{"name": "off", "type": "webhook", "url": rec.URL, "enabled": false},
		map[string]any{"name": "slack", "url": rec.URL},
	)
	results := Deliver(context.Background(), sys, smallSnapshot(), testOptions(newFakeClock(), false, false))
	host := strings.TrimPrefix(rec.URL, "http://")
	err := Err(results)
	var de *DeliveryError
	if err == nil || !errors.As(err, &de) || len(de.Failed) != 1 ||
		err.Error() != "required external system prometheus (prometheus_remote_write, "+host+"): metrics not delivered after 1 attempt (temporary_failure): HTTP 502 Bad Gateway: down" {
		t.Errorf("Err = %v", err)
	}
	if w := Warnings(results); len(w) != 1 || !strings.HasPrefix(w[0], "external system datadog") {
		t.Errorf("warnings %q", w)
	}
	if results[2].Skipped != SkipDisabled || results[3].Skipped != SkipNotSubscribed || results[2].Attempts != 0 {
		t.Errorf("skips %+v / %+v", results[2], results[3])
	}
	if n := len(rec.requests()); n != 2 {
		t.Errorf("%d requests", n)
	}
}

func TestInvalidSnapshotFailsEverySystem(t *testing.T) {
	t.Parallel()
	rec := newRecorder(t, nil)
	sys := mustSystems(t, map[string]any{"name": "ops_hook", "type": "webhook", "url": rec.URL, "required": true})
	snap := smallSnapshot()
	snap.SessionID = ""
	snap.Operations = append(snap.Operations, snap.Operations[0])
	res := Deliver(context.Background(), sys, snap, testOptions(newFakeClock(), false, false))[0]
	if res.Sent || res.ErrorType != "invalid_parameter" || !strings.Contains(res.Error, "session_id must not be empty") ||
		!strings.Contains(res.Error, "operations[1] repeats the operation and status of operations[0]") || Err([]Result{res}) == nil {
		t.Errorf("result %+v", res)
	}
	if len(rec.requests()) != 0 {
		t.Error("an invalid snapshot was sent")
	}
}

func TestAlerts(t *testing.T) {
	t.Parallel()
	rec := newRecorder(t, nil)
	sys := mustSystems(t,
		map[string]any{"name": "slack", "url": rec.URL + "/services/a"},
		map[string]any{"name": "ops_hook", "type": "webhook", "url": rec.URL + "/hook"},
		map[string]any{"name": "prometheus", "url": rec.URL + "/api/v1/write"},
	)
	t.Run("no breach sends nothing", func(t *testing.T) {
		results := Deliver(context.Background(), sys, smallSnapshot(), testOptions(newFakeClock(), true, false))
		got := []string{results[0].Skipped, results[1].Skipped, results[2].Skipped}
		if want := []string{SkipNoBreach, SkipNoBreach, SkipNotSubscribed}; !cmp.Equal(got, want) {
			t.Errorf("skips %v, want %v", got, want)
		}
	})
	if n := len(rec.requests()); n != 0 {
		t.Fatalf("%d requests without a breach", n)
	}

	// Ten hosts notify the handler at once: Claim lets one send.
	var mu sync.Mutex
	claimed := map[string]bool{}
	claim := func(_ context.Context, key string) (bool, error) {
		mu.Lock()
		defer mu.Unlock()
		if claimed[key] {
			return false, nil
		}
		claimed[key] = true
		return true, nil
	}
	var wg sync.WaitGroup
	all := make([][]Result, 10)
	for i := range all {
		wg.Add(1)
		go func() {
			defer wg.Done()
			opts := testOptions(newFakeClock(), true, false)
			opts.Claim = claim
			all[i] = Deliver(context.Background(), sys, testSnapshot(), opts)
		}()
	}
	wg.Wait()
	sent, already := 0, 0
	for _, results := range all {
		switch {
		case results[0].Sent && results[1].Sent:
			sent++
		case results[0].Skipped == SkipAlreadySent && results[1].Skipped == SkipAlreadySent:
			already++
		default:
			t.Errorf("results %+v", results)
		}
	}
	reqs := rec.requests()
	if sent != 1 || already != 9 || len(reqs) != 2 {
		t.Errorf("sent by %d hosts, skipped by %d, %d requests: want one message per system", sent, already, len(reqs))
	}

	t.Run("a new breach is a new group", func(t *testing.T) {
		snap := testSnapshot()
		snap.Alerts = append(snap.Alerts, Alert{Name: "max_execution_time", Value: 2000, Threshold: 1800})
		if AlertKey(snap) == AlertKey(testSnapshot()) {
			t.Fatal("same key")
		}
		moved := testSnapshot()
		moved.Alerts[0].Value = 70
		if AlertKey(moved) != AlertKey(testSnapshot()) {
			t.Error("a value that moved changed the key")
		}
	})
	t.Run("a failing claim sends anyway", func(t *testing.T) {
		opts := testOptions(newFakeClock(), true, false)
		opts.Claim = func(context.Context, string) (bool, error) { return false, errString("state file locked") }
		results := Deliver(context.Background(), sys[:1], testSnapshot(), opts)
		if !results[0].Sent || !strings.Contains(results[0].Note, "state file locked") {
			t.Errorf("result %+v", results[0])
		}
	})
}

type errString string

func (e errString) Error() string { return string(e) }
