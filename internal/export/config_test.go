package export

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"resilience.ops/internal/field"
)

// The external_systems of the issue, as users write them today.
const issueExample = `[
 {"name": "prometheus", "url": "https://prometheus.example.com/api/v1/write", "method": "POST", "auth_header": "Bearer your-token-here", "timeout": 30, "enabled": true, "retry_count": 2, "retry_delay": 5},
 {"name": "slack_webhook", "url": "https://hooks.slack.com/services/YOUR/SLACK/WEBHOOK", "method": "POST", "timeout": 15, "enabled": true},
 {"name": "datadog", "url": "https://api.datadoghq.com/api/v1/series", "method": "POST", "auth_header": "DD-API-KEY your-api-key", "timeout": 20, "enabled": true}
]`

func TestParseSystemsIssueExample(t *testing.T) {
	t.Parallel()
	var list []any
	if err := json.Unmarshal([]byte(issueExample), &list); err != nil {
		t.Fatal(err)
	}
	sys, err := ParseSystems(list)
	if err != nil {
		t.Fatal(err)
	}
	type view struct {
		Name, Type, Host, Method, AuthName, AuthValue string
		Timeout, Delay                                time.Duration
		Retries                                       int
		Events                                        []Event
	}
	var got []view
	for _, s := range sys {
		got = append(got, view{s.Name, string(s.Type), s.Host(), s.Method, s.authHeader.name, s.authHeader.value, s.Timeout, s.RetryDelay, s.RetryCount, s.Events})
	}
	want := []view{
		{"prometheus", "prometheus_remote_write", "prometheus.example.com", "POST", "Authorization", "Bearer your-token-here", 30 * time.Second, 5 * time.Second, 2, []Event{EventMetrics}},
		{"slack_webhook", "slack", "hooks.slack.com", "POST", "", "", 15 * time.Second, DefaultRetryDelay, DefaultRetryCount, []Event{EventAlerts}},
		{"datadog", "datadog", "api.datadoghq.com", "POST", "DD-API-KEY", "your-api-key", 20 * time.Second, DefaultRetryDelay, DefaultRetryCount, []Event{EventMetrics}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("systems (-want +got):\n%s", diff)
	}
	if sys[0].RemoteWriteVersion != RemoteWrite10 || sys[0].Job != DefaultJob || !sys[0].ValidateCerts || sys[0].Required {
		t.Errorf("remote write defaults: %+v", sys[0])
	}
}

func TestInferType(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, url string
		path      bool
		want      Type
	}{
		{"prometheus", "https://prom.example.com/api/v1/write", false, TypeRemoteWrite},
		{"metrics", "https://mimir.example.com/api/v1/write/", false, TypeRemoteWrite},
		{"prometheus_prod", "https://mimir.example.com/api/v1/push", false, TypeRemoteWrite},
		{"slack_webhook", "https://hooks.slack.com/services/T/B/X", false, TypeSlack},
		{"chat", "https://hooks.slack.com/services/T/B/X", false, TypeSlack},
		{"datadog", "https://api.datadoghq.eu/api/v1/series", false, TypeDatadog},
		{"dd", "https://api.datadoghq.com/api/v2/series", false, TypeDatadog},
		{"gateway", "http://pushgateway.monitoring:9091", false, TypePushgateway},
		{"gw", "http://10.0.0.5:9091", false, TypePushgateway},
		{"prometheus_pushgateway", "http://gw.example.com", false, TypePushgateway},
		{"node_textfile", "", true, TypeTextfile},
		{"ops_hook", "https://hooks.example.com/x", false, ""},
		{"textfile_without_path", "", false, ""},
		{"prometheus", "", false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name+" "+tt.url, func(t *testing.T) {
			t.Parallel()
			var u *url.URL
			if tt.url != "" {
				u, _ = url.Parse(tt.url)
			}
			got, ok := InferType(tt.name, u, tt.path)
			if got != tt.want || ok != (tt.want != "") {
				t.Errorf("InferType = %q, %v, want %q", got, ok, tt.want)
			}
		})
	}
}

func TestParseSystemsErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		entry map[string]any
		want  []string // substrings of the error, field names first
	}{
		{"not inferable", map[string]any{"name": "ops_hook", "url": "https://hooks.example.com/T123/secret"},
			[]string{`external_systems[0].type: is missing and cannot be inferred from the name "ops_hook" and the URL's host "hooks.example.com": set type to one of prometheus_remote_write, pushgateway, textfile, slack, datadog, webhook`}},
		{"bad type", map[string]any{"name": "x", "type": "loki", "url": "https://x"},
			[]string{`external_systems[0].type: must be one of prometheus_remote_write, pushgateway, textfile, slack, datadog, webhook, got "loki"`}},
		{"missing name", map[string]any{"type": "webhook", "url": "https://x"}, []string{"external_systems[0].name: is required"}},
		{"unknown key", map[string]any{"name": "x", "type": "webhook", "url": "https://x", "verify": true},
			[]string{"external_systems[0].verify: unknown key; accepted keys are auth_header, ca_file, directory"}},
		{"key of another type", map[string]any{"name": "x", "type": "slack", "url": "https://x", "job": "j"},
			[]string{"external_systems[0].job: does not apply to slack systems; their keys are"}},
		{"bad method", map[string]any{"name": "prometheus", "url": "https://p/api/v1/write", "method": "PUT"},
			[]string{`external_systems[0].method: must be one of POST for prometheus_remote_write systems, got "PUT"`}},
		{"bad url", map[string]any{"name": "x", "type": "webhook", "url": "ftp://secret-host/token"},
			[]string{"external_systems[0].url: must be an http:// or https:// URL with a host"}},
		{"missing url", map[string]any{"name": "x", "type": "datadog"}, []string{"external_systems[0].url: is required for datadog systems"}},
		{"timeout", map[string]any{"name": "x", "type": "webhook", "url": "https://x", "timeout": 0},
			[]string{"external_systems[0].timeout: must be more than 0 seconds, got 0"}},
		{"timeout too long", map[string]any{"name": "x", "type": "webhook", "url": "https://x", "timeout": "301"},
			[]string{"external_systems[0].timeout: must be at most 300 seconds, got 301"}},
		// 1e10 seconds used to overflow to a negative duration, which passed the "at most" check.
		{"timeout overflowing a duration", map[string]any{"name": "x", "type": "webhook", "url": "https://x", "timeout": 1e10},
			[]string{"external_systems[0].timeout: must be at most 300 seconds, got 1e+10"}},
		{"retry_delay overflowing a duration", map[string]any{"name": "x", "type": "webhook", "url": "https://x", "retry_delay": "1e19"},
			[]string{"external_systems[0].retry_delay: must be at most"}},
		{"retry_count", map[string]any{"name": "x", "type": "webhook", "url": "https://x", "retry_count": 10},
			[]string{"external_systems[0].retry_count: must be between 0 and 9 (retries, not attempts), got 10"}},
		{"retry_count fraction", map[string]any{"name": "x", "type": "webhook", "url": "https://x", "retry_count": 1.5},
			[]string{"external_systems[0].retry_count: must be a whole number, got 1.5"}},
		{"retry_delay", map[string]any{"name": "x", "type": "webhook", "url": "https://x", "retry_delay": -1},
			[]string{"external_systems[0].retry_delay: must be at least 0 seconds, got -1"}},
		{"enabled", map[string]any{"name": "x", "type": "webhook", "url": "https://x", "enabled": "maybe"},
			[]string{`external_systems[0].enabled: must be a boolean (true/false, yes/no, on/off, 1/0), got "maybe"`}},
		{"events", map[string]any{"name": "prometheus", "url": "https://p/api/v1/write", "events": []any{"alerts"}},
			[]string{`external_systems[0].events: must list only metrics for prometheus_remote_write systems, got "alerts"`}},
		{"remote write version", map[string]any{"name": "prometheus", "url": "https://p/api/v1/write", "remote_write_version": "3"},
			[]string{`external_systems[0].remote_write_version: must be one of 1.0, 2.0, got "3"`}},
		{"grouping", map[string]any{"name": "pushgateway", "url": "http://gw:9091", "grouping": []any{"host"}},
			[]string{`external_systems[0].grouping: must list only operation and session (job is always part of the group), got "host"`}},
		{"pushgateway path", map[string]any{"name": "pushgateway", "url": "http://gw:9091/metrics/job/x"},
			[]string{"external_systems[0].url: must be the Pushgateway's base URL"}},
		{"textfile without path", map[string]any{"name": "tf", "type": "textfile"},
			[]string{"external_systems[0].path: textfile systems need path (the .prom file) or directory"}},
		{"textfile relative", map[string]any{"name": "tf", "type": "textfile", "directory": "textfile"},
			[]string{`external_systems[0].directory: must be an absolute path, got "textfile"`}},
		{"textfile not .prom", map[string]any{"name": "tf", "type": "textfile", "path": "/var/lib/node/retry.txt"},
			[]string{"external_systems[0].path: must end in .prom"}},
		{"textfile url", map[string]any{"name": "tf", "type": "textfile", "directory": "/var/lib/node", "url": "https://x"},
			[]string{"external_systems[0].url: does not apply to textfile systems"}},
		{"label reserved", map[string]any{"name": "prometheus", "url": "https://p/api/v1/write", "labels": map[string]any{"status": "x"}},
			[]string{`external_systems[0].labels: label name "status" is set by the module`}},
		{"label invalid", map[string]any{"name": "prometheus", "url": "https://p/api/v1/write", "labels": map[string]any{"1x": "x"}},
			[]string{`external_systems[0].labels: label name "1x" is not valid`}},
		{"header forbidden", map[string]any{"name": "x", "type": "webhook", "url": "https://x", "headers": map[string]any{"content-type": "text/plain"}},
			[]string{"external_systems[0].headers: header content-type is set by the module and cannot be overridden"}},
		{"auth header newline", map[string]any{"name": "x", "type": "webhook", "url": "https://x", "auth_header": "Bearer abc\r\nX-Evil: 1"},
			[]string{"external_systems[0].auth_header: must not contain control characters such as newlines"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseSystems([]any{tt.entry})
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error\n%v\ndoes not contain\n%s", err, w)
				}
			}
			var fe *field.Error
			if !errors.As(err, &fe) || !strings.HasPrefix(fe.Path, "external_systems[0]") {
				t.Errorf("not a *field.Error naming the entry: %#v", err)
			}
			for _, secret := range []string{"secret-host", "T123/secret", "abc\r\n"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error echoes a secret: %v", err)
				}
			}
		})
	}
}

func TestParseSystemsReportsEveryProblem(t *testing.T) {
	t.Parallel()
	_, err := ParseSystems([]any{
		map[string]any{"name": "a", "type": "webhook", "url": "https://x", "timeout": -1, "retry_count": 99},
		"not a dict",
		map[string]any{"name": "a", "type": "webhook", "url": "https://y"},
	})
	for _, want := range []string{"external_systems[0].timeout", "external_systems[0].retry_count",
		"external_systems[1]: must be a dictionary", `external_systems[2].name: "a" is already the name of external_systems[0]`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
	if _, err := ParseSystems(map[string]any{}); err == nil || err.Error() != "external_systems: must be a list of dictionaries, got a dictionary" {
		t.Errorf("not a list: %v", err)
	}
	if sys, err := ParseSystems(nil); err != nil || sys != nil {
		t.Errorf("nil: %v %v", sys, err)
	}
}

func TestParseSystemsCoercesLikeAnsible(t *testing.T) {
	t.Parallel()
	sys := mustSystems(t, map[string]any{"name": "hook", "type": "webhook", "url": "https://h.example.com/x",
		"timeout": "2.5", "retry_count": "3", "retry_delay": "0", "enabled": "yes", "required": "on", "validate_certs": "no",
		"events": "alerts", "method": "put"})
	s := sys[0]
	if s.Timeout != 2500*time.Millisecond || s.RetryCount != 3 || s.RetryDelay != 0 || !s.Enabled || !s.Required ||
		s.ValidateCerts || s.Method != "PUT" || !cmp.Equal(s.Events, []Event{EventAlerts}) {
		t.Errorf("coerced: %+v", fmt.Sprintf("%#v %v %v %v %v", s, s.Timeout, s.RetryCount, s.Events, s.Method))
	}
}

func TestAuthHeader(t *testing.T) {
	t.Parallel()
	tests := []struct {
		typ, in, name, value string
	}{
		{"webhook", "Bearer tok-123", "Authorization", "Bearer tok-123"},
		{"webhook", "Basic dXNlcjpwYXNz", "Authorization", "Basic dXNlcjpwYXNz"},
		{"datadog", "DD-API-KEY key-123", "DD-API-KEY", "key-123"},
		{"datadog", "key-123", "DD-API-KEY", "key-123"},
		{"webhook", "X-Api-Key: abc:def", "X-Api-Key", "abc:def"},
		{"webhook", "token123", "Authorization", "token123"},
		{"webhook", "Bearer abc:def", "Authorization", "Bearer abc:def"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			s := mustSystems(t, map[string]any{"name": "x", "type": tt.typ, "url": "https://h.example.com/x", "auth_header": tt.in})[0]
			if s.authHeader.name != tt.name || s.authHeader.value != tt.value {
				t.Errorf("got %q: %q, want %q: %q", s.authHeader.name, s.authHeader.value, tt.name, tt.value)
			}
		})
	}
}

func TestSystemPrintsNoSecret(t *testing.T) {
	t.Parallel()
	s := mustSystems(t, map[string]any{"name": "slack", "url": "https://hooks.slack.com/services/T0SECRET/B0SECRET/XSECRETTOKEN",
		"auth_header": "Bearer s3cr3t-token", "headers": map[string]any{"X-Extra": "extra-s3cret"}})[0]
	b, _ := json.Marshal(s)
	for _, out := range []string{fmt.Sprint(s), fmt.Sprintf("%v %+v %#v %s", s, s, s, s), string(b)} {
		for _, secret := range []string{"SECRET", "s3cr3t", "services"} {
			if strings.Contains(out, secret) {
				t.Errorf("%q shows %q", out, secret)
			}
		}
	}
	if got := fmt.Sprint(s); got != "slack (slack, hooks.slack.com)" {
		t.Errorf("String = %q", got)
	}
}

func TestTextfileAndPushgatewayDefaults(t *testing.T) {
	t.Parallel()
	sys := mustSystems(t,
		map[string]any{"name": "node_textfile", "directory": "/var/lib/prometheus/node-exporter"},
		map[string]any{"name": "tf2", "type": "textfile", "path": "/var/lib/node/retry.prom", "labels": map[string]any{"env": "prod", "tier": 1.0}},
		map[string]any{"name": "pushgateway", "url": "http://gw:9091"},
		map[string]any{"name": "pg2", "type": "pushgateway", "url": "http://gw:9091", "grouping": []any{"session", "operation"}, "method": "post", "job": "deploys"},
	)
	if sys[0].Type != TypeTextfile || sys[0].Path != "/var/lib/prometheus/node-exporter/retry_manager.prom" || sys[0].Host() != "localhost" {
		t.Errorf("textfile: %v %q", sys[0], sys[0].Path)
	}
	if !cmp.Equal(sys[1].Labels, map[string]string{"env": "prod", "tier": "1"}) {
		t.Errorf("labels: %v", sys[1].Labels)
	}
	if sys[2].Method != "PUT" || sys[2].Job != DefaultJob || !cmp.Equal(sys[2].Grouping, []string{"operation", "session"}) {
		t.Errorf("pushgateway defaults: %+v", sys[2].Grouping)
	}
	if sys[3].Method != "POST" || sys[3].Job != "deploys" || !cmp.Equal(sys[3].Grouping, []string{"operation", "session"}) {
		t.Errorf("pushgateway: %s %s %v", sys[3].Method, sys[3].Job, sys[3].Grouping)
	}
}
