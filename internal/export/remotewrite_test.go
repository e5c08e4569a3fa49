package export

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/klauspost/compress/snappy"
	"github.com/prometheus/client_golang/exp/api/remote"
	writev2 "github.com/prometheus/client_golang/exp/api/remote/genproto/v2"
	"google.golang.org/protobuf/encoding/protowire"
)

// decoded is a series as a test reads it back: labels as name=value text and the sample.
type decoded struct {
	Labels string
	Value  float64
	MS     int64
	Type   int    // metadata type (2.0: per series; 1.0: from the family's metadata)
	Help   string // 2.0 only
}

// decodeRW10 reads a prometheus.WriteRequest with protowire, strictly: unknown fields fail.
func decodeRW10(t *testing.T, b []byte) (series []decoded, meta map[string]int) {
	t.Helper()
	meta = map[string]int{}
	fields(t, b, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) {
		switch num {
		case 1:
			var ls []string
			var d decoded
			fields(t, v, func(num protowire.Number, _ protowire.Type, v []byte, _ uint64) {
				switch num {
				case 1:
					var name, value string
					fields(t, v, func(num protowire.Number, _ protowire.Type, v []byte, _ uint64) {
						if num == 1 {
							name = string(v)
						} else {
							value = string(v)
						}
					})
					ls = append(ls, name+"="+value)
				case 2:
					fields(t, v, func(num protowire.Number, _ protowire.Type, v []byte, n uint64) {
						if num == 1 {
							d.Value = math.Float64frombits(n)
						} else {
							d.MS = int64(n)
						}
					})
				default:
					t.Fatalf("unexpected TimeSeries field %d", num)
				}
			})
			if !sort.StringsAreSorted(ls) {
				t.Errorf("labels not sorted: %v", ls)
			}
			d.Labels = strings.Join(ls, ",")
			series = append(series, d)
		case 3:
			var name string
			var typ int
			fields(t, v, func(num protowire.Number, _ protowire.Type, v []byte, n uint64) {
				switch num {
				case 1:
					typ = int(n)
				case 2:
					name = string(v)
				}
			})
			meta[name] = typ
		default:
			t.Fatalf("unexpected WriteRequest field %d (%v)", num, typ)
		}
	})
	return series, meta
}

// fields walks the fields of a message: bytes fields give v, varint and fixed64 give n.
func fields(t *testing.T, b []byte, f func(protowire.Number, protowire.Type, []byte, uint64)) {
	t.Helper()
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			t.Fatalf("bad tag: %v", protowire.ParseError(n))
		}
		b = b[n:]
		switch typ {
		case protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				t.Fatal("bad bytes")
			}
			f(num, typ, v, 0)
			b = b[n:]
		case protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				t.Fatal("bad varint")
			}
			f(num, typ, nil, v)
			b = b[n:]
		case protowire.Fixed64Type:
			v, n := protowire.ConsumeFixed64(b)
			if n < 0 {
				t.Fatal("bad fixed64")
			}
			f(num, typ, nil, v)
			b = b[n:]
		default:
			t.Fatalf("unexpected wire type %v", typ)
		}
	}
}

// decodeRW20 reads an io.prometheus.write.v2.Request with client_golang's generated types.
func decodeRW20(t *testing.T, b []byte) []decoded {
	t.Helper()
	var req writev2.Request
	if err := req.UnmarshalVT(b); err != nil {
		t.Fatalf("not a v2 Request: %v", err)
	}
	return fromV2(t, &req)
}

func fromV2(t *testing.T, req *writev2.Request) []decoded {
	t.Helper()
	syms := req.GetSymbols()
	if len(syms) == 0 || syms[0] != "" {
		t.Fatalf("symbols must start with the empty string: %q", syms)
	}
	var out []decoded
	for _, ts := range req.GetTimeseries() {
		refs := ts.GetLabelsRefs()
		var ls []string
		for i := 0; i+1 < len(refs); i += 2 {
			ls = append(ls, syms[refs[i]]+"="+syms[refs[i+1]])
		}
		s := ts.GetSamples()
		if len(s) != 1 {
			t.Fatalf("%d samples", len(s))
		}
		out = append(out, decoded{Labels: strings.Join(ls, ","), Value: s[0].GetValue(), MS: s[0].GetTimestamp(),
			Type: int(ts.GetMetadata().GetType()), Help: syms[ts.GetMetadata().GetHelpRef()]})
	}
	return out
}

// wantSeries are the series of testSnapshot for job j, as name=value label text and value.
func wantSeries(job string) map[string]float64 {
	j := "job=" + job
	op := func(name, labels string) string { return "__name__=" + name + "," + j + "," + labels }
	return map[string]float64{
		op("retry_operations_total", "operation=network_configuration,status=completed"):                                          1,
		op("retry_operations_total", "operation=vmware_vm_create,status=completed"):                                               3,
		op("retry_operations_total", "operation=vmware_vm_create,status=failed"):                                                  1,
		op("retry_attempts_total", "operation=network_configuration,status=completed"):                                            1,
		op("retry_attempts_total", "operation=vmware_vm_create,status=completed"):                                                 5,
		op("retry_attempts_total", "operation=vmware_vm_create,status=failed"):                                                    3,
		op("retry_retries_total", "operation=network_configuration,status=completed"):                                             0,
		op("retry_retries_total", "operation=vmware_vm_create,status=completed"):                                                  2,
		op("retry_retries_total", "operation=vmware_vm_create,status=failed"):                                                     2,
		op("retry_operation_duration_seconds_sum", "operation=network_configuration,status=completed"):                            30,
		op("retry_operation_duration_seconds_count", "operation=network_configuration,status=completed"):                          1,
		op("retry_operation_duration_seconds_sum", "operation=vmware_vm_create,status=completed"):                                 200,
		op("retry_operation_duration_seconds_count", "operation=vmware_vm_create,status=completed"):                               3,
		op("retry_operation_duration_seconds_sum", "operation=vmware_vm_create,status=failed"):                                    100,
		op("retry_operation_duration_seconds_count", "operation=vmware_vm_create,status=failed"):                                  1,
		"__name__=retry_attempt_failures_total,error_type=connection_error," + j + ",operation=vmware_vm_create,status=completed": 1,
		"__name__=retry_attempt_failures_total,error_type=timeout," + j + ",operation=vmware_vm_create,status=completed":          1,
		"__name__=retry_attempt_failures_total,error_type=connection_error," + j + ",operation=vmware_vm_create,status=failed":    2,
		"__name__=retry_attempt_failures_total,error_type=timeout," + j + ",operation=vmware_vm_create,status=failed":             1,
		"__name__=retry_session_success_ratio," + j:                                                                               0.8,
		"__name__=retry_session_failure_ratio," + j:                                                                               0.2,
		"__name__=retry_session_retry_ratio," + j:                                                                                 0.4,
		"__name__=retry_session_average_retries," + j:                                                                             0.8,
		"__name__=retry_session_execution_seconds," + j:                                                                           330,
		"__name__=retry_session_operations_per_second," + j:                                                                       0.91 / 60,
		"__name__=retry_session_breached_thresholds," + j:                                                                         2,
		"__name__=retry_session_snapshot_timestamp_seconds," + j:                                                                  1701425130,
	}
}

func asMap(ds []decoded) map[string]float64 {
	m := map[string]float64{}
	for _, d := range ds {
		m[d.Labels] = d.Value
	}
	return m
}

func TestRemoteWrite10Encoding(t *testing.T) {
	t.Parallel()
	snap := testSnapshot()
	ss := remoteSeries(families(snap), "retry_manager", nil, snap.Time.UnixMilli())
	series, meta := decodeRW10(t, encodeRW10(ss))
	if diff := cmp.Diff(wantSeries("retry_manager"), asMap(series)); diff != "" {
		t.Errorf("series (-want +got):\n%s", diff)
	}
	for _, s := range series {
		if s.MS != 1701425130000 {
			t.Errorf("timestamp %d", s.MS)
		}
		if strings.Contains(s.Labels, ",session") || strings.Contains(s.Labels, snap.SessionID) {
			t.Errorf("session id in remote write labels: %s", s.Labels)
		}
	}
	wantMeta := map[string]int{MetricOperations: 1, MetricOperationSeconds: 5, MetricSuccessRatio: 2}
	for name, typ := range wantMeta {
		if meta[name] != typ {
			t.Errorf("metadata %s type %d, want %d", name, meta[name], typ)
		}
	}
}

func TestRemoteWrite20Encoding(t *testing.T) {
	t.Parallel()
	snap := testSnapshot()
	ss := remoteSeries(families(snap), "retry_manager", []label{{"env", "prod"}}, snap.Time.UnixMilli())
	got := decodeRW20(t, encodeRW20(ss))
	want := map[string]float64{}
	for k, v := range wantSeries("retry_manager") {
		// env sorts between error_type and job
		parts := strings.Split(k, ",")
		parts = append(parts, "env=prod")
		sort.Strings(parts)
		want[strings.Join(parts, ",")] = v
	}
	if diff := cmp.Diff(want, asMap(got)); diff != "" {
		t.Errorf("series (-want +got):\n%s", diff)
	}
	for _, d := range got {
		if d.Type == 0 || d.Help == "" {
			t.Errorf("%s: metadata type %d help %q", d.Labels, d.Type, d.Help)
		}
	}
}

// v2Store is a remote write 2.0 receiver's storage for client_golang's exp write handler.
type v2Store struct {
	mu     sync.Mutex
	series []decoded
	t      *testing.T
}

func (s *v2Store) Store(r *http.Request, msgType remote.WriteMessageType) (*remote.WriteResponse, error) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, err
	}
	resp := remote.NewWriteResponse()
	var got []decoded
	switch msgType {
	case remote.WriteV2MessageType:
		var req writev2.Request
		if err := req.UnmarshalVT(body); err != nil {
			resp.SetStatusCode(http.StatusBadRequest)
			return resp, err
		}
		got = fromV2(s.t, &req)
	default:
		got, _ = decodeRW10(s.t, body)
	}
	s.mu.Lock()
	s.series = append(s.series, got...)
	s.mu.Unlock()
	resp.Samples = len(got)
	return resp, nil
}

func TestRemoteWrite20AgainstClientGolangReceiver(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name     string
		accepts  remote.MessageTypes
		protocol string
		note     bool
	}{
		{"2.0 receiver", remote.MessageTypes{remote.WriteV2MessageType}, RemoteWrite20, false},
		{"1.0-only receiver answers 415", remote.MessageTypes{remote.WriteV1MessageType}, RemoteWrite10, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			store := &v2Store{t: t}
			srv := httptest.NewServer(remote.NewWriteHandler(store, tt.accepts))
			t.Cleanup(srv.Close)
			sys := mustSystems(t, map[string]any{"name": "prometheus", "url": srv.URL + "/api/v1/write", "remote_write_version": "2.0"})
			res := Deliver(context.Background(), sys, testSnapshot(), testOptions(newFakeClock(), false, false))[0]
			if !res.Sent || res.Attempts != 1 || res.Protocol != tt.protocol || (res.Note != "") != tt.note {
				t.Fatalf("result %+v", res)
			}
			if diff := cmp.Diff(wantSeries("retry_manager"), asMap(store.series)); diff != "" {
				t.Errorf("stored series (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRemoteWriteRequestHeaders(t *testing.T) {
	t.Parallel()
	rec := newRecorder(t, func(_ int, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	sys := mustSystems(t, map[string]any{"name": "prometheus", "url": rec.URL + "/api/v1/write?tenant=a",
		"auth_header": "Bearer tok-123", "headers": map[string]any{"X-Scope-OrgID": "team-a"}, "labels": map[string]any{"env": "prod"}})
	res := Deliver(context.Background(), sys, testSnapshot(), testOptions(newFakeClock(), false, false))[0]
	if !res.Sent || res.StatusCode != 204 || res.Series != 27 || res.Protocol != "1.0" {
		t.Fatalf("result %+v", res)
	}
	r := rec.requests()[0]
	for name, want := range map[string]string{
		"Content-Encoding": "snappy", "Content-Type": "application/x-protobuf", "X-Prometheus-Remote-Write-Version": "0.1.0",
		"Authorization": "Bearer tok-123", "X-Scope-Orgid": "team-a",
	} {
		if got := r.Header.Get(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if r.Method != "POST" || r.Path != "/api/v1/write" || r.Query != "tenant=a" {
		t.Errorf("%s %s?%s", r.Method, r.Path, r.Query)
	}
	raw, err := snappy.Decode(nil, r.Body)
	if err != nil {
		t.Fatal(err)
	}
	series, _ := decodeRW10(t, raw)
	if len(series) != 27 || !strings.Contains(series[0].Labels, "env=prod") {
		t.Errorf("%d series, first %s", len(series), series[0].Labels)
	}
}

func TestRemoteWrite20UnconfirmedFailsClearly(t *testing.T) {
	t.Parallel()
	// A 1.0-only receiver that ignores the content type answers 204 without the 2.0 headers.
	rec := newRecorder(t, func(_ int, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	sys := mustSystems(t, map[string]any{"name": "prometheus", "url": rec.URL + "/api/v1/write", "remote_write_version": 2})
	res := Deliver(context.Background(), sys, testSnapshot(), testOptions(newFakeClock(), false, false))[0]
	if res.Sent || res.Attempts != 1 || res.ErrorType != "configuration_error" || !strings.Contains(res.Error, `set remote_write_version: "1.0"`) {
		t.Errorf("result %+v", res)
	}
	if got := rec.requests()[0].Header.Get("Content-Type"); got != contentTypeRW20 {
		t.Errorf("content type %q", got)
	}
}

func BenchmarkEncodeRemoteWrite10(b *testing.B) {
	snap := testSnapshot()
	for i := range 50 {
		snap.Operations = append(snap.Operations, OperationStats{Operation: fmt.Sprintf("op_%d", i), Status: "completed", Operations: 1, Attempts: 2})
	}
	fs := families(snap)
	b.ReportAllocs()
	for b.Loop() {
		ss := remoteSeries(fs, "retry_manager", nil, 1)
		_ = snappy.Encode(nil, encodeRW10(ss))
	}
}
