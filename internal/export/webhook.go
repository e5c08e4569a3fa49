package export

import (
	"bytes"
	"encoding/json"
	"time"

	"resilience.ops/internal/clock"
)

// TypeWebhook is any URL that takes the snapshot as JSON; its URL is a credential. It is never
// inferred: an entry names it.
const TypeWebhook Type = "webhook"

func init() {
	register(kind{Type: TypeWebhook, Order: 6, Events: metricsAndAlerts, DefaultEvents: metricsAndAlerts, Methods: []string{"POST", "PUT"},
		Keys: keys(httpKeys, tlsKeys), SecretURL: true,
		parse: func(*parser, map[string]any, *System) {},
		plan: func(sys System, snap Snapshot, e Event, c clock.Clock, h *httpSender) *plan {
			return webhookPlan(sys, snap, e, c.Now(), h)
		},
	})
}

// WebhookSource names the sender in webhook payloads.
const WebhookSource = "resilience.ops.retry_manager"

// WebhookPayload is the JSON body a webhook system receives. A plain value: safe for concurrent
// use as long as nobody modifies it.
type WebhookPayload struct {
	Event    Event    `json:"event"`               // "metrics" or "alerts"
	Source   string   `json:"source"`              // WebhookSource
	SentAt   string   `json:"sent_at"`             // RFC 3339, UTC
	AlertKey string   `json:"alert_key,omitempty"` // the breach group (alerts only; see AlertKey)
	Session  Snapshot `json:"session"`
}

func webhookBody(snap Snapshot, e Event, now time.Time) []byte {
	p := WebhookPayload{Event: e, Source: WebhookSource, SentAt: now.UTC().Format(time.RFC3339), Session: snap}
	if e == EventAlerts {
		p.AlertKey = AlertKey(snap)
	}
	if p.Session.Operations == nil {
		p.Session.Operations = []OperationStats{}
	}
	if p.Session.Alerts == nil {
		p.Session.Alerts = []Alert{}
	}
	return marshalJSON(p)
}

// marshalJSON encodes v without HTML escaping (receivers read "<" better than "\u003c") and
// without the trailing newline. The payloads are plain structs, maps and strings: encoding
// cannot fail.
func marshalJSON(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	return bytes.TrimRight(b.Bytes(), "\n")
}

// webhookPlan prepares the session JSON for sys.
func webhookPlan(sys System, snap Snapshot, e Event, now time.Time, h *httpSender) *plan {
	body := webhookBody(snap, e, now)
	p := &plan{}
	p.preview = Preview{Method: sys.Method, Host: sys.Host(), ContentType: "application/json", Headers: sys.headerNames(), Body: json.RawMessage(body)}
	p.attempt = jsonAttempt(p, h, sys, body)
	return p
}
