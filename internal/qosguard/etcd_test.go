package qosguard

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"resilience.ops/internal/etcdtest"
	"resilience.ops/internal/modtest"
	"resilience.ops/internal/module"
)

// runModule runs the module on an argument file, as ansible-core does, and decodes its result.
func runModule(t *testing.T, args map[string]any) (int, map[string]any, string) {
	t.Helper()
	b, err := json.Marshal(args)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "args")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	code := module.Run(path, &out, Spec, Handle)
	var res map[string]any
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("not one JSON object: %v: %s", err, out.String())
	}
	return code, res, out.String()
}

func with(m map[string]any, kv ...any) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		out[kv[i].(string)] = kv[i+1]
	}
	return out
}

// Two hosts (two module runs, and the command line) share one guard kept in etcd.
func TestModuleOnEtcd(t *testing.T) {
	t.Parallel()
	cluster := etcdtest.Start(t, 3)
	eps := make([]any, 0, 3)
	for _, e := range cluster.Endpoints() {
		eps = append(eps, e)
	}
	onEtcd := map[string]any{"store": "etcd", "etcd_endpoints": eps, "etcd_prefix": "/module-test", "path": "/fleet/qos.guard"}

	code, res, text := runModule(t, with(onEtcd, "state", "locked", "minutes", 10, "reason", "rollback 42"))
	if code != 0 || res["changed"] != true || res["locked"] != true {
		t.Fatalf("lock: exit %d: %s", code, text)
	}
	id := res["lock_id"].(string)
	code, res, text = runModule(t, with(onEtcd, "state", "locked", "minutes", 10)) // another host
	if code != 0 || res["changed"] != false || res["lock_id"] != id {
		t.Fatalf("second lock: exit %d: %s", code, text)
	}
	code, res, text = runModule(t, with(onEtcd, "fail_if_locked", true))
	if code != 1 || !strings.Contains(res["msg"].(string), "deployment refused") || res["lock_id"] != id {
		t.Fatalf("fail_if_locked: exit %d: %s", code, text)
	}
	// The command line sees the same guard.
	env := map[string]string{"QOS_GUARD_STORE": "etcd", "QOS_GUARD_ETCD_ENDPOINTS": strings.Join(cluster.Endpoints(), ","),
		"QOS_GUARD_ETCD_PREFIX": "/module-test/", "QOS_GUARD_FILE": "/fleet/qos.guard"}
	if r := runCLI(t, env, "status"); r.code != 1 || !strings.Contains(r.stdout, id) {
		t.Fatalf("cli status: %+v", r)
	}
	if r := runCLI(t, env, "unlock", "--id", id, "--reason", "stable"); r.code != 0 {
		t.Fatalf("cli unlock: %+v", r)
	}
	code, res, text = runModule(t, with(onEtcd, "fail_if_locked", true))
	if code != 0 || res["locked"] != false {
		t.Fatalf("after unlock: exit %d: %s", code, text)
	}
	// A file guard at the same path is another guard.
	if _, err := os.Stat("/fleet/qos.guard"); err == nil {
		t.Error("the etcd store wrote a local file")
	}
}

// An unreachable etcd fails closed within etcd_timeout: the guard counts as locked, its state
// unknown, nothing is locked or unlocked, and the password shows nowhere.
func TestModuleEtcdUnreachable(t *testing.T) {
	t.Parallel()
	dead := etcdtest.Unreachable(t)
	const secret = "hunter2-etcd-secret"
	args := map[string]any{"store": "etcd", "etcd_endpoints": []any{dead}, "etcd_timeout": "500ms",
		"etcd_username": "deployer", "etcd_password": secret, "path": "/fleet/qos.guard"}
	for _, extra := range [][]any{
		{"state", "status"},
		{"state", "status", "fail_if_locked", true},
		{"state", "locked", "minutes", 5},
		{"state", "unlocked", "force", true},
	} {
		var code int
		var res map[string]any
		var text string
		modtest.Finishes(t, func() { code, res, text = runModule(t, with(args, extra...)) }) // a hang, not a measurement
		if code != 1 || res["failed"] != true || res["locked"] != true || res["unknown"] != true || res["changed"] != false {
			t.Errorf("%v: exit %d: %s", extra, code, text)
		}
		if !strings.Contains(res["msg"].(string), "state store unavailable") || !strings.Contains(res["msg"].(string), "counts as locked") {
			t.Errorf("%v: msg = %s", extra, res["msg"])
		}
		if strings.Contains(text, secret) {
			t.Errorf("%v: the password shows: %s", extra, text)
		}
	}
	env := map[string]string{"QOS_GUARD_STORE": "etcd", "QOS_GUARD_ETCD_ENDPOINTS": dead, "QOS_GUARD_ETCD_TIMEOUT": "0.5"}
	if r := runCLI(t, env, "status"); r.code != 1 || !strings.Contains(r.stderr, "counts as locked") {
		t.Errorf("cli status on an unreachable etcd: %+v", r)
	}
}

func TestStoreParameterErrors(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		args map[string]any
		want string
	}{
		{map[string]any{"etcd_endpoints": []any{"http://127.0.0.1:2379"}}, "parameter etcd_endpoints: is given but store is file"},
		{map[string]any{"store": "etcd"}, "parameter etcd_endpoints: is required with store etcd"},
		{map[string]any{"store": "etcd", "etcd_endpoints": "127.0.0.1:2379", "etcd_timeout": "soon"}, "parameter etcd_timeout"},
		{map[string]any{"store": "etcd", "etcd_endpoints": "http://u:pw@127.0.0.1:2379"}, "holds credentials"},
		{map[string]any{"store": "etcd", "etcd_endpoints": "127.0.0.1:2379", "etcd_cert_file": "/c.pem"}, "parameter etcd_cert_file"},
	} {
		code, res, text := runModule(t, tt.args)
		if code != 1 || !strings.Contains(res["msg"].(string), tt.want) || res["locked"] != true {
			t.Errorf("%v: exit %d: %s; want %q", tt.args, code, text, tt.want)
		}
	}
	if r := runCLI(t, map[string]string{"QOS_GUARD_STORE": "etcd"}, "status"); r.code != 2 || !strings.Contains(r.stderr, "etcd_endpoints: is required") {
		t.Errorf("cli without endpoints: %+v", r)
	}
	if r := runCLI(t, nil, "--store", "etcd", "--etcd-endpoints", "127.0.0.1:1", "--etcd-timeout", "x", "status"); r.code != 2 || !strings.Contains(r.stderr, "--etcd-timeout") {
		t.Errorf("cli bad timeout: %+v", r)
	}
}
