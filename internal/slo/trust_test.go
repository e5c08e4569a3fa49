package slo

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"resilience.ops/internal/modtest"
)

// stamped is a recorded body whose sample is stamped at, with value v when v is not empty: the
// answer of a server that is wrong (or lies) about one thing only.
func stamped(t *testing.T, f fixture, at time.Time, v string) http.HandlerFunc {
	body := f.body(t)
	ts := strconv.FormatFloat(float64(at.UnixMilli())/1000, 'f', 3, 64)
	b := sampleStamp.ReplaceAll(body, []byte(`"value":[`+ts+`,"`))
	if v != "" {
		b = []byte(strings.Replace(string(b), `,"`+recordedValue(t, body)+`"]`, `,"`+v+`"]`, 1))
	}
	if string(b) == string(body) {
		t.Fatalf("%s: nothing replaced", f.file)
	}
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", f.contentType)
		_, _ = w.Write(b)
	}
}

// recordedValue is the sample value of a recorded instant vector body.
func recordedValue(t *testing.T, body []byte) string {
	s := string(body)
	i := sampleStamp.FindStringIndex(s)
	if i == nil {
		t.Fatal("no sample in the body")
	}
	rest := s[i[1]:]
	return rest[:strings.IndexByte(rest, '"')]
}

// serversOf starts Prometheus and Loki stand-ins: prom answers the 5xx and health queries, loki the
// error count and volume queries.
func serversOf(t *testing.T, p5xx, pHealth, lCount, lVolume http.HandlerFunc) Config {
	prom := newFake(t, func(q string) http.HandlerFunc {
		if strings.Contains(q, "health_ok") {
			return pHealth
		}
		return p5xx
	})
	loki := newFake(t, func(q string) http.HandlerFunc {
		if strings.Contains(q, "|~") {
			return lCount
		}
		return lVolume
	})
	return testConfig(prom.URL, loki.URL)
}

// A value outside what its check can take is not compared: a ratio outside [0, 1], a negative
// count, a volume that is not a number of lines. Each would otherwise pass its threshold.
func TestValuesOutsideTheirDomainAreUnknown(t *testing.T) {
	t.Parallel()
	ok5xx, okHealth := stamped(t, promVector, testNow, ""), stamped(t, promHealth, testNow, "")
	okCount, okVolume := stamped(t, lokiCount, testNow, ""), stamped(t, lokiVolume, testNow, "")
	empty := serve(t, lokiEmpty)
	tests := []struct {
		name                      string
		p5xx, pHealth, lCnt, lVol http.HandlerFunc
		check                     string
		wantOutcome               Outcome
		wantReason                Reason
	}{
		{"5xx ratio of -5", stamped(t, promVector, testNow, "-5"), okHealth, okCount, okVolume, CheckHTTP5xxRatio, OutcomeUnknown, ReasonOutOfDomain},
		{"5xx ratio of 1.5", stamped(t, promVector, testNow, "1.5"), okHealth, okCount, okVolume, CheckHTTP5xxRatio, OutcomeUnknown, ReasonOutOfDomain},
		{"health ratio of 1e9", ok5xx, stamped(t, promHealth, testNow, "1e9"), okCount, okVolume, CheckHealthRatio, OutcomeUnknown, ReasonOutOfDomain},
		{"health ratio of -0.5", ok5xx, stamped(t, promHealth, testNow, "-0.5"), okCount, okVolume, CheckHealthRatio, OutcomeUnknown, ReasonOutOfDomain},
		{"health ratio of +Inf", ok5xx, stamped(t, promHealth, testNow, "+Inf"), okCount, okVolume, CheckHealthRatio, OutcomeUnknown, ReasonNotFinite},
		{"error count of -1000", ok5xx, okHealth, stamped(t, lokiCount, testNow, "-1000"), okVolume, CheckErrorLogRate, OutcomeUnknown, ReasonOutOfDomain},
		{"empty error result with a volume of +Inf", ok5xx, okHealth, empty, stamped(t, lokiVolume, testNow, "+Inf"), CheckErrorLogRate, OutcomeUnknown, ReasonOutOfDomain},
		{"empty error result with a volume of NaN", ok5xx, okHealth, empty, stamped(t, lokiVolume, testNow, "NaN"), CheckErrorLogRate, OutcomeUnknown, ReasonOutOfDomain},
		{"empty error result with a volume of -5", ok5xx, okHealth, empty, stamped(t, lokiVolume, testNow, "-5"), CheckErrorLogRate, OutcomeUnknown, ReasonOutOfDomain},
		// The bounds themselves, and an average that rounding put a few ulps above 1, are values.
		{"5xx ratio of 0", stamped(t, promVector, testNow, "0"), okHealth, okCount, okVolume, CheckHTTP5xxRatio, OutcomePass, ""},
		{"health ratio of 1", ok5xx, stamped(t, promHealth, testNow, "1"), okCount, okVolume, CheckHealthRatio, OutcomePass, ""},
		{"health ratio just above 1 by rounding", ok5xx, stamped(t, promHealth, testNow, "1.0000000000000002"), okCount, okVolume, CheckHealthRatio, OutcomePass, ""},
		{"error count of 0", ok5xx, okHealth, stamped(t, lokiCount, testNow, "0"), okVolume, CheckErrorLogRate, OutcomePass, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := evaluate(t, serversOf(t, tt.p5xx, tt.pHealth, tt.lCnt, tt.lVol))
			c := result(t, r, tt.check)
			if c.Outcome != tt.wantOutcome || c.Reason != tt.wantReason {
				t.Fatalf("%s: %s/%s (%s), want %s/%s", tt.check, c.Outcome, c.Reason, c.Message, tt.wantOutcome, tt.wantReason)
			}
			if tt.wantOutcome != OutcomePass && (r.Stable || c.Value != nil) {
				t.Errorf("stable %v, value %v: an untrusted value must make the report unknown", r.Stable, c.Value)
			}
		})
	}
}

// A user check takes any finite value: it has no domain the module could know.
func TestUserChecksTakeAnyFiniteValue(t *testing.T) {
	t.Parallel()
	th := -10.0
	cfg := serversOf(t, stamped(t, promVector, testNow, "-5"), nil, nil, nil)
	cfg.Disable = []string{CheckHTTP5xxRatio, CheckHealthRatio, CheckErrorLogRate}
	cfg.Checks = []CheckSpec{{Name: "delta", Source: SourcePrometheus, Query: "deriv(x[5m])", Comparison: GE, Threshold: &th}}
	if c := result(t, evaluate(t, cfg), "delta"); c.Outcome != OutcomePass {
		t.Errorf("%s/%s: %s", c.Outcome, c.Reason, c.Message)
	}
}

// A sample stamped before the window (25 years ago, or a second too early) or after the
// evaluation time (beyond MaxSampleSkew) does not answer the query: unknown, never stable. The
// volume query's sample is held to the same.
func TestSamplesOutsideTheWindowAreUnknown(t *testing.T) {
	t.Parallel()
	okHealth := stamped(t, promHealth, testNow, "")
	okCount, okVolume := stamped(t, lokiCount, testNow, ""), stamped(t, lokiVolume, testNow, "")
	window := 15 * time.Minute
	tests := []struct {
		name        string
		at          time.Time
		wantOutcome Outcome
	}{
		{"25 years ago", testNow.AddDate(-25, 0, 0), OutcomeUnknown},
		{"a second before the window", testNow.Add(-window - time.Second), OutcomeUnknown},
		{"at the window's start", testNow.Add(-window), OutcomePass},
		{"at the evaluation time", testNow, OutcomePass},
		{"within the skew", testNow.Add(MaxSampleSkew), OutcomePass},
		{"beyond the skew", testNow.Add(MaxSampleSkew + time.Second), OutcomeUnknown},
		{"next year", testNow.AddDate(1, 0, 0), OutcomeUnknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := evaluate(t, serversOf(t, stamped(t, promVector, tt.at, ""), okHealth, okCount, okVolume))
			c := result(t, r, CheckHTTP5xxRatio)
			if c.Outcome != tt.wantOutcome {
				t.Fatalf("%s/%s: %s", c.Outcome, c.Reason, c.Message)
			}
			if tt.wantOutcome == OutcomeUnknown && (c.Reason != ReasonStaleSample || r.Stable || c.Value != nil) {
				t.Errorf("reason %s, stable %v, value %v", c.Reason, r.Stable, c.Value)
			}
		})
	}
	t.Run("stale volume behind an empty error result", func(t *testing.T) {
		t.Parallel()
		r := evaluate(t, serversOf(t, stamped(t, promVector, testNow, ""), okHealth, serve(t, lokiEmpty),
			stamped(t, lokiVolume, testNow.AddDate(-25, 0, 0), "")))
		if c := result(t, r, CheckErrorLogRate); c.Outcome != OutcomeUnknown || c.Reason != ReasonStaleSample || r.Stable {
			t.Errorf("%s/%s: %s", c.Outcome, c.Reason, c.Message)
		}
	})
	t.Run("stale scalar", func(t *testing.T) {
		t.Parallel()
		old := strconv.FormatInt(testNow.AddDate(-25, 0, 0).Unix(), 10)
		scalar := fixture{200, jsonType, "", `{"status":"success","data":{"resultType":"scalar","result":[` + old + `,"0"]}}`}
		cfg := promOnly(newFake(t, func(string) http.HandlerFunc { return serve(t, scalar) }).URL)
		if c := result(t, evaluate(t, cfg), CheckHTTP5xxRatio); c.Outcome != OutcomeUnknown || c.Reason != ReasonStaleSample {
			t.Errorf("%s/%s: %s", c.Outcome, c.Reason, c.Message)
		}
	})
}

// credRecorder stands in for another host: it answers with stable data and records every
// credential it is sent.
type credRecorder struct {
	*httptest.Server
	mu       sync.Mutex
	requests int
	creds    []string
}

func newCredRecorder(t *testing.T, h http.HandlerFunc) *credRecorder {
	c := &credRecorder{}
	c.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.record(r)
		h(w, r)
	}))
	t.Cleanup(c.Close)
	return c
}

func (c *credRecorder) record(r *http.Request) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.requests++
	for _, h := range []string{"Authorization", "X-Api-Key", TenantHeader} {
		if v := r.Header.Get(h); v != "" {
			c.creds = append(c.creds, h+": "+v)
		}
	}
}

func (c *credRecorder) seen() (int, []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.requests, append([]string(nil), c.creds...)
}

// stableData answers every query the way a healthy system would.
func stableData(t *testing.T) http.HandlerFunc {
	p5xx, pHealth := serve(t, promVector), serve(t, promHealth)
	lCount, lVolume := serve(t, lokiEmpty), serve(t, lokiVolume)
	return func(w http.ResponseWriter, r *http.Request) {
		q := r.FormValue("query")
		switch {
		case strings.Contains(q, "health_ok"):
			pHealth(w, r)
		case strings.Contains(q, "http_5xx"):
			p5xx(w, r)
		case strings.Contains(q, "|~"):
			lCount(w, r)
		default:
			lVolume(w, r)
		}
	}
}

// A Prometheus or Loki that redirects to another origin (another port is another host) is not
// followed: the other host receives neither the bearer tokens nor any request, so it cannot supply
// the data; the checks are unknown. The same holds for https redirecting to http on the same host
// and port. Within the origin, a redirect is followed.
func TestRedirectsStayOnTheOrigin(t *testing.T) {
	t.Parallel()
	other := newCredRecorder(t, stableData(t))
	var clear credRecorder
	var httpURL string
	httpsURL, httpURL := modtest.DualServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS != nil {
			http.Redirect(w, r, httpURL+r.URL.Path, http.StatusTemporaryRedirect)
			return
		}
		clear.record(r)
		stableData(t)(w, r)
	}))
	away := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	t.Cleanup(away.Close)

	for _, tt := range []struct {
		name, url string
		seen      func() (int, []string)
	}{
		{"307 to another port", away.URL, other.seen},
		{"https to http on the same host and port", httpsURL, clear.seen},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(tt.url, tt.url)
			for _, ep := range []*Endpoint{cfg.Endpoints[SourcePrometheus], cfg.Endpoints[SourceLoki]} {
				ep.InsecureSkipVerify = true
				ep.BearerToken = "tok-" + strings.Repeat("s3cr3t", 4)
				ep.Headers = map[string]string{"X-Api-Key": "hdr-s3cr3t-value"}
			}
			cfg.Endpoints[SourceLoki].TenantID = "team-a"
			r := evaluate(t, cfg)
			if r.Stable || r.Status != StatusUnknown {
				t.Errorf("status %s: the redirected data decided", r.Status)
			}
			for _, c := range r.Checks {
				if c.Outcome != OutcomeUnknown || c.Reason != ReasonRedirect || !strings.Contains(c.Message, "not followed") {
					t.Errorf("%s: %s/%s: %s", c.Name, c.Outcome, c.Reason, c.Message)
				}
			}
			if n, creds := tt.seen(); n != 0 || len(creds) != 0 {
				t.Errorf("the other origin got %d requests with credentials %q", n, creds)
			}
		})
	}

	t.Run("within the origin", func(t *testing.T) {
		data := stableData(t)
		var moved credRecorder
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !strings.HasPrefix(r.URL.Path, "/new/") {
				http.Redirect(w, r, "/new"+r.URL.Path, http.StatusPermanentRedirect)
				return
			}
			_ = r.ParseForm()
			moved.record(r)
			data(w, r)
		}))
		t.Cleanup(srv.Close)
		cfg := testConfig(srv.URL, srv.URL)
		cfg.Endpoints[SourcePrometheus].BearerToken = "tok-prometheus-1"
		if r := evaluate(t, cfg); !r.Stable {
			t.Errorf("status %s: %+v", r.Status, r.Checks)
		}
		if n, creds := moved.seen(); n == 0 || !strings.Contains(fmt.Sprint(creds), "Bearer tok-prometheus-1") {
			t.Errorf("the redirected requests (%d) lost their credentials: %q", n, creds)
		}
	})
}
