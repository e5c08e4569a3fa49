package release

import (
	"strings"
	"testing"
	"time"

	"resilience.ops/internal/clock"
	"resilience.ops/internal/etcdstore"
	"resilience.ops/internal/etcdtest"
	"resilience.ops/internal/guard"
	"resilience.ops/internal/modtest"
)

// The release works on a guard kept in etcd, and an unreachable etcd never releases anything.
func TestModuleOnEtcd(t *testing.T) {
	t.Parallel()
	cluster := etcdtest.Start(t, 3)
	b := newBackend(t)
	const prefix, path = "/release-test/", "/fleet/qos.guard"
	st, err := etcdstore.New(etcdstore.Config{Endpoints: cluster.Endpoints(), Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	g := &guard.Guard{Path: path, Store: st, Clock: clock.Func(func() time.Time { return t0.Add(-time.Hour) })}
	locked, err := g.Lock(guard.LockRequest{Minutes: 120, Owner: "ci@runner", Reason: "rollback 42"}, false)
	if err != nil {
		t.Fatal(err)
	}
	onEtcd := with(baseArgs(b, path, "threader"), "store", "etcd", "etcd_endpoints", cluster.Endpoints(), "etcd_prefix", prefix)

	t.Run("stable: released in etcd", func(t *testing.T) {
		code, res, text := runModule(t, onEtcd)
		if code != 0 || res["status"] != string(StatusStable) || res["unlocked"] != true {
			t.Fatalf("exit %d: %s", code, text)
		}
		g.Clock = clock.Func(func() time.Time { return t0 })
		st, err := g.Status(true)
		if err != nil || st.After.Locked {
			t.Fatalf("the guard in etcd after the release: %+v, %v", st.After, err)
		}
		evs, err := g.ReadAudit()
		if err != nil || len(evs) != 2 || evs[1].Event != ReleaseEvent || evs[1].LockID != locked.After.LockID || evs[1].Evaluation == nil {
			t.Fatalf("audit trail in etcd: %+v, %v", evs, err)
		}
	})

	t.Run("etcd unreachable: nothing released, fails closed", func(t *testing.T) {
		dead := etcdtest.Unreachable(t)
		args := with(onEtcd, "etcd_endpoints", []any{dead}, "etcd_timeout", "500ms", "etcd_username", "deployer",
			"etcd_password", "hunter2-etcd-secret")
		var code int
		var res map[string]any
		var text string
		modtest.Finishes(t, func() { code, res, text = runModule(t, args) }) // a hang, not a measurement
		gst, _ := res["guard"].(map[string]any)
		if code != 1 || res["status"] != string(StatusGuardError) || res["unlocked"] != false ||
			gst["locked"] != true || gst["unknown"] != true {
			t.Fatalf("exit %d: %s", code, text)
		}
		if !strings.Contains(text, "state store unavailable") || strings.Contains(text, "hunter2-etcd-secret") {
			t.Errorf("message or secret: %s", text)
		}
	})
}
