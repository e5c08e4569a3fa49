package export

import (
	"context"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/klauspost/compress/snappy"
	"google.golang.org/protobuf/encoding/protowire"

	"resilience.ops/internal/clock"
	"resilience.ops/internal/retry"
)

// TypeRemoteWrite is Prometheus remote write, 1.0 or 2.0 (remote_write_version).
const TypeRemoteWrite Type = "prometheus_remote_write"

func init() {
	register(kind{Type: TypeRemoteWrite, Order: 1, Events: metricsOnly, DefaultEvents: metricsOnly, Methods: []string{"POST"},
		Keys: keys(httpKeys, []string{"job", "labels", "remote_write_version"}, tlsKeys),
		// A URL path ending in /api/v1/write, or "prometheus" in the name.
		InferRank: 5, Infer: func(h inferHint) bool {
			return h.hasURL && (strings.HasSuffix(h.path, "/api/v1/write") || strings.Contains(h.name, "prometheus"))
		},
		parse: func(p *parser, m map[string]any, s *System) {
			s.Job, s.Labels, s.RemoteWriteVersion = p.job(m), p.labels(m), p.remoteWriteVersion(m)
		},
		plan: func(sys System, snap Snapshot, _ Event, _ clock.Clock, h *httpSender) *plan {
			return remoteWritePlan(sys, snap, h)
		},
	})
}

func (p *parser) remoteWriteVersion(m map[string]any) string {
	v, ok := m["remote_write_version"]
	if !ok || v == nil {
		return DefaultRemoteWriteVersion
	}
	switch strings.TrimSpace(p.str(m, "remote_write_version")) {
	case "1", "1.0", "0.1.0":
		return RemoteWrite10
	case "2", "2.0", "2.0.0":
		return RemoteWrite20
	}
	p.fail("remote_write_version", "must be one of %s, %s, got %s", RemoteWrite10, RemoteWrite20, describe("remote_write_version", v))
	return DefaultRemoteWriteVersion
}

// Remote write headers and content types (remote write specs 1.0 and 2.0).
const (
	remoteWriteVersionHeader = "X-Prometheus-Remote-Write-Version"
	remoteWriteVersion10     = "0.1.0"
	remoteWriteVersion20     = "2.0.0"
	contentTypeRW10          = "application/x-protobuf"
	contentTypeRW20          = "application/x-protobuf;proto=io.prometheus.write.v2.Request"
	// samplesWrittenHeader is how a 2.0 receiver confirms what it stored.
	samplesWrittenHeader = "X-Prometheus-Remote-Write-Samples-Written"
)

// series is one remote write time series: sorted labels (with __name__) and one sample.
type series struct {
	labels []label
	value  float64
	ms     int64 // timestamp in milliseconds
	fam    *family
}

// remoteSeries flattens fs into series with __name__, job and the constant labels; session ids
// are never labels here.
func remoteSeries(fs []family, job string, consts []label, ms int64) []series {
	var out []series
	for i := range fs {
		f := &fs[i]
		for _, s := range f.samples {
			ls := make([]label, 0, len(s.labels)+len(consts)+2)
			ls = append(ls, label{"__name__", f.name + s.suffix}, label{"job", job})
			ls = append(ls, consts...)
			ls = append(ls, s.labels...)
			sortLabels(ls)
			out = append(out, series{labels: ls, value: s.value, ms: ms, fam: f})
		}
	}
	return out
}

// encodeRW10 encodes a prometheus.WriteRequest (remote write 1.0):
//
//	message WriteRequest { repeated TimeSeries timeseries = 1; reserved 2; repeated MetricMetadata metadata = 3; }
//	message TimeSeries   { repeated Label labels = 1; repeated Sample samples = 2; }
//	message Label        { string name = 1; string value = 2; }
//	message Sample       { double value = 1; int64 timestamp = 2; }
//	message MetricMetadata { MetricType type = 1; string metric_family_name = 2; string help = 4; string unit = 5; }
func encodeRW10(ss []series) []byte {
	var b []byte
	for _, s := range ss {
		var ts []byte
		for _, l := range s.labels {
			var lb []byte
			lb = protowire.AppendTag(lb, 1, protowire.BytesType)
			lb = protowire.AppendString(lb, l.name)
			lb = protowire.AppendTag(lb, 2, protowire.BytesType)
			lb = protowire.AppendString(lb, l.value)
			ts = protowire.AppendTag(ts, 1, protowire.BytesType)
			ts = protowire.AppendBytes(ts, lb)
		}
		ts = protowire.AppendTag(ts, 2, protowire.BytesType)
		ts = protowire.AppendBytes(ts, encodeSample(s.value, s.ms))
		b = protowire.AppendTag(b, 1, protowire.BytesType)
		b = protowire.AppendBytes(b, ts)
	}
	var seen []*family
	for _, s := range ss {
		if slices.Contains(seen, s.fam) {
			continue
		}
		seen = append(seen, s.fam)
		var md []byte
		md = protowire.AppendTag(md, 1, protowire.VarintType)
		md = protowire.AppendVarint(md, uint64(s.fam.typ))
		md = protowire.AppendTag(md, 2, protowire.BytesType)
		md = protowire.AppendString(md, s.fam.name)
		md = protowire.AppendTag(md, 4, protowire.BytesType)
		md = protowire.AppendString(md, s.fam.help)
		if s.fam.unit != "" {
			md = protowire.AppendTag(md, 5, protowire.BytesType)
			md = protowire.AppendString(md, s.fam.unit)
		}
		b = protowire.AppendTag(b, 3, protowire.BytesType)
		b = protowire.AppendBytes(b, md)
	}
	return b
}

// encodeSample encodes Sample{value = 1; timestamp = 2}, the same in 1.0 and 2.0.
func encodeSample(v float64, ms int64) []byte {
	var b []byte
	b = protowire.AppendTag(b, 1, protowire.Fixed64Type)
	b = protowire.AppendFixed64(b, math.Float64bits(v))
	b = protowire.AppendTag(b, 2, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(ms))
	return b
}

// encodeRW20 encodes an io.prometheus.write.v2.Request (remote write 2.0):
//
//	message Request    { repeated string symbols = 4; repeated TimeSeries timeseries = 5; }
//	message TimeSeries { repeated uint32 labels_refs = 1 [packed]; repeated Sample samples = 2; Metadata metadata = 5; }
//	message Metadata   { MetricType type = 1; uint32 help_ref = 3; uint32 unit_ref = 4; }
//
// Symbols start with "" as the spec requires; labels_refs are name, value pairs.
func encodeRW20(ss []series) []byte {
	symbols := []string{""}
	refs := map[string]uint32{"": 0}
	sym := func(s string) uint32 {
		if r, ok := refs[s]; ok {
			return r
		}
		r := uint32(len(symbols))
		symbols = append(symbols, s)
		refs[s] = r
		return r
	}
	var tss [][]byte
	for _, s := range ss {
		var packed []byte
		for _, l := range s.labels {
			packed = protowire.AppendVarint(packed, uint64(sym(l.name)))
			packed = protowire.AppendVarint(packed, uint64(sym(l.value)))
		}
		var md []byte
		md = protowire.AppendTag(md, 1, protowire.VarintType)
		md = protowire.AppendVarint(md, uint64(s.fam.typ))
		if h := sym(s.fam.help); h != 0 {
			md = protowire.AppendTag(md, 3, protowire.VarintType)
			md = protowire.AppendVarint(md, uint64(h))
		}
		if u := sym(s.fam.unit); u != 0 {
			md = protowire.AppendTag(md, 4, protowire.VarintType)
			md = protowire.AppendVarint(md, uint64(u))
		}
		var ts []byte
		ts = protowire.AppendTag(ts, 1, protowire.BytesType)
		ts = protowire.AppendBytes(ts, packed)
		ts = protowire.AppendTag(ts, 2, protowire.BytesType)
		ts = protowire.AppendBytes(ts, encodeSample(s.value, s.ms))
		ts = protowire.AppendTag(ts, 5, protowire.BytesType)
		ts = protowire.AppendBytes(ts, md)
		tss = append(tss, ts)
	}
	var b []byte
	for _, s := range symbols {
		b = protowire.AppendTag(b, 4, protowire.BytesType)
		b = protowire.AppendString(b, s)
	}
	for _, ts := range tss {
		b = protowire.AppendTag(b, 5, protowire.BytesType)
		b = protowire.AppendBytes(b, ts)
	}
	return b
}

// remoteWritePlan prepares a remote write of snap to sys.
func remoteWritePlan(sys System, snap Snapshot, h *httpSender) *plan {
	fs := families(snap)
	ss := remoteSeries(fs, sys.Job, constLabels(sys.Labels), snap.Time.UnixMilli())
	body10 := snappy.Encode(nil, encodeRW10(ss))
	var body20 []byte
	if sys.RemoteWriteVersion == RemoteWrite20 {
		body20 = snappy.Encode(nil, encodeRW20(ss))
	}
	p := &plan{series: len(ss)}
	p.preview = Preview{
		Method: sys.Method, Host: sys.Host(), Protocol: "remote_write " + sys.RemoteWriteVersion,
		ContentType: contentTypeRW10, Headers: sys.headerNames(), Series: seriesLines(ss),
	}
	if sys.RemoteWriteVersion == RemoteWrite20 {
		p.preview.ContentType = contentTypeRW20
	}
	p.protocol = sys.RemoteWriteVersion
	version := sys.RemoteWriteVersion // the fallback to 1.0 lasts for the remaining attempts
	p.attempt = func(ctx context.Context) retry.Result {
		if version == RemoteWrite20 {
			resp, res := h.send(ctx, sys.Method, sys.url.String(), contentTypeRW20,
				http.Header{"Content-Encoding": {"snappy"}, remoteWriteVersionHeader: {remoteWriteVersion20}}, body20)
			p.status = resp.status
			if resp.status == http.StatusUnsupportedMediaType {
				// The 2.0 spec: a receiver that does not take the message answers 415, and the
				// sender may fall back to 1.0.
				version, p.protocol = RemoteWrite10, RemoteWrite10
				p.note = "the receiver answered 415 to remote write 2.0: sent remote write 1.0 instead"
			} else {
				if res.Failure == nil && resp.header.Get(samplesWrittenHeader) == "" {
					return permanent("the receiver answered HTTP " + strconv.Itoa(resp.status) +
						" but did not confirm the samples as remote write 2.0 requires: it probably accepts only remote write 1.0 (set remote_write_version: \"1.0\")")
				}
				return res
			}
		}
		resp, res := h.send(ctx, sys.Method, sys.url.String(), contentTypeRW10,
			http.Header{"Content-Encoding": {"snappy"}, remoteWriteVersionHeader: {remoteWriteVersion10}}, body10)
		p.status = resp.status
		return res
	}
	return p
}

// seriesLines renders series as text-format lines for previews.
func seriesLines(ss []series) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		name := labelValue(s.labels, "__name__")
		out[i] = sampleLine(name, sample{labels: withoutLabel(s.labels, "__name__"), value: s.value})
	}
	return out
}
