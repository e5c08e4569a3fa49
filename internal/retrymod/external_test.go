package retrymod

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"resilience.ops/internal/record"
	"resilience.ops/internal/session"
)

// receiver is a local stand-in for an external system: it keeps every request and answers with
// status (200 when 0).
type receiver struct {
	*httptest.Server
	mu       sync.Mutex
	requests []received
	status   int
	echo     bool // echo the request's URL in the error body, as some services do
}

type received struct {
	method, path string
	body         []byte
}

func newReceiver(t *testing.T, status int) *receiver {
	t.Helper()
	r := &receiver{status: status}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.requests = append(r.requests, received{req.Method, req.URL.Path, b})
		st, echo := r.status, r.echo
		r.mu.Unlock()
		if st != 0 && st != http.StatusOK {
			msg := "invalid_token"
			if echo {
				msg += " for " + req.URL.String()
			}
			http.Error(w, msg, st)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) got() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.requests...)
}

// slackPath is the secret part of a Slack incoming webhook URL.
const slackPath = "/services/T0001/B0001/XXsecretXXtoken42"

// newSession writes a session with ops (completed and failed) and returns its id.
func newSession(t *testing.T, dir string, statuses ...string) string {
	t.Helper()
	st := &session.Store{Dir: dir}
	id := session.NewID(time.Now())
	if _, _, _, err := st.Start(id, nil); err != nil {
		t.Fatal(err)
	}
	for i, status := range statuses {
		typ, msg := "connection_error", vcenter
		attempts := []record.Attempt{{AttemptNumber: 1, Status: "failed", ErrorType: &typ, ErrorMessage: &msg}}
		if status == record.Completed {
			attempts = append(attempts, record.Attempt{AttemptNumber: 2, Status: "success"})
		}
		op := record.Operation{OperationID: record.NewOperationID("vmware_vm_create", time.Now(), nil) + string(rune('a'+i)),
			OperationName: "vmware_vm_create", Status: status, AttemptCount: len(attempts), Attempts: attempts,
			ExecutionTime: 1.5, Host: "web01"}
		if _, err := st.RecordOperation(id, op); err != nil {
			t.Fatal(err)
		}
	}
	return id
}

func systemsFor(pg, hook, slack *receiver, extra map[string]any) []any {
	out := []any{
		map[string]any{"name": "pushgateway", "url": pg.URL, "type": "pushgateway", "retry_count": 0},
		map[string]any{"name": "hook", "url": hook.URL + "/hook/tok3nPath", "type": "webhook", "retry_count": 0},
		map[string]any{"name": "chat", "url": slack.URL + slackPath, "type": "slack", "retry_count": 1, "retry_delay": 0,
			"auth_header": "Bearer sl4ck-bearer"},
	}
	for k, v := range extra {
		out[2].(map[string]any)[k] = v
	}
	return out
}

// noSecrets fails t when the output holds a webhook URL's secret path or a credential.
func noSecrets(t *testing.T, res map[string]any) {
	t.Helper()
	b, _ := json.Marshal(res)
	for _, s := range []string{"XXsecretXXtoken42", "tok3nPath", "sl4ck-bearer", slackPath} {
		if strings.Contains(string(b), s) {
			t.Errorf("output holds secret %q: %s", s, b)
		}
	}
}

func deliveries(t *testing.T, res map[string]any) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	raw, _ := res["deliveries"].([]any)
	for _, e := range raw {
		m := e.(map[string]any)
		out[m["name"].(string)] = m
	}
	return out
}

// send_metrics delivers the session's metrics to every system that takes metrics, concurrently;
// Slack takes alerts only by default. No URL path or credential appears in the result.
func TestSendMetrics(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pg, hook, slack := newReceiver(t, 0), newReceiver(t, 0), newReceiver(t, 0)
	id := newSession(t, dir, record.Completed, record.Completed, record.Failed)
	res := mustRun(t, deps{}, map[string]any{"action": "send_metrics", "session_id": id,
		"settings": map[string]any{"state_dir": dir, "external_integration": true, "external_systems": systemsFor(pg, hook, slack, nil)}})
	noSecrets(t, res)
	ds := deliveries(t, res)
	if ds["pushgateway"]["sent"] != true || ds["hook"]["sent"] != true || ds["chat"]["skipped"] != "not_subscribed" || res["changed"] != true {
		t.Fatalf("deliveries = %v", res["deliveries"])
	}
	if res["event"] != "metrics" || !strings.Contains(res["msg"].(string), "pushgateway (pushgateway, "+strings.TrimPrefix(pg.URL, "http://")+") sent") {
		t.Errorf("event %v, msg %v", res["event"], res["msg"])
	}
	var body strings.Builder
	for _, r := range pg.got() {
		if r.method != http.MethodPut || !strings.HasPrefix(r.path, "/metrics/job/retry_manager") {
			t.Errorf("pushgateway got %s %s", r.method, r.path)
		}
		body.Write(r.body)
	}
	for _, want := range []string{`retry_operations_total{status="completed"} 2`, `retry_operations_total{status="failed"} 1`,
		`retry_attempt_failures_total{error_type="connection_error",status="completed"} 2`} {
		if !strings.Contains(body.String(), want) {
			t.Errorf("pushgateway body lacks %s:\n%s", want, body.String())
		}
	}
	hooks := hook.got()
	if len(hooks) != 1 || hooks[0].path != "/hook/tok3nPath" {
		t.Fatalf("webhook got %+v", hooks)
	}
	var payload struct {
		Event   string `json:"event"`
		Session struct {
			SessionID  string `json:"session_id"`
			Statistics struct {
				TotalOperations int `json:"total_operations"`
			} `json:"final_statistics"`
		} `json:"session"`
	}
	if err := json.Unmarshal(hooks[0].body, &payload); err != nil || payload.Event != "metrics" ||
		payload.Session.SessionID != id || payload.Session.Statistics.TotalOperations != 3 {
		t.Errorf("webhook payload %s: %v", hooks[0].body, err)
	}
	if len(slack.got()) != 0 {
		t.Errorf("slack got metrics")
	}
	// Invocation keeps the rest of the settings readable.
	args := sub(t, sub(t, res, "invocation"), "module_args")
	sys := sub(t, args, "settings")["external_systems"].([]any)[2].(map[string]any)
	if sys["url"] != "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER" || sys["name"] != "chat" {
		t.Errorf("invocation external_systems[2] = %v", sys)
	}

	// Again, with nothing new: nothing is sent (the handlers may run more than once). A new
	// operation is news: it is sent again.
	again := map[string]any{"action": "send_metrics", "session_id": id, "state_dir": dir,
		"external_systems": systemsFor(pg, hook, slack, nil)}
	res = mustRun(t, deps{}, again)
	ds = deliveries(t, res)
	if ds["pushgateway"]["skipped"] != "already_sent" || ds["hook"]["skipped"] != "already_sent" || res["changed"] != false ||
		len(hook.got()) != 1 {
		t.Errorf("second send: %v", res["deliveries"])
	}
	if _, err := (&session.Store{Dir: dir}).RecordOperation(id, record.Operation{OperationID: "vm_delete_1_000001",
		OperationName: "vm_delete", Status: record.Completed, AttemptCount: 1,
		Attempts: []record.Attempt{{AttemptNumber: 1, Status: "success"}}}); err != nil {
		t.Fatal(err)
	}
	res = mustRun(t, deps{}, again)
	if ds := deliveries(t, res); ds["hook"]["sent"] != true || len(hook.got()) != 2 {
		t.Errorf("send after a new operation: %v", res["deliveries"])
	}
}

// send_alerts sends only when a threshold is breached, once per breach group: the second host
// finds it claimed. A failed delivery is a warning unless the system is required; no URL path
// appears in the result, even when the service echoes it in its error.
func TestSendAlerts(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pg, hook, slack := newReceiver(t, 0), newReceiver(t, 0), newReceiver(t, http.StatusInternalServerError)
	slack.echo = true
	id := newSession(t, dir, record.Completed, record.Failed) // success_rate 50 < 85
	args := map[string]any{"action": "send_alerts", "session_id": id, "state_dir": dir,
		"external_systems": systemsFor(pg, hook, slack, nil)}
	res := mustRun(t, deps{}, args)
	noSecrets(t, res)
	ds := deliveries(t, res)
	if ds["hook"]["sent"] != true || ds["chat"]["sent"] != false || ds["chat"]["attempts"] != 2.0 || ds["pushgateway"]["skipped"] != "not_subscribed" {
		t.Fatalf("deliveries = %v", res["deliveries"])
	}
	ws, _ := res["warnings"].([]any)
	if len(ws) != 1 || !strings.Contains(ws[0].(string), "external system chat (slack, "+strings.TrimPrefix(slack.URL, "http://")+"): alerts not delivered after 2 attempts") {
		t.Errorf("warnings = %v", res["warnings"])
	}
	if res["alert_key"] == "" || len(res["alerts"].([]any)) != 2 || !strings.Contains(res["msg"].(string), "success_rate 50 is below min_success_rate 85") {
		t.Errorf("alerts %v, key %v, msg %v", res["alerts"], res["alert_key"], res["msg"])
	}
	if len(hook.got()) != 1 || !strings.Contains(string(hook.got()[0].body), `"event":"alerts"`) {
		t.Errorf("webhook got %d requests", len(hook.got()))
	}
	// Another host of the session: already sent.
	res = mustRun(t, deps{}, args)
	for name, d := range deliveries(t, res) {
		if name != "pushgateway" && d["skipped"] != "already_sent" {
			t.Errorf("second host: %s = %v", name, d)
		}
	}
	if len(hook.got()) != 1 || res["changed"] != false {
		t.Errorf("the alert was sent twice (%d) or changed %v", len(hook.got()), res["changed"])
	}
	if s := loadSession(t, dir, id); len(s.Delivered) != 1 || s.Delivered[0] != res["alert_key"] {
		t.Errorf("delivered = %v", s.Delivered)
	}
	// A required system that fails fails the task, with the deliveries.
	required := map[string]any{"action": "send_alerts", "session_id": newSession(t, dir, record.Failed), "state_dir": dir,
		"external_systems": systemsFor(pg, hook, slack, map[string]any{"required": true})}
	res, code := runWith(t, deps{}, required)
	noSecrets(t, res)
	if code != 1 || res["failed"] != true || !strings.HasPrefix(res["msg"].(string), "required external system chat (slack,") {
		t.Errorf("required: exit %d, msg %v", code, res["msg"])
	}
	if len(deliveries(t, res)) != 3 {
		t.Errorf("deliveries of a failed task = %v", res["deliveries"])
	}
	// No breach: nothing is sent.
	calm := mustRun(t, deps{}, with(args, map[string]any{"session_id": newSession(t, dir, record.Completed)}))
	if deliveries(t, calm)["hook"]["skipped"] != "no_breach" || calm["changed"] != false ||
		!strings.Contains(calm["msg"].(string), "no alert threshold is breached") {
		t.Errorf("no breach: %v", calm)
	}
}

// Check mode sends nothing, writes no claim, and shows what would be sent.
func TestSendCheckMode(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pg, hook, slack := newReceiver(t, 0), newReceiver(t, 0), newReceiver(t, 0)
	id := newSession(t, dir, record.Failed)
	before := treeOf(t, dir)
	for _, action := range []string{"send_metrics", "send_alerts"} {
		res := mustRun(t, deps{}, map[string]any{"action": action, "session_id": id, "state_dir": dir, "_ansible_check_mode": true,
			"external_systems": systemsFor(pg, hook, slack, nil)})
		noSecrets(t, res)
		d := deliveries(t, res)["hook"]
		if d["skipped"] != "check_mode" || d["would_send"] == nil || res["changed"] != true {
			t.Errorf("%s in check mode: %v", action, d)
		}
	}
	if n := len(pg.got()) + len(hook.got()) + len(slack.got()); n != 0 {
		t.Errorf("check mode sent %d requests", n)
	}
	if diff := treeDiff(before, treeOf(t, dir)); diff != "" {
		t.Errorf("check mode wrote: %s", diff)
	}
}

// Bad external_systems fail early (action start) and at delivery, naming the entry, never
// echoing a URL; a missing session fails the send.
func TestSendBadInput(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bad := []any{map[string]any{"name": "hook", "url": "ftp://hooks.example.com" + slackPath}}
	for _, args := range []map[string]any{
		{"action": "start", "state_dir": dir, "settings": map[string]any{"external_systems": bad}},
		{"action": "send_metrics", "session_id": newSession(t, dir), "state_dir": dir, "external_systems": bad},
	} {
		res, code := runWith(t, deps{}, args)
		noSecrets(t, res)
		msg, _ := res["msg"].(string)
		if code != 1 || !strings.Contains(msg, "invalid external_systems: external_systems[0].url: must be an http:// or https:// URL") {
			t.Errorf("%v: exit %d, msg %v", args["action"], code, msg)
		}
	}
	res, code := runWith(t, deps{}, map[string]any{"action": "send_alerts", "session_id": "retry_1_000001", "state_dir": filepath.Join(dir, "none")})
	if code != 1 || !strings.Contains(res["msg"].(string), "no such retry session retry_1_000001") {
		t.Errorf("missing session: exit %d, %v", code, res["msg"])
	}
	res = mustRun(t, deps{}, map[string]any{"action": "send_metrics", "session_id": newSession(t, dir), "state_dir": dir})
	if !strings.Contains(res["msg"].(string), "no external system is configured") || res["changed"] != false {
		t.Errorf("no systems: %v", res["msg"])
	}
}
