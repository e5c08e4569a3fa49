#!/usr/bin/env bash
# Delivery to external systems by the retry_manager role's handlers, against Debian's Pushgateway
# and a local webhook receiver (tests/integration/utils/webhook_sink.py), both started here and
# stopped on exit: the metrics reach the Pushgateway (read back from its /metrics) and the webhook;
# an alert goes out only when a threshold is breached, once for the three hosts; a failing system
# is a warning, not a failure; check mode sends nothing; the webhook URLs' secret paths and the
# auth_header never appear in the output or in the state directory.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
utils="$here/../../utils"
out="$OUTPUT_DIR/external"
rm -rf "$out"
state="$out/state"
mkdir -p "$out"
secret_path="XXsl4ckXXpathXX93"
secret_token="tok-XX7781XX"

pgport=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
/usr/bin/prometheus-pushgateway --web.listen-address="127.0.0.1:$pgport" --persistence.file= >"$out/pushgateway.log" 2>&1 &
pushgateway=$!
python3 "$utils/webhook_sink.py" --port-file "$out/sink.port" &
sink=$!
trap 'kill "$pushgateway" "$sink" 2>/dev/null || true; wait "$pushgateway" "$sink" 2>/dev/null || true' EXIT
pg="http://127.0.0.1:$pgport"
get() { /usr/bin/python3 -c 'import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())' "$1"; }
for _ in $(seq 100); do get "$pg/-/ready" >/dev/null 2>&1 && [ -s "$out/sink.port" ] && break; sleep 0.1; done
get "$pg/-/ready" >/dev/null
sinkurl="http://127.0.0.1:$(cat "$out/sink.port")"

play() { # play <result file> [ansible-playbook options...]
  local result=$1
  shift
  ANSIBLE_FORKS=3 ansible-playbook -vvv -i "$here/inventory" "$here/external.yml" -e "state_dir=$state" \
    -e "pushgateway_url=$pg" -e "sink_url=$sinkurl" -e "secret_path=$secret_path" -e "secret_token=$secret_token" \
    -e "result_file=$result" "$@"
}

check() { # check <result file> <log> <breach: 0|1>
  /usr/bin/python3 - "$1" "$2" "$3" "$(get "$pg/metrics")" "$(get "$sinkurl/__received")" "$state" "$secret_path" "$secret_token" <<'PY'
import glob, json, os, re, sys
res, log, breach = json.load(open(sys.argv[1])), open(sys.argv[2]).read(), sys.argv[3] == "1"
flat = " ".join(log.split())  # ansible wraps warnings
metrics, received, state, secret_path, secret_token = sys.argv[4], json.loads(sys.argv[5]), sys.argv[6], sys.argv[7], sys.argv[8]
sid = res["session_id"]

# The Pushgateway holds the session's metrics, grouped by operation and session.
def sample(name, **labels):
    for line in metrics.splitlines():
        m = re.match(r'^(\w+)\{(.*)\} (\S+)$', line)
        if m and m.group(1) == name:
            ls = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2)))
            if all(ls.get(k) == v for k, v in labels.items()):
                return float(m.group(3))
    return None
completed, failed = (1, 2) if breach else (3, None)
assert sample("retry_operations_total", job="retry_manager", operation="vm_create", session=sid, status="completed") == completed, metrics
assert sample("retry_operations_total", job="retry_manager", operation="vm_create", session=sid, status="failed") == failed, metrics
assert abs(sample("retry_session_success_ratio", job="retry_manager", session=sid) - (1 / 3 if breach else 1)) < 0.001, metrics

# The metrics handler sent to the Pushgateway and the webhook; Slack takes alerts only; the broken
# system is a warning after its retries. ansible-core 2.14 may run a run_once handler more than once
# (ansible/ansible#81666): a later run finds the metrics already sent and sends them again only to
# the system that failed.
d = {r["name"]: r for r in res["metrics"]["deliveries"]}
for name in ("pushgateway", "audit"):
    assert d[name]["sent"] or d[name].get("skipped") == "already_sent", d[name]
assert d["chat"]["skipped"] == "not_subscribed", d["chat"]
assert not d["broken"]["sent"] and d["broken"]["attempts"] == 2 and d["broken"]["error_type"] == "temporary_failure", d["broken"]
assert not res["metrics"]["failed"], res["metrics"]["msg"]
assert "[WARNING]: external system broken (webhook, 127.0.0.1:" in flat and "metrics not delivered after 2 attempts" in flat, "warning"

mine = [r for r in received if isinstance(r["body"], dict) and r["body"].get("session", {}).get("session_id") == sid
        or isinstance(r["body"], dict) and sid in str(r["body"].get("text", ""))]
audit = [r for r in mine if r["path"].startswith("/hooks/audit/")]
chat = [r for r in mine if r["path"].startswith("/services/")]
broken = [r for r in mine if r["path"].startswith("/fail/")]
assert [r["body"]["event"] for r in audit] == (["metrics", "alerts"] if breach else ["metrics"]), [r["body"]["event"] for r in audit]
assert all(r["authorization"] == "Bearer " + secret_token for r in audit), audit
assert len(broken) >= 2 and len(broken) % 2 == 0, broken

# Alerts: only on a breach, and once for the three hosts.
a = {r["name"]: r for r in res["alerts"]["deliveries"]}
again = res["again"]
if breach:
    assert len(chat) == 1 and "success_rate" in chat[0]["body"]["text"], chat
    assert a["chat"]["sent"] and a["audit"]["sent"] and res["alerts"]["alert_key"], a
    assert sorted(x["alert"] for x in res["alerts"]["alerts"]) == ["max_error_rate", "min_success_rate"], res["alerts"]["alerts"]
    for host, r in again.items():
        skipped = {x["name"]: x.get("skipped") for x in r["deliveries"]}
        assert skipped == {"pushgateway": "not_subscribed", "audit": "already_sent", "chat": "already_sent", "broken": "not_subscribed"}, (host, skipped)
    session = json.load(open(os.path.join(state, "retry_session_%s.json" % sid)))
    assert res["alerts"]["alert_key"] in session["delivered"], session.get("delivered")
    assert [k for k in session["delivered"] if k.startswith("alert_")] == [res["alerts"]["alert_key"]], session["delivered"]
else:
    assert chat == [] and a["chat"]["skipped"] == "no_breach" and a["audit"]["skipped"] == "no_breach", a
    assert all(x.get("skipped") in ("no_breach", "not_subscribed") for r in again.values() for x in r["deliveries"]), again

# Check mode sent nothing and said what would be sent.
c = {r["name"]: r for r in res["check"]["deliveries"]}
assert c["pushgateway"]["skipped"] == "check_mode" and c["pushgateway"]["would_send"]["groups"], c["pushgateway"]
assert c["audit"]["would_send"]["headers"] == ["Authorization"], c["audit"]["would_send"]

# Secrets appear nowhere: not in the output, not in the state directory.
for where, text in [("the output", log)] + [(p, open(p, "rb").read().decode("utf-8", "replace"))
                                            for p in glob.glob(os.path.join(state, "**"), recursive=True) if os.path.isfile(p)]:
    for secret in (secret_path, secret_token):
        assert secret not in text, ("secret %s in %s" % (secret, where))
assert "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER" in log, "the invocation masks the URLs"
print("session %s: metrics on the Pushgateway (%s completed, %s failed), webhook %s, slack %d alert(s), broken: warning"
      % (sid, completed, failed or 0, [r["body"]["event"] for r in audit], len(chat)))
PY
}

echo "--- every operation succeeds: metrics are delivered, no alert"
play "$out/calm.json" >"$out/calm.log" 2>&1
check "$out/calm.json" "$out/calm.log" 0

echo "--- two of three operations fail: a threshold is breached, one alert for the three hosts"
play "$out/breach.json" -e '{"fail_hosts": ["host02", "host03"]}' >"$out/breach.log" 2>&1
check "$out/breach.json" "$out/breach.log" 1
