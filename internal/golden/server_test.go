package golden

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// server is the corpus's HTTP server: the operations' endpoints, Prometheus and Loki stand-ins,
// and receivers for the external systems.
type server struct {
	url, host string
	mu        sync.Mutex
	calls     map[string]int
}

// newServer starts the server for the rest of t. Paths:
//
//	/ok                         200 "ok"
//	/status/<code>              that status
//	/flaky/<n>/<key>            503 until the n-th call with that key, then 200
//	/retry-after/<seconds>      429 with Retry-After: <seconds>
//	/echo                       200 with the method, the Content-Type and the body
//	/redirect                   302 to another origin
//	/prom/<mode>, /loki/<mode>  the query APIs; mode is stable, unstable, nodata, error or badquery
//	/sink/...                   200 for anything (external systems)
//	/sinkfail/...               500 for anything
func newServer(t *testing.T) *server {
	s := &server{calls: map[string]int{}}
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("/status/{code}", func(w http.ResponseWriter, r *http.Request) {
		code, _ := strconv.Atoi(r.PathValue("code"))
		w.WriteHeader(code)
		fmt.Fprintf(w, "status %d\n", code)
	})
	mux.HandleFunc("/flaky/{n}/{key}", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.PathValue("n"))
		s.mu.Lock()
		s.calls[r.PathValue("key")]++
		c := s.calls[r.PathValue("key")]
		s.mu.Unlock()
		if c < n {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintf(w, "busy, call %d\n", c)
			return
		}
		fmt.Fprintf(w, "done at call %d\n", c)
	})
	mux.HandleFunc("/retry-after/{s}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", r.PathValue("s"))
		w.WriteHeader(http.StatusTooManyRequests)
		fmt.Fprintln(w, "slow down")
	})
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		names := make([]string, 0, len(r.Header))
		for k := range r.Header {
			if k != "Accept-Encoding" && k != "User-Agent" && k != "Content-Length" {
				names = append(names, k)
			}
		}
		sort.Strings(names)
		fmt.Fprintf(w, "%s %s headers=%s type=%s body=%s\n", r.Method, r.URL.Path, strings.Join(names, ","),
			r.Header.Get("Content-Type"), body)
	})
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://127.0.0.2:9/elsewhere", http.StatusFound)
	})
	mux.HandleFunc("/prom/{mode}/api/v1/query", query)
	mux.HandleFunc("/loki/{mode}/loki/api/v1/query", query)
	mux.HandleFunc("/sink/", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusOK)
	})
	mux.HandleFunc("/sinkfail/", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprintln(w, "receiver failed")
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	s.url = srv.URL
	u, _ := url.Parse(srv.URL)
	s.host = u.Host
	return s
}

// query answers an instant query as Prometheus and Loki do, stamped with the query's own time.
func query(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	q, at := r.Form.Get("query"), r.Form.Get("time")
	w.Header().Set("Content-Type", "application/json")
	mode := r.PathValue("mode")
	switch mode {
	case "error":
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprintln(w, "internal error")
		return
	case "badquery":
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"status":"error","errorType":"bad_data","error":"parse error at char 1"}`)
		return
	case "nodata":
		fmt.Fprint(w, `{"status":"success","data":{"resultType":"vector","result":[]}}`)
		return
	}
	v := "0.002"
	switch {
	case strings.Contains(q, "health_ok"):
		v = "0.999"
	case strings.Contains(q, "|~"):
		v = "0"
	case strings.Contains(q, "count_over_time"):
		v = "120"
	}
	if mode == "unstable" {
		switch {
		case strings.Contains(q, "health_ok"):
			v = "0.9"
		case strings.Contains(q, "|~"):
			v = "900"
		default:
			v = "0.2"
		}
	}
	fmt.Fprintf(w, `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[%s,"%s"]}]}}`, at, v)
}
