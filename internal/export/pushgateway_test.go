package export

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"resilience.ops/internal/modtest"
)

// This file pushes to a real Pushgateway (Debian's prometheus-pushgateway 1.5) started on
// loopback, then reads /metrics back with expfmt.

func startPushgateway(t *testing.T) string {
	t.Helper()
	bin := modtest.DebianBinary(t, "prometheus-pushgateway", "prometheus-pushgateway")
	addr := modtest.FreeAddr(t)
	// Debian defaults --persistence.file to /var/lib/prometheus/pushgateway.data: keep tests in memory.
	modtest.StartServer(t, bin, []string{"--web.listen-address=" + addr, "--persistence.file="}, "http://"+addr+"/-/ready")
	return "http://" + addr
}

// scrape parses a text exposition at u.
func scrape(t *testing.T, u string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("not the text format: %v", err)
	}
	return fams
}

// find returns the value of the metric of fam whose non-empty labels are exactly want, and
// whether one is.
func find(fam *dto.MetricFamily, want map[string]string) (float64, bool) {
	for _, m := range fam.GetMetric() {
		got := map[string]string{}
		for _, l := range m.GetLabel() {
			if l.GetValue() != "" { // the Pushgateway adds instance="", which Prometheus reads as no label
				got[l.GetName()] = l.GetValue()
			}
		}
		if !cmp.Equal(got, want) {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue(), true
		case m.Gauge != nil:
			return m.GetGauge().GetValue(), true
		case m.Summary != nil:
			return m.GetSummary().GetSampleSum(), true
		}
		return m.GetUntyped().GetValue(), true
	}
	return 0, false
}

func TestPushgateway(t *testing.T) {
	base := startPushgateway(t)
	snap := liveSnapshot()
	sys := mustSystems(t,
		map[string]any{"name": "pushgateway", "url": base, "labels": map[string]any{"env": "test"}, "retry_count": 0},
		map[string]any{"name": "pushgateway_latest", "url": base + "/", "job": "retry_latest", "grouping": []any{"operation"}, "method": "POST"},
	)
	results := Deliver(context.Background(), sys, snap, testOptions(newFakeClock(), false, false))
	for _, r := range results {
		if !r.Sent || r.Attempts != 1 {
			t.Fatalf("result %+v", r)
		}
	}
	fams := scrape(t, base+"/metrics")
	sid := snap.SessionID
	checks := []struct {
		fam    string
		labels map[string]string
		want   float64
	}{
		{MetricOperations, map[string]string{"job": "retry_manager", "operation": "vmware_vm_create", "session": sid, "status": "completed", "env": "test"}, 3},
		{MetricAttemptFailures, map[string]string{"job": "retry_manager", "operation": "vmware_vm_create", "session": sid, "status": "failed", "error_type": "connection_error", "env": "test"}, 2},
		{MetricOperationSeconds, map[string]string{"job": "retry_manager", "operation": "vmware_vm_create", "session": sid, "status": "failed", "env": "test"}, 100},
		{MetricAttempts, map[string]string{"job": "retry_manager", "operation": oddOperation, "session": sid, "status": "failed", "env": "test"}, 6},
		{MetricSuccessRatio, map[string]string{"job": "retry_manager", "session": sid, "env": "test"}, 0.8},
		{MetricOperations, map[string]string{"job": "retry_latest", "operation": "network_configuration", "status": "completed"}, 1},
		{MetricSuccessRatio, map[string]string{"job": "retry_latest"}, 0.8},
	}
	for _, c := range checks {
		fam := fams[c.fam]
		if fam == nil {
			t.Fatalf("no %s in /metrics", c.fam)
		}
		if got, ok := find(fam, c.labels); !ok || got != c.want {
			t.Errorf("%s%v = %v (found %v), want %v", c.fam, c.labels, got, ok, c.want)
		}
	}
	// One group per operation and one for the session, each with its push time.
	groups := 0
	for _, m := range fams["push_time_seconds"].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "job" && l.GetValue() == "retry_manager" {
				groups++
			}
		}
	}
	if groups != 4 {
		t.Errorf("%d retry_manager groups, want 3 operations + 1 session", groups)
	}
	if fam := fams[MetricOperationSeconds]; fam.GetType() != dto.MetricType_SUMMARY || !strings.Contains(fam.GetHelp(), "seconds") {
		t.Errorf("summary family: %v %q", fam.GetType(), fam.GetHelp())
	}

	t.Run("a later session replaces the groups without session", func(t *testing.T) {
		next := liveSnapshot()
		next.SessionID = "retry_1640999999_000001"
		next.Operations[0].Operations = 7
		res := Deliver(context.Background(), sys[1:], next, testOptions(newFakeClock(), false, false))[0]
		if !res.Sent {
			t.Fatalf("%+v", res)
		}
		fams := scrape(t, base+"/metrics")
		if got, _ := find(fams[MetricOperations], map[string]string{"job": "retry_latest", "operation": "vmware_vm_create", "status": "completed"}); got != 7 {
			t.Errorf("latest = %v, want 7", got)
		}
	})
}

func TestPushgatewayGroupPath(t *testing.T) {
	t.Parallel()
	got := groupPath([]label{{"job", "retry_manager"}, {"operation", "a/b c"}, {"session", ""}, {"x", "v1.2:3-4_5"}})
	want := []string{"metrics", "job", "retry_manager", "operation@base64", "YS9iIGM", "session@base64", "=", "x", "v1.2:3-4_5"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
