package retrymod

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"resilience.ops/internal/etcdstore"
	"resilience.ops/internal/etcdtest"
	"resilience.ops/internal/manager"
	"resilience.ops/internal/modtest"
	"resilience.ops/internal/module"
	"resilience.ops/internal/resilience"
)

func TestMain(m *testing.M) {
	code := m.Run()
	etcdtest.StopShared()
	os.Exit(code)
}

// onEtcd returns the store parameters of a prefix of the test's own on the shared cluster, and
// a store client on the same prefix to look at what the module wrote.
func onEtcd(t *testing.T) (map[string]any, *etcdstore.Store) {
	t.Helper()
	cluster := etcdtest.Shared(t)
	var b [6]byte
	_, _ = rand.Read(b[:])
	prefix := "/retrymod/" + hex.EncodeToString(b[:]) + "/"
	st, err := etcdstore.New(etcdstore.Config{Endpoints: cluster.Endpoints(), Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	var eps []any
	for _, e := range cluster.Endpoints() {
		eps = append(eps, e)
	}
	return map[string]any{"store": "etcd", "etcd_endpoints": eps, "etcd_prefix": prefix}, st
}

// breakerOf decodes the breaker of the state document of key in st.
func breakerOf(t *testing.T, st *etcdstore.Store, key string) map[string]any {
	t.Helper()
	data, err := st.Load(manager.EtcdDir + "/" + resilience.FileName(key) + ".json")
	if err != nil {
		t.Fatal(err)
	}
	if len(data) == 0 {
		return nil
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatalf("the document in etcd is not JSON: %v: %s", err, data)
	}
	b, _ := doc["circuit_breaker"].(map[string]any)
	return b
}

// The circuit breaker of action run on etcd: hosts with different state_dirs share one breaker
// kept in etcd under the prefix, no local state file is written, and the file store beside it
// is another breaker.
func TestRunBreakerOnEtcd(t *testing.T) {
	t.Parallel()
	store, st := onEtcd(t)
	srv := newFlakyServer(t)
	clk := newFakeClock()
	d := deps{rnd: zero, clock: clk}
	host1, host2 := filepath.Join(t.TempDir(), "host1"), filepath.Join(t.TempDir(), "host2")
	args := with(store, map[string]any{"operation": "vm_create", "circuit_key": "vcenter01.example.com", "url": srv.URL,
		"state_dir": host1, "max_attempts": 2, "base_delay": 1, "jitter_enabled": false,
		"circuit_breaker": map[string]any{"enabled": true, "failure_threshold": 2, "open_duration": 60}})

	res, code := runWith(t, d, args)
	if code != 1 || res["error_type"] != "service_unavailable" || srv.requests.Load() != 2 {
		t.Fatalf("first run: exit %d, %v after %d requests: %v", code, res["error_type"], srv.requests.Load(), res["msg"])
	}
	if cb := sub(t, res, "circuit_breaker"); cb["state"] != "open" {
		t.Fatalf("circuit_breaker = %v", cb)
	}
	if b := breakerOf(t, st, "vcenter01.example.com"); b["state"] != "open" || b["opens"] != 1.0 {
		t.Fatalf("the breaker in etcd = %v", b)
	}

	// Another host, another state_dir: the same breaker, open; the service is not called.
	res, code = runWith(t, d, with(args, map[string]any{"state_dir": host2}))
	if code != 1 || res["error_type"] != "circuit_open" || res["attempt_count"] != 0.0 || srv.requests.Load() != 2 {
		t.Fatalf("second host: exit %d, %v, %v attempts, %d requests: %v", code, res["error_type"], res["attempt_count"], srv.requests.Load(), res["msg"])
	}
	for _, dir := range []string{host1, host2} {
		if _, err := os.Stat(filepath.Join(dir, resilience.Subdir)); !os.IsNotExist(err) {
			t.Errorf("store etcd wrote local state in %s: %v", dir, err)
		}
	}

	// The file store is another breaker: closed, the call is made.
	srv.healthy.Store(true)
	local := with(args, map[string]any{"store": "file", "etcd_endpoints": nil, "etcd_prefix": nil})
	res = mustRun(t, d, local)
	if res["status"] != "completed" || sub(t, res, "circuit_breaker")["state"] != "closed" || srv.requests.Load() != 3 {
		t.Fatalf("file store: %v, %v", res["status"], res["circuit_breaker"])
	}

	// After open_duration a trial call on etcd closes the fleet's breaker.
	clk.Advance(61 * time.Second)
	res = mustRun(t, d, with(args, map[string]any{"state_dir": host2}))
	if cb := sub(t, res, "circuit_breaker"); res["status"] != "completed" || cb["state"] != "closed" || cb["admitted_state"] != "half_open" {
		t.Fatalf("trial: %v, %v", res["status"], cb)
	}
	if b := breakerOf(t, st, "vcenter01.example.com"); b["state"] != "closed" {
		t.Fatalf("the breaker in etcd after the trial = %v", b)
	}
}

// A bulkhead on etcd bounds the fleet: a slot held by another process (through package
// resilience, as another host would) leaves none for the module; once it is released the module
// takes it, and check mode reads the free slots without taking one.
func TestRunBulkheadOnEtcd(t *testing.T) {
	t.Parallel()
	store, st := onEtcd(t)
	srv := newFlakyServer(t)
	srv.healthy.Store(true)
	s := resilience.DefaultSettings()
	s.Dir, s.Bulkhead.Enabled, s.Bulkhead.MaxConcurrent, s.Bulkhead.MaxWait = t.TempDir(), true, 1, 0
	other, err := resilience.New(s, resilience.WithStore(st), resilience.WithSlots(st), resilience.WithDir(manager.EtcdDir))
	if err != nil {
		t.Fatal(err)
	}
	held, err := other.Before(context.Background(), "vcenter01")
	if err != nil || !held.Admitted {
		t.Fatalf("hold the only slot: %v, %+v", err, held)
	}
	args := with(store, map[string]any{"operation": "vm_create", "url": srv.URL, "state_dir": t.TempDir(), "circuit_key": "vcenter01",
		"bulkhead": map[string]any{"enabled": true, "max_concurrent": 1, "max_wait": 0}})
	res, code := runWith(t, deps{rnd: zero}, args)
	if code != 1 || res["error_type"] != "bulkhead_full" || srv.requests.Load() != 0 {
		t.Fatalf("with the slot held elsewhere: exit %d, %v: %v", code, res["error_type"], res["msg"])
	}
	chk := mustRun(t, deps{rnd: zero}, with(args, map[string]any{"_ansible_check_mode": true}))
	if bh := sub(t, chk, "bulkhead"); bh["available"] != 0.0 {
		t.Errorf("check mode with the slot held: bulkhead = %v", bh)
	}
	held.Release()
	chk = mustRun(t, deps{rnd: zero}, with(args, map[string]any{"_ansible_check_mode": true}))
	if bh := sub(t, chk, "bulkhead"); bh["available"] != 1.0 || bh["acquired"] == true {
		t.Errorf("check mode with the slot free: bulkhead = %v", bh)
	}
	res = mustRun(t, deps{rnd: zero}, args)
	if bh := sub(t, res, "bulkhead"); bh["acquired"] != true || srv.requests.Load() != 1 {
		t.Fatalf("after the release: bulkhead = %v, %d requests", bh, srv.requests.Load())
	}
	// The module gave its slot back: the other process gets it at once.
	again := before(t, other, "vcenter01")
	if !again.Admitted {
		t.Fatalf("the module kept its slot: %+v", again)
	}
	again.Release()
}

func before(t *testing.T, g *resilience.Guardrails, key string) *resilience.Admission {
	t.Helper()
	adm, err := g.Before(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	return adm
}

// The role's way: the store is given in settings (the role's retry_manager dictionary) to the
// admit and record actions, the breaker opened by one host's records refuses another host's
// admission, and the password given in settings is masked in the invocation.
func TestAdmitAndRecordOnEtcd(t *testing.T) {
	t.Parallel()
	store, st := onEtcd(t)
	clk := newFakeClock()
	d := deps{rnd: zero, clock: clk}
	// The role's defaults leave the etcd options empty; the store's are given over them.
	settings := with(roleStoreDefaults(), store)
	settings = with(settings, map[string]any{"max_attempts": 3, "state_dir": t.TempDir(),
		"circuit_breaker": map[string]any{"enabled": true, "failure_threshold": 1, "open_duration": 60}})
	id := mustRun(t, d, map[string]any{"action": "start", "operation": "vm_create", "settings": settings})["session_id"].(string)
	common := map[string]any{"session_id": id, "operation": "vm_create", "host": "web01", "settings": settings}
	failed := map[string]any{"failed": true, "result": map[string]any{"msg": vcenter}}

	mustRun(t, d, with(common, map[string]any{"action": "admit", "attempt": 1}))
	r1 := mustRun(t, d, with(common, map[string]any{"action": "record", "attempt": 1, "outcome": failed}))
	if sub(t, r1, "circuit_breaker")["state"] != "open" {
		t.Fatalf("record = %v", r1)
	}
	if b := breakerOf(t, st, "vm_create"); b["state"] != "open" {
		t.Fatalf("the breaker in etcd = %v", b)
	}
	other := with(common, map[string]any{"host": "web02", "settings": with(settings, map[string]any{"state_dir": t.TempDir()})})
	a := mustRun(t, d, with(other, map[string]any{"action": "admit", "attempt": 1}))
	if a["admitted"] != false || a["error_type"] != "circuit_open" {
		t.Fatalf("admit on another host = %v", a)
	}

	// A password in settings is masked in the invocation and never shows.
	const secret = "hunter2-settings-etcd"
	res, _ := runWith(t, d, with(common, map[string]any{"action": "admit", "attempt": 1,
		"settings": with(settings, map[string]any{"etcd_username": "ops", "etcd_password": secret})}))
	out, _ := json.Marshal(res)
	if strings.Contains(string(out), secret) {
		t.Fatalf("the etcd password shows: %s", out)
	}
	inv := sub(t, sub(t, sub(t, res, "invocation"), "module_args"), "settings")
	if inv["etcd_password"] != module.Masked {
		t.Errorf("settings.etcd_password in invocation = %v", inv["etcd_password"])
	}
}

// roleStoreDefaults are the store keys of the role's retry_manager dictionary as the role's
// defaults give them.
func roleStoreDefaults() map[string]any {
	defaults := map[string]any{}
	for _, p := range storeSettings() {
		defaults[p.Name] = ""
		if p.Name == "etcd_endpoints" {
			defaults[p.Name] = []any{}
		}
	}
	return defaults
}

// With the role's defaults in settings, the store is the file store, and empty etcd options in
// settings never replace the task's.
func TestStoreSettingsLayering(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	res := mustRun(t, deps{rnd: zero}, map[string]any{"operation": "local", "argv": []any{"true"}, "state_dir": dir,
		"settings":        roleStoreDefaults(),
		"circuit_breaker": map[string]any{"enabled": true}})
	if res["status"] != "completed" {
		t.Fatalf("run with the role's store defaults: %v", res)
	}
	if _, err := os.Stat(filepath.Join(dir, resilience.Subdir, "local.json")); err != nil {
		t.Errorf("the file store kept no state: %v", err)
	}

	// module_defaults set the store on the task; the role's empty defaults leave it.
	raw := map[string]any{"store": "etcd", "etcd_endpoints": []any{"http://127.0.0.1:1"}, "etcd_prefix": "/team-a/", "etcd_timeout": "2s",
		"settings": roleStoreDefaults()}
	p, err := Spec.Decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	got, _, err := applySettings(p)
	if err != nil {
		t.Fatal(err)
	}
	if got.Str("store") != "etcd" || got.Str("etcd_prefix") != "/team-a/" || got.Str("etcd_timeout") != "2s" || len(got.Strings("etcd_endpoints")) != 1 {
		t.Errorf("the role's defaults replaced the task's store parameters: store %q, prefix %q, timeout %q, endpoints %v",
			got.Str("store"), got.Str("etcd_prefix"), got.Str("etcd_timeout"), got.Strings("etcd_endpoints"))
	}

	// The store given in settings, with the password on the task.
	raw = map[string]any{"etcd_password": "from-the-task", "etcd_username": "ops",
		"settings": with(roleStoreDefaults(), map[string]any{"store": "etcd", "etcd_endpoints": []any{"http://127.0.0.1:1"}})}
	if p, err = Spec.Decode(raw); err != nil {
		t.Fatal(err)
	}
	if got, _, err = applySettings(p); err != nil {
		t.Fatal(err)
	}
	if got.Str("store") != "etcd" || got.Str("etcd_password") != "from-the-task" || got.Str("etcd_username") != "ops" ||
		len(got.Strings("etcd_endpoints")) != 1 || got.Str("etcd_timeout") != "5s" {
		t.Errorf("layered store parameters: store %q, password %q, user %q, endpoints %v, timeout %q", got.Str("store"),
			got.Str("etcd_password"), got.Str("etcd_username"), got.Strings("etcd_endpoints"), got.Str("etcd_timeout"))
	}
}

// Bad store parameters fail the task with a message that names the parameter, before anything
// runs.
func TestStoreBadInput(t *testing.T) {
	t.Parallel()
	srv := newFlakyServer(t)
	base := map[string]any{"operation": "op", "url": srv.URL, "state_dir": t.TempDir(),
		"circuit_breaker": map[string]any{"enabled": true}}
	for _, c := range []struct {
		extra map[string]any
		want  string
	}{
		{map[string]any{"store": "etcd"}, "etcd_endpoints: is required with store etcd"},
		{map[string]any{"etcd_endpoints": []any{"http://127.0.0.1:2379"}}, "etcd_endpoints: is given but store is file"},
		{map[string]any{"store": "consul"}, "store"},
		{map[string]any{"store": "etcd", "etcd_endpoints": []any{"http://u:p@127.0.0.1:2379"}}, "etcd_endpoints"},
		{map[string]any{"store": "etcd", "etcd_endpoints": []any{"http://127.0.0.1:2379"}, "etcd_timeout": "soon"}, "etcd_timeout"},
		{map[string]any{"settings": map[string]any{"store": "etcd"}}, "etcd_endpoints: is required with store etcd"},
	} {
		res, code := runWith(t, deps{rnd: zero}, with(base, c.extra))
		msg, _ := res["msg"].(string)
		if code != 1 || res["failed"] != true || !strings.Contains(msg, c.want) {
			t.Errorf("%v: exit %d, msg %q, want it to name %q", c.extra, code, msg, c.want)
		}
		if strings.Contains(msg, "u:p@") {
			t.Errorf("%v: the credentials of the URL show: %s", c.extra, msg)
		}
	}
	if srv.requests.Load() != 0 {
		t.Errorf("a task with bad store parameters ran its operation (%d requests)", srv.requests.Load())
	}
}

// An etcd that cannot be reached: the guardrails say so in the warnings and let the operation
// through, bounded by etcd_timeout; the password never shows. The bulkhead's max_wait is a day:
// had the run waited for a slot instead of giving up with the store, it would hang (no clock is
// read).
func TestRunEtcdUnreachable(t *testing.T) {
	t.Parallel()
	dead := etcdtest.Unreachable(t)
	srv := newFlakyServer(t)
	srv.healthy.Store(true)
	const secret = "hunter2-etcd-unreachable"
	args := map[string]any{"operation": "op", "url": srv.URL, "state_dir": t.TempDir(),
		"store": "etcd", "etcd_endpoints": []any{dead}, "etcd_timeout": "300ms", "etcd_username": "ops", "etcd_password": secret,
		"circuit_breaker": map[string]any{"enabled": true}, "bulkhead": map[string]any{"enabled": true, "max_wait": 86400},
		"retry_budget": map[string]any{"enabled": true}}
	var res map[string]any
	var code int
	modtest.Finishes(t, func() { res, code = runWith(t, deps{rnd: zero}, args) })
	out, _ := json.Marshal(res)
	if code != 0 || res["status"] != "completed" || srv.requests.Load() != 1 {
		t.Fatalf("exit %d, status %v, %d requests: %s", code, res["status"], srv.requests.Load(), out)
	}
	warnings, _ := res["warnings"].([]any)
	var unavailable int
	for _, w := range warnings {
		if strings.Contains(w.(string), "state store unavailable") {
			unavailable++
		}
	}
	if unavailable == 0 {
		t.Errorf("no warning says the store is unavailable: %v", warnings)
	}
	if strings.Contains(string(out), secret) {
		t.Errorf("the password shows: %s", out)
	}
}
