package slo

import (
	"context"
	"crypto/tls"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"resilience.ops/internal/clock"
)

// fixture is one answer: a body from testdata (or inline) with the status
// and content type listed in testdata/README.md.
type fixture struct {
	status      int
	contentType string
	file        string // under testdata/
	inline      string // used when file is empty
}

const jsonType = "application/json"

var (
	promVector   = fixture{200, jsonType, "prometheus/instant_vector.body", ""} // 0.002
	promHealth   = fixture{200, jsonType, "prometheus/instant_health.body", ""} // 0.999
	promEmpty    = fixture{200, jsonType, "prometheus/instant_empty.body", ""}
	promBadData  = fixture{400, jsonType, "prometheus/instant_bad_data.body", ""}
	promExec     = fixture{422, jsonType, "prometheus/instant_two_series.body", ""}
	promTimeout  = fixture{503, jsonType, "prometheus/instant_timeout.body", ""}
	lokiCount    = fixture{200, jsonType, "loki/instant_count.body", ""}  // 6 lines
	lokiVolume   = fixture{200, jsonType, "loki/instant_volume.body", ""} // 120 lines
	lokiRate     = fixture{200, jsonType, "loki/instant_vector.body", ""} // 0.00667 per second
	lokiEmpty    = fixture{200, jsonType, "loki/instant_empty.body", ""}
	lokiParseErr = fixture{400, "text/plain; charset=utf-8", "loki/instant_parse_error.body", ""}
	lokiStreams  = fixture{200, jsonType, "loki/range_streams.body", ""}

	serverError = fixture{500, "text/plain; charset=utf-8", "", "internal error\n"}
	garbage     = fixture{200, jsonType, "", "<html>this is not JSON</html>"}
	promNaN     = fixture{200, jsonType, "", `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1795448399.8,"NaN"]}]}}`}
	promTwo     = fixture{200, jsonType, "", `{"status":"success","data":{"resultType":"vector","result":[` +
		`{"metric":{"instance":"a","job":"threader"},"value":[1795448399.8,"0.001"]},` +
		`{"metric":{"instance":"b","job":"threader"},"value":[1795448399.8,"0.003"]}]}}`}
	promScalar = fixture{200, jsonType, "", `{"status":"success","data":{"resultType":"scalar","result":[1795448399.8,"42"]}}`}
	promMatrix = fixture{200, jsonType, "", `{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1795448399.8,"1"]]}]}}`}
)

func (f fixture) body(t testing.TB) []byte {
	if f.file == "" {
		return []byte(f.inline)
	}
	b, err := os.ReadFile(filepath.Join("testdata", f.file))
	if err != nil {
		t.Fatalf("read fixture: %v", err)
	}
	return b
}

// serve returns a handler that writes f. A recorded body has its samples
// stamped with the query's time, as the real server stamps the samples of an
// instant query; inline bodies are sent as they are.
func serve(t testing.TB, f fixture) http.HandlerFunc {
	body := f.body(t)
	return func(w http.ResponseWriter, r *http.Request) {
		b := body
		if at := r.FormValue("time"); f.file != "" && at != "" {
			b = sampleStamp.ReplaceAll(body, []byte(`"value":[`+at+`,"`))
		}
		w.Header().Set("Content-Type", f.contentType)
		w.WriteHeader(f.status)
		_, _ = w.Write(b)
	}
}

// sampleStamp is the time of an instant vector's sample in a recorded body.
var sampleStamp = regexp.MustCompile(`"value":\[[0-9.]+,"`)

// request is what a fake server saw.
type request struct {
	method, path, query, time string
	header                    http.Header
}

// fake is a Prometheus or Loki stand-in: it records each query request and
// answers with the handler that route picks for the query.
type fake struct {
	*httptest.Server
	mu   sync.Mutex
	seen []request
}

func newFake(t testing.TB, route func(query string) http.HandlerFunc) *fake {
	f := &fake{}
	f.Server = httptest.NewServer(f.handler(route))
	t.Cleanup(f.Close)
	return f
}

// newTLSFake is newFake over TLS with the given server configuration.
func newTLSFake(t testing.TB, cfg *tls.Config, route func(query string) http.HandlerFunc) *fake {
	f := &fake{}
	f.Server = httptest.NewUnstartedServer(f.handler(route))
	f.TLS = cfg
	f.Config.ErrorLog = log.New(io.Discard, "", 0) // handshake failures are expected
	f.StartTLS()
	t.Cleanup(f.Close)
	return f
}

func (f *fake) handler(route func(query string) http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		f.mu.Lock()
		f.seen = append(f.seen, request{r.Method, r.URL.Path, r.Form.Get("query"), r.Form.Get("time"), r.Header.Clone()})
		f.mu.Unlock()
		if r.URL.Path != "/api/v1/query" && r.URL.Path != "/loki/api/v1/query" {
			http.NotFound(w, r)
			return
		}
		route(r.Form.Get("query"))(w, r)
	})
}

func (f *fake) requests() []request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]request(nil), f.seen...)
}

// fakeProm answers the 5xx query with fx5xx and the health query with fxHealth.
func fakeProm(t testing.TB, fx5xx, fxHealth fixture) *fake {
	h5, hh := serve(t, fx5xx), serve(t, fxHealth)
	return newFake(t, func(q string) http.HandlerFunc {
		if strings.Contains(q, "health_ok") {
			return hh
		}
		return h5
	})
}

// fakeLoki answers the error count query with fxCount and the volume query with fxVolume.
func fakeLoki(t testing.TB, fxCount, fxVolume fixture) *fake {
	hc, hv := serve(t, fxCount), serve(t, fxVolume)
	return newFake(t, func(q string) http.HandlerFunc {
		if strings.Contains(q, "|~") {
			return hc
		}
		return hv
	})
}

// testNow is the injected evaluation time: just after the recorded samples
// (Prometheus 15:39:59.828, Loki 15:39:51.723), as a real server stamps the
// samples of an instant query with the query's time. A sample stamped before
// the window or after the evaluation time is stale (checkSampleTime).
var testNow = time.Date(2026, 11, 23, 15, 40, 0, 0, time.UTC)

func testConfig(promURL, lokiURL string) Config {
	cfg := DefaultConfig()
	cfg.Endpoints[SourcePrometheus].URL = promURL
	cfg.Endpoints[SourceLoki].URL = lokiURL
	cfg.Timeout = 5 * time.Second
	return cfg
}

func evaluate(t testing.TB, cfg Config, opts ...Option) Report {
	t.Helper()
	e, err := New(cfg, append([]Option{WithClock(clock.Func(func() time.Time { return testNow }))}, opts...)...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return e.Evaluate(context.Background())
}

func result(t testing.TB, r Report, name string) CheckResult {
	t.Helper()
	for _, c := range r.Checks {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no result for check %q in %+v", name, r.Checks)
	return CheckResult{}
}
