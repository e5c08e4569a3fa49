package export

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"resilience.ops/internal/clock"
	"resilience.ops/internal/retry"
)

// TypeSlack is a Slack incoming webhook; its URL's path is the credential.
const TypeSlack Type = "slack"

func init() {
	register(kind{Type: TypeSlack, Order: 4, Events: metricsAndAlerts, DefaultEvents: alertsOnly, Methods: []string{"POST"},
		Keys: keys(httpKeys, tlsKeys), SecretURL: true,
		// "slack" in the name or the host (hooks.slack.com).
		InferRank: 1, Infer: func(h inferHint) bool { return strings.Contains(h.name, "slack") || strings.Contains(h.host, "slack") },
		parse: func(*parser, map[string]any, *System) {},
		plan: func(sys System, snap Snapshot, e Event, _ clock.Clock, h *httpSender) *plan {
			return slackPlan(sys, snap, e, h)
		},
	})
}

// maxSlackOperations bounds the operation lines of a Slack message; the rest are counted.
const maxSlackOperations = 20

// slackText is the message for event e: for an alert, the breached thresholds first; for
// metrics, the session's figures. Both list each operation with its status, attempts and error
// types. User text (operation names) is escaped as Slack's mrkdwn requires.
func slackText(s Snapshot, e Event) string {
	var b strings.Builder
	st := s.Statistics
	if e == EventAlerts {
		n := len(s.Alerts)
		fmt.Fprintf(&b, ":rotating_light: *Retry alert*: session `%s` breached %d threshold%s\n", slackEscape(s.SessionID), n, plural(n))
		for _, a := range s.Alerts {
			b.WriteString("• " + slackEscape(a.Text()) + "\n")
		}
	} else {
		fmt.Fprintf(&b, ":bar_chart: *Retry statistics*: session `%s`: %d operation%s, success rate %s%%, retry rate %s%%, average retries %s, total execution time %ss\n",
			slackEscape(s.SessionID), st.TotalOperations, plural(st.TotalOperations), fmtNum(st.SuccessRate), fmtNum(st.RetryRate),
			fmtNum(st.AverageRetryCount), fmtNum(st.TotalExecutionTime))
		if len(s.Alerts) == 0 {
			b.WriteString("No threshold breached.\n")
		} else {
			for _, a := range s.Alerts {
				b.WriteString("• breached: " + slackEscape(a.Text()) + "\n")
			}
		}
	}
	if len(s.Operations) > 0 {
		b.WriteString("*Operations*\n")
	}
	for i, op := range s.Operations {
		if i == maxSlackOperations {
			fmt.Fprintf(&b, "… and %d more\n", len(s.Operations)-maxSlackOperations)
			break
		}
		fmt.Fprintf(&b, "• %s: %s, %d operation%s, %d attempt%s", slackEscape(op.Operation), slackEscape(op.Status),
			op.Operations, plural(op.Operations), op.Attempts, plural(op.Attempts))
		if len(op.Failures) > 0 {
			types := make([]string, 0, len(op.Failures))
			for t := range op.Failures {
				types = append(types, t)
			}
			sort.Strings(types)
			parts := make([]string, len(types))
			for j, t := range types {
				parts[j] = fmt.Sprintf("%s (%d)", slackEscape(t), op.Failures[t])
			}
			b.WriteString(", error types: " + strings.Join(parts, ", "))
		}
		b.WriteString("\n")
	}
	return strings.TrimRight(b.String(), "\n")
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// slackEscape escapes the three characters Slack's mrkdwn gives a meaning to.
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// slackPlan prepares the message of event e. The webhook URL is the credential.
func slackPlan(sys System, snap Snapshot, e Event, h *httpSender) *plan {
	text := slackText(snap, e)
	body := marshalJSON(map[string]string{"text": text})
	p := &plan{}
	p.preview = Preview{Method: sys.Method, Host: sys.Host(), ContentType: "application/json", Headers: sys.headerNames(), Text: text}
	p.attempt = jsonAttempt(p, h, sys, body)
	return p
}

// jsonAttempt posts body as JSON to the system's URL.
func jsonAttempt(p *plan, h *httpSender, sys System, body []byte) func(context.Context) retry.Result {
	return func(ctx context.Context) retry.Result {
		resp, res := h.send(ctx, sys.Method, sys.url.String(), "application/json", nil, body)
		p.status = resp.status
		return res
	}
}
