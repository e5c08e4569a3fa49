package release

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"resilience.ops/internal/clock"
	"resilience.ops/internal/fakeclock"
	"resilience.ops/internal/guard"
	"resilience.ops/internal/slo"
)

// fakeClock is the test clock (package fakeclock): nothing sleeps for real.
type fakeClock = fakeclock.Clock

func newFakeClock(t time.Time) *fakeClock { return fakeclock.New(t) }

// fakeEval returns the next report of a script on each call (the last one once the script is
// used up) and records the times of the calls. hook, when set, runs inside each call.
type fakeEval struct {
	mu      sync.Mutex
	reports []slo.Report
	calls   []time.Time
	clock   *fakeClock
	hook    func(call int)
}

func (f *fakeEval) Evaluate(context.Context) slo.Report {
	f.mu.Lock()
	n := len(f.calls)
	at := f.clock.Now()
	f.calls = append(f.calls, at)
	r := f.reports[min(n, len(f.reports)-1)]
	hook := f.hook
	f.mu.Unlock()
	if hook != nil {
		hook(n)
	}
	r.EvaluatedAt = at
	return r
}

// report builds a report from check outcomes, in the built-in checks' order; the status is
// computed the way slo computes it.
func report(outcomes ...slo.Outcome) slo.Report {
	names := []string{slo.CheckHTTP5xxRatio, slo.CheckHealthRatio, slo.CheckErrorLogRate}
	r := slo.Report{Window: "15m"}
	rank := map[slo.Outcome]int{slo.OutcomePass: 0, slo.OutcomeUnknown: 1, slo.OutcomeFail: 2, slo.OutcomeConfigError: 3}
	statuses := []slo.Status{slo.StatusStable, slo.StatusUnknown, slo.StatusUnstable, slo.StatusConfigError}
	worst := 0
	for i, o := range outcomes {
		v := 0.002 * float64(i+1)
		c := slo.CheckResult{Name: names[i%3], Source: slo.SourcePrometheus, Query: "q_" + names[i%3],
			Threshold: 0.01, Comparison: slo.LE, Outcome: o, Message: fmt.Sprintf("%s value %g", names[i%3], v)}
		if o == slo.OutcomePass || o == slo.OutcomeFail {
			c.Value = &v
		}
		r.Checks = append(r.Checks, c)
		worst = max(worst, rank[o])
	}
	r.Status = statuses[worst]
	r.Stable = r.Status == slo.StatusStable
	return r
}

var (
	stable     = report(slo.OutcomePass, slo.OutcomePass, slo.OutcomePass)
	unstable   = report(slo.OutcomeFail, slo.OutcomePass, slo.OutcomePass)
	unknown    = report(slo.OutcomePass, slo.OutcomeUnknown, slo.OutcomePass)
	misconfig  = report(slo.OutcomeConfigError, slo.OutcomePass, slo.OutcomePass)
	t0         = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	window15   = 15 * time.Minute
	defaultReq = request{window: window15, pollInterval: 30 * time.Second, waitTimeout: 30 * time.Minute, evaluation: 10 * time.Second}
)

// lockAt locks the guard at path as if at time at, for minutes.
func lockAt(t *testing.T, path string, at time.Time, minutes int) guard.Status {
	t.Helper()
	g := guard.New(path)
	g.Clock = clock.Func(func() time.Time { return at })
	res, err := g.Lock(guard.LockRequest{Minutes: minutes, Reason: "rollback 42", Owner: "ci@runner"}, false)
	if err != nil {
		t.Fatal(err)
	}
	return res.After
}

// backend is a Prometheus and Loki stand-in for the module and command-line tests. Prometheus
// answers the built-in queries by job: threader 0.002/0.999 (stable), hot 0.05/0.999, sick
// 0.002/0.9, nothing (no series). A query containing "broken(" is rejected as bad_data. Loki
// answers 6 matching lines of 120.
type backend struct {
	prom, loki *httptest.Server
	mu         sync.Mutex
	headers    []http.Header
	lokiStatus int // when set, Loki answers with this status and a body that echoes the credentials
}

var jobLabel = regexp.MustCompile(`job="([^"]*)"`)

func newBackend(t testing.TB) *backend {
	b := startBackend()
	t.Cleanup(b.close)
	return b
}

func (b *backend) close() {
	b.prom.Close()
	b.loki.Close()
}

// startBackend starts the servers; close stops them.
func startBackend() *backend {
	b := &backend{}
	// Samples are stamped with the query's time, as Prometheus and Loki stamp an instant query's.
	var stamp string
	vector := func(v string) string {
		if v == "" {
			return `{"status":"success","data":{"resultType":"vector","result":[]}}`
		}
		return `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[` + stamp + `,"` + v + `"]}]}}`
	}
	var mu sync.Mutex // stamp is per request
	withStamp := func(r *http.Request, f func()) {
		mu.Lock()
		defer mu.Unlock()
		stamp = r.Form.Get("time")
		if stamp == "" {
			stamp = "1795448399.8"
		}
		f()
	}
	values := map[string][2]string{"threader": {"0.002", "0.999"}, "hot": {"0.05", "0.999"}, "sick": {"0.002", "0.9"}, "nothing": {"", ""}}
	b.prom = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		b.record(r)
		q := r.Form.Get("query")
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path != "/api/v1/query" {
			http.NotFound(w, r)
			return
		}
		if strings.Contains(q, "broken(") {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"status":"error","errorType":"bad_data","error":"invalid parameter \"query\": 1:8: parse error: unclosed left parenthesis"}`)
			return
		}
		withStamp(r, func() {
			if strings.HasPrefix(q, "vector(") {
				fmt.Fprint(w, vector("1"))
				return
			}
			m := jobLabel.FindStringSubmatch(q)
			if m == nil {
				fmt.Fprint(w, vector(""))
				return
			}
			v := values[m[1]]
			if strings.Contains(q, "health_ok") {
				fmt.Fprint(w, vector(v[1]))
			} else {
				fmt.Fprint(w, vector(v[0]))
			}
		})
	}))
	b.loki = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		b.record(r)
		b.mu.Lock()
		status := b.lokiStatus
		b.mu.Unlock()
		if status != 0 { // as a careless proxy would
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(status)
			fmt.Fprint(w, "denied: "+r.Header.Get("Authorization")+" tenant "+r.Header.Get("X-Scope-OrgID")+" "+r.Header.Get("X-Api-Key"))
			return
		}
		if r.URL.Path != "/loki/api/v1/query" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		withStamp(r, func() {
			if strings.Contains(r.Form.Get("query"), "|~") {
				fmt.Fprint(w, vector("6"))
			} else {
				fmt.Fprint(w, vector("120"))
			}
		})
	}))
	return b
}

func (b *backend) record(r *http.Request) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.headers = append(b.headers, r.Header.Clone())
}

// failLoki makes Loki answer every request with status and a body that echoes the request's
// credentials.
func (b *backend) failLoki(status int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.lokiStatus = status
}

func (b *backend) seenHeaders() []http.Header {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]http.Header(nil), b.headers...)
}
