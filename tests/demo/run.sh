#!/usr/bin/env bash
# The README's first command (`make demo`): the whole story against localhost with real services on
# 127.0.0.1, every playbook run through ansible-runner the way AAP runs job templates:
#   1. a flaky operation succeeds on its third attempt, with the delays shown;
#   2. a non-retryable failure stops at once;
#   3. a rollback locks the guard window;
#   4. a promotion is refused while it is locked;
#   5. the release is refused while the SLOs are bad, and granted once they are good;
#   6. the promotion goes through, and locks the guard again.
# Services: Debian's Prometheus scraping a small demo service whose SLO series the story switches from
# bad to good, and a Loki stand-in that serves recorded Loki answers (Loki is not packaged in Debian).
# Everything is stopped and removed at the end. The stability window is 20s to keep the demo short.
set -euo pipefail
tarball=${1:?usage: run.sh <collection tarball>}
here=$(cd "$(dirname "$0")" && pwd)
utils="$here/../integration/utils"
work=$(mktemp -d "${TMPDIR:-/tmp}/resilience-ops-demo.XXXXXX")
cleanup() {
  /usr/bin/python3 "$utils/slo_backends.py" stop "$work/services" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
start=$(date +%s)

export ANSIBLE_COLLECTIONS_PATH="$work/collections"
export ANSIBLE_LOCAL_TEMP="$work/ansible-local" ANSIBLE_REMOTE_TEMP="$work/ansible-remote"
ansible-galaxy collection install --force -p "$work/collections" "$tarball" >/dev/null

echo "== starting Prometheus and the Loki stand-in on 127.0.0.1 (the demo service's SLOs are bad)"
/usr/bin/python3 "$utils/slo_backends.py" start "$work/services" --live bad > "$work/services.json"
prom=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["prom_url"])' "$work/services.json")
loki=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["loki_url"])' "$work/services.json")
echo "   prometheus $prom, loki stand-in $loki"

guard="$work/threader.qos.guard"
inv="$here/inventory"
common=("qos_guard_path=$guard" "prometheus_url=$prom" "prom_url=$prom" "loki_url=$loki" window=20s stability_window=20s)
run() { "$utils/runner_artifacts.py" "$@"; }
field() { /usr/bin/python3 -c 'import json,sys; r=json.loads(sys.argv[1]); print(eval(sys.argv[2]))' "$1" "$2"; }
summary=()
note() { summary+=("$1"); echo "   $1"; }

echo "== 1-2. retries: a flaky operation and a wrong password"
r=$(run "$here/demo.yml" "$inv" "demo_dir=$work")
[ "$(field "$r" 'r["status"]')" = successful ] || { echo "demo: the retry step failed: $r"; exit 1; }
note "flaky operation: succeeded on attempt $(field "$r" 'r["artifact_data"]["demo_flaky_attempts"]') after $(field "$r" '", ".join(r["artifact_data"]["demo_flaky_errors"])'), waiting $(field "$r" '" s, ".join(str(d) for d in r["artifact_data"]["demo_flaky_delays"])') s ($(field "$r" 'r["artifact_data"]["demo_flaky_seconds"]') s in all)"
note "wrong password: $(field "$r" 'r["artifact_data"]["demo_auth_error"]'), $(field "$r" 'r["artifact_data"]["demo_auth_stop"]') after $(field "$r" 'r["artifact_data"]["demo_auth_attempts"]') attempt"

echo "== 3. a rollback locks the guard window"
r=$(run resilience.ops.auto_rollback_on_failure "$inv" "${common[@]}" "rollback_command=echo rolled back to release 41")
[ "$(field "$r" 'r["artifact_data"].get("rollback_status")')" = SUCCESS ] || { echo "demo: the rollback failed: $r"; exit 1; }
note "rollback: $(field "$r" 'r["artifact_data"]["rollback_status"]'), guard locked until $(field "$r" 'r["artifact_data"]["qos_guard_expires_at"]')"

echo "== 4. a promotion while the guard is locked"
r=$(run resilience.ops.promo_with_guards "$inv" "${common[@]}" "promotion_command=echo promoted release 42")
[ "$(field "$r" 'r["status"]')" = failed ] || { echo "demo: the promotion was not refused: $r"; exit 1; }
note "promotion refused: $(field "$r" 'r["failures"][0][:110]')..."

echo "== 5a. the release while the SLOs are bad (waits for the 20s window after the lock, then checks)"
r=$(run resilience.ops.qos_guard_release "$inv" "${common[@]}" qos_release_wait=true qos_release_wait_timeout=30s qos_release_poll_interval=5s)
[ "$(field "$r" 'r["status"]')" = failed ] || { echo "demo: the release was not refused: $r"; exit 1; }
note "release refused: $(field "$r" 'r["artifact_data"]["qos_release_status"]'); $(field "$r" '"; ".join("%s %s (%s)" % (c["name"], c["value"], c["outcome"]) for c in r["artifact_data"]["qos_release_checks"])')"

echo "== 5b. the service recovers; the release waits until the SLOs hold over the window"
/usr/bin/python3 "$utils/slo_backends.py" slo "$work/services" good >/dev/null
r=$(run resilience.ops.qos_guard_release "$inv" "${common[@]}" qos_release_wait=true qos_release_wait_timeout=60s qos_release_poll_interval=5s)
[ "$(field "$r" 'r["artifact_data"].get("qos_release_unlocked")')" = True ] || { echo "demo: the release was not granted: $r"; exit 1; }
note "release granted: $(field "$r" '"; ".join("%s %s (%s)" % (c["name"], c["value"], c["outcome"]) for c in r["artifact_data"]["qos_release_checks"])')"

echo "== 6. the promotion goes through and locks the guard for the stability window"
r=$(run resilience.ops.promo_with_guards "$inv" "${common[@]}" "promotion_command=echo promoted release 42")
[ "$(field "$r" 'r["artifact_data"].get("promotion_status")')" = SUCCESS ] || { echo "demo: the promotion failed: $r"; exit 1; }
note "promotion: $(field "$r" 'r["artifact_data"]["promotion_status"]'), guard locked until $(field "$r" 'r["artifact_data"]["qos_guard_expires_at"]')"

echo
echo "== summary ($(( $(date +%s) - start )) s; audit trail of the guard below)"
for line in "${summary[@]}"; do echo "- $line"; done
/usr/bin/python3 - "$guard.audit.jsonl" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    e = json.loads(line)
    print("  audit: %s %-7s lock %s%s" % (e["time"][:19], e["event"], e.get("lock_id", ""),
          (", reason: " + e["reason"]) if e.get("reason") else ""))
PY
echo "demo: done; services stopped and $work removed"
