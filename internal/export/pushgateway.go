package export

import (
	"context"
	"encoding/base64"
	"regexp"
	"slices"
	"strings"

	"resilience.ops/internal/clock"
	"resilience.ops/internal/retry"
)

// TypePushgateway is the Prometheus Pushgateway.
const TypePushgateway Type = "pushgateway"

func init() {
	// PUT replaces the whole group (push.Push), POST only the metrics of the same names (push.Add).
	register(kind{Type: TypePushgateway, Order: 2, Events: metricsOnly, DefaultEvents: metricsOnly, Methods: []string{"PUT", "POST"},
		Keys: keys(httpKeys, []string{"job", "labels", "grouping"}, tlsKeys),
		// "pushgateway" in the name or the host, or port 9091.
		InferRank: 3, Infer: func(h inferHint) bool {
			return strings.Contains(h.name, "pushgateway") || strings.Contains(h.host, "pushgateway") || h.port == "9091"
		},
		parse: func(p *parser, m map[string]any, s *System) {
			s.Job, s.Labels, s.Grouping = p.job(m), p.labels(m), p.grouping(m)
			if s.url != nil && strings.Contains(s.url.Path, "/metrics/job") {
				p.fail("url", "must be the Pushgateway's base URL (as http://pushgateway:9091): the job and grouping are added from job and grouping")
			}
		},
		plan: func(sys System, snap Snapshot, _ Event, _ clock.Clock, h *httpSender) *plan {
			return pushgatewayPlan(sys, snap, h)
		},
	})
}

func (p *parser) grouping(m map[string]any) []string {
	if v, ok := m["grouping"]; !ok || v == nil {
		return []string{GroupingOperation, GroupingSession}
	}
	list, ok := p.stringList(m, "grouping")
	if !ok {
		return nil
	}
	out := []string{}
	for _, g := range list {
		if g != GroupingOperation && g != GroupingSession {
			p.fail("grouping", "must list only %s and %s (job is always part of the group), got %q", GroupingOperation, GroupingSession, g)
			continue
		}
		if !slices.Contains(out, g) {
			out = append(out, g)
		}
	}
	slices.SortFunc(out, func(a, b string) int { // operation before session, as in the URL
		return strings.Compare(a, b)
	})
	return out
}

// pushGroup is one Pushgateway group: its grouping labels (job first) and its metrics.
type pushGroup struct {
	labels []label
	fams   []family
}

// pushGroups splits the metrics of snap into the groups of sys: one per operation when grouping
// has operation (the session's statistics then go to a group without operation), else one group.
// Grouping labels are left out of the metrics, as the Pushgateway requires.
func pushGroups(sys System, snap Snapshot) []pushGroup {
	fs := families(snap)
	consts := constLabels(sys.Labels)
	key := func(op string) []label {
		ls := []label{{"job", sys.Job}}
		if op != "" {
			ls = append(ls, label{GroupingOperation, op})
		}
		if slices.Contains(sys.Grouping, GroupingSession) {
			ls = append(ls, label{GroupingSession, snap.SessionID})
		}
		return ls
	}
	if !slices.Contains(sys.Grouping, GroupingOperation) {
		return []pushGroup{{labels: key(""), fams: withLabels(fs, consts)}}
	}
	var out []pushGroup
	for _, op := range operationNames(snap) {
		out = append(out, pushGroup{labels: key(op), fams: withLabels(operationFamilies(fs, op), consts)})
	}
	return append(out, pushGroup{labels: key(""), fams: withLabels(sessionFamilies(fs), consts)})
}

// plainSegment matches grouping values that go into the URL as they are; others are base64url
// encoded with the @base64 suffix (Pushgateway 0.10 and later), as client_golang's push does for
// values with a slash, and for every other special character too, so that no escaping rule of
// the Pushgateway's router matters.
var plainSegment = regexp.MustCompile(`^[A-Za-z0-9_.:-]+$`)

// groupPath returns the path segments of a group: metrics/job/<job>/<name>/<value>...
func groupPath(ls []label) []string {
	segs := []string{"metrics"}
	for _, l := range ls {
		switch {
		case l.value == "":
			segs = append(segs, l.name+"@base64", "=")
		case plainSegment.MatchString(l.value):
			segs = append(segs, l.name, l.value)
		default:
			segs = append(segs, l.name+"@base64", base64.RawURLEncoding.EncodeToString([]byte(l.value)))
		}
	}
	return segs
}

// groupName is a group as previews show it: job="x",operation="y".
func groupName(ls []label) string {
	parts := make([]string, len(ls))
	for i, l := range ls {
		parts[i] = l.name + `="` + escapeLabelValue(l.value) + `"`
	}
	return strings.Join(parts, ",")
}

// pushgatewayPlan prepares the pushes of snap to sys: one request per group, all in each attempt
// (PUT replaces a group, so repeating a push is harmless).
func pushgatewayPlan(sys System, snap Snapshot, h *httpSender) *plan {
	groups := pushGroups(sys, snap)
	p := &plan{}
	p.preview = Preview{Method: sys.Method, Host: sys.Host(), ContentType: textContentType, Headers: sys.headerNames()}
	type prepared struct {
		target string
		body   []byte
	}
	var reqs []prepared
	for _, g := range groups {
		p.preview.Groups = append(p.preview.Groups, groupName(g.labels))
		for _, f := range g.fams {
			for _, s := range f.samples {
				ls := append(slices.Clone(s.labels), g.labels...)
				sortLabels(ls)
				p.preview.Series = append(p.preview.Series, sampleLine(f.name, sample{suffix: s.suffix, labels: ls, value: s.value}))
				p.series++
			}
		}
		reqs = append(reqs, prepared{target: sys.url.JoinPath(groupPath(g.labels)...).String(), body: writeText(g.fams)})
	}
	p.attempt = func(ctx context.Context) retry.Result {
		for _, r := range reqs {
			resp, res := h.send(ctx, sys.Method, r.target, textContentType, nil, r.body)
			p.status = resp.status
			if res.Failure != nil {
				return res
			}
		}
		return retry.Result{}
	}
	return p
}
