package release

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"resilience.ops/internal/clock"
	"resilience.ops/internal/guard"
	"resilience.ops/internal/modtest"
)

// blockingBackend answers every Prometheus and Loki query with stable data, stamped with the
// query's time, but only once hold has returned: the first query in flight runs hold, and every
// other waits for it.
func blockingBackend(t *testing.T, hold func()) *httptest.Server {
	var once sync.Once
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		once.Do(hold)
		q, at := r.Form.Get("query"), r.Form.Get("time")
		v := "0.002"
		switch {
		case strings.Contains(q, "health_ok"):
			v = "0.999"
		case strings.Contains(q, "|~"):
			v = "0"
		case strings.Contains(q, "count_over_time"):
			v = "120"
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[%s,"%s"]}]}}`, at, v)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// The release must unlock only the lock it evaluated. Here the guard is extended by a real second
// process (`qos_guard lock 60 --reason "NEW rollback"`, which keeps the lock id) while the
// release's queries are in flight: the servers answer only once the extension is done, and with
// data that would release the guard. The release notices the new expiry, decides again on the
// extended lock (whose window has just started) and leaves it locked with the new expiry.
func TestExtensionDuringTheQueriesWins(t *testing.T) {
	t.Parallel()
	qosGuard := modtest.BuildBinary(t, "resilience.ops/internal/cmd/qos_guard")
	qosGuardRelease := modtest.BuildBinary(t, "resilience.ops/internal/cmd/qos_guard_release")
	dir := t.TempDir()
	path := filepath.Join(dir, "state", "guard")
	// Locked two hours ago for two and a half: the 15m window is evaluable, and the extension by
	// 60 minutes moves the expiry.
	g := guard.New(path)
	g.Clock = clock.Func(func() time.Time { return time.Now().Add(-2 * time.Hour) })
	first, err := g.Lock(guard.LockRequest{Minutes: 150, Reason: "rollback 41"}, false)
	if err != nil {
		t.Fatal(err)
	}

	var extension guard.Status
	var extErr error
	srv := blockingBackend(t, func() {
		out, err := exec.Command(qosGuard, "--path", path, "--json", "lock", "60", "--reason", "NEW rollback").Output()
		if err != nil {
			extErr = fmt.Errorf("qos_guard lock: %v: %s", err, out)
			return
		}
		extErr = json.Unmarshal(out, &extension)
	})

	cmd := exec.Command(qosGuardRelease, "--path", path, "--prom-url", srv.URL, "--loki-url", srv.URL, "--json")
	cmd.Env = append(os.Environ(), "PROMETHEUS_URL=", "LOKI_URL=", "QOS_GUARD_FILE=")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	if extErr != nil {
		t.Fatal(extErr)
	}
	if extension.LockID != first.After.LockID || extension.ExpiresAt == first.After.ExpiresAt || extension.Reason != "NEW rollback" {
		t.Fatalf("the extension did not extend the lock: before %+v, after %+v", first.After, extension)
	}
	var ret Return
	if jerr := json.Unmarshal(stdout.Bytes(), &ret); jerr != nil {
		t.Fatalf("release output %q (%v), stderr %s", stdout.String(), err, stderr.String())
	}
	if ret.Unlocked || ret.Status != StatusNotYetEvaluable || !ret.Guard.Locked || ret.Guard.ExpiresAt != extension.ExpiresAt {
		t.Errorf("the release ignored the extension: %s (stderr %s)", stdout.String(), stderr.String())
	}
	if code := cmd.ProcessState.ExitCode(); code != exitUnknown {
		t.Errorf("exit status %d, want %d (not yet evaluable)", code, exitUnknown)
	}

	// Afterwards the guard is still locked by the extended lock, with its new expiry.
	st, err := guard.New(path).Status(true)
	if err != nil {
		t.Fatal(err)
	}
	if !st.After.Locked || st.After.LockID != first.After.LockID || st.After.ExpiresAt != extension.ExpiresAt ||
		st.After.Reason != "NEW rollback" || st.After.WindowStart != extension.WindowStart {
		t.Errorf("guard after the release: %+v, want the extension %+v", st.After, extension)
	}
	evs, _ := guard.New(path).ReadAudit()
	if got := events(evs); strings.Join(got, ",") != "lock,extend" {
		t.Errorf("audit %v: nothing may have been released", got)
	}
}
