#!/usr/bin/env bash
# The collection's playbooks, run by name (resilience.ops.<playbook>) through ansible-runner the way
# AAP runs job templates, against localhost and local services: a real Prometheus (backfilled SLO
# series: job "threader" stable, job "hot" with too many 5xx) and the Loki stand-in. Each case checks
# the play's outcome, the guard on disk and the AAP artifacts.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
utils="$here/../../utils"
out=${OUTPUT_DIR:?}/playbooks
mkdir -p "$out"
backends="$out/backends"
/usr/bin/python3 "$utils/slo_backends.py" start "$backends" > "$out/backends.out"
trap '/usr/bin/python3 "$utils/slo_backends.py" stop "$backends" >/dev/null' EXIT
prom=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["prom_url"])' "$backends/backends.json")
loki=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["loki_url"])' "$backends/backends.json")
inv="$here/../../inventory"

run() { # run <playbook> key=value... : prints the runner's JSON
  "$utils/runner_artifacts.py" "resilience.ops.$1" "$inv" "qos_guard_hosts=testhost" "promotion_hosts=testhost" \
    "rollback_hosts=testhost" "${@:2}"
}
check() { # check <json> <python expression over r (result), a (artifacts)> <description>
  if /usr/bin/python3 -c 'import json,sys; r=json.loads(sys.argv[1]); a=r["artifact_data"]; sys.exit(0 if eval(sys.argv[2]) else 1)' "$1" "$2"; then
    echo "ok: $3"
  else
    echo "FAIL: $3"; echo "  expected: $2"; echo "  got: $1"; exit 1
  fi
}
guard_locked() { [ -f "$1" ] && /usr/bin/python3 - "$1" <<'PY'
import json, sys, datetime
g = json.load(open(sys.argv[1]))
exp = datetime.datetime.fromisoformat(g["expires_at"].replace("Z", "+00:00"))
sys.exit(0 if exp > datetime.datetime.now(datetime.timezone.utc) else 1)
PY
}
expect() { # expect <description> <command...>: fails the script unless the command succeeds
  local desc=$1; shift
  if "$@"; then echo "ok: $desc"; else echo "FAIL: $desc"; exit 1; fi
}
not() { ! "$@"; }
old_lock() { # a guard locked two hours ago for three hours, so that a 15m window is evaluable
  /usr/bin/python3 - "$1" <<'PY'
import json, sys, datetime
now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
f = lambda t: t.strftime("%Y-%m-%dT%H:%M:%SZ")
json.dump({"id": "0123456789abcdef", "locked_at": f(now - datetime.timedelta(hours=2)),
           "expires_at": f(now + datetime.timedelta(hours=1)), "owner": "test@ci", "reason": "rollback 41",
           "window_minutes": 180}, open(sys.argv[1], "w"))
PY
  chmod 600 "$1"
}

# --- qos_guard_release
g="$out/release.guard"; old_lock "$g"
r=$(run qos_guard_release "qos_guard_path=$g" "prom_url=$prom" "loki_url=$loki" job=hot)
check "$r" 'r["status"] == "failed" and a["qos_release_stable"] is False and a["qos_release_unlocked"] is False and a["qos_release_status"] == "unstable"' "release refused while the 5xx ratio is too high, artifacts published"
expect "the guard stays locked" guard_locked "$g"
r=$(run qos_guard_release "qos_guard_path=$g" "prom_url=$prom" "loki_url=$loki" job=threader)
check "$r" 'r["status"] == "successful" and a["qos_release_stable"] is True and a["qos_release_unlocked"] is True' "release granted when the SLOs hold"
expect "the guard is unlocked" not guard_locked "$g"

# --- promo_with_guards
g="$out/promo.guard"; marker="$out/promoted"
old_lock "$g"
r=$(run promo_with_guards "qos_guard_path=$g" "prometheus_url=$prom" "loki_url=$loki" "promotion_command=touch $marker")
check "$r" 'r["status"] == "failed"' "promotion refused while the guard is locked"
expect "the promotion did not run" test ! -e "$marker"
rm -f "$g" "$g.audit.jsonl"
r=$(run promo_with_guards "qos_guard_path=$g" "prometheus_url=$prom" "loki_url=$loki" threader_job=hot "promotion_command=touch $marker")
check "$r" 'r["status"] == "failed"' "promotion refused while the current metrics are bad"
expect "the promotion did not run" test ! -e "$marker"
r=$(run promo_with_guards "qos_guard_path=$g" "prometheus_url=$prom" "loki_url=$loki" "promotion_command=touch $marker")
check "$r" 'r["status"] == "successful" and a["promotion_status"] == "SUCCESS" and a["qos_guard_locked"] is True' "promotion done, guard locked after it"
expect "the promotion ran" test -e "$marker"
expect "the guard is locked for the stability window" guard_locked "$g"

# --- auto_rollback_on_failure
g="$out/rollback.guard"
r=$(run auto_rollback_on_failure "qos_guard_path=$g" "rollback_command=true" qos_guard_window=20)
check "$r" 'r["status"] == "successful" and a["rollback_status"] == "SUCCESS" and a["qos_guard_locked"] is True and a["qos_guard_remaining_seconds"] > 1100' "rollback succeeded, guard locked, artifacts published"
rm -f "$g" "$g.audit.jsonl"
r=$(run auto_rollback_on_failure "qos_guard_path=$g" "rollback_command=sh -c 'echo Authentication failed >&2; exit 1'")
check "$r" 'r["status"] == "failed" and a["rollback_status"] == "FAILED" and "authentication_error" in a["rollback_error"]' "rollback failure reported with its error, artifacts published"
expect "the guard is locked after the failed rollback" guard_locked "$g"
rm -f "$g" "$g.audit.jsonl"
r=$(run auto_rollback_on_failure "qos_guard_path=$g" "rollback_tasks_file=$here/tasks/rollback_tasks.yml" \
  "rollback_counter=$out/rollback.count" 'rollback_retry={"base_delay": 0.1, "max_attempts": 3}')
check "$r" 'r["status"] == "successful" and a["rollback_status"] == "SUCCESS" and a["retry_attempt_count"] == 2 and a["retry_operation_success"] is True' "rollback tasks file retried by the role, guard locked"
expect "the guard is locked after the retried rollback" guard_locked "$g"
# --- the fleet's guard in etcd (resilience_store): a rollback job on one execution node locks it,
# a promotion job on another is refused; no local guard file is written.
/usr/bin/python3 "$utils/etcd_member.py" serve --data-dir "$out/etcd" --url-file "$out/etcd_url" &
etcd=$!
trap 'kill "$etcd" 2>/dev/null; wait "$etcd" 2>/dev/null; /usr/bin/python3 "$utils/slo_backends.py" stop "$backends" >/dev/null' EXIT
for _ in $(seq 300); do [ -s "$out/etcd_url" ] && break; sleep 0.1; done
etcd_url=$(cat "$out/etcd_url")
store="{\"store\": \"etcd\", \"etcd_endpoints\": [\"$etcd_url\"], \"etcd_prefix\": \"/it-playbooks/\"}"
g="$out/fleet/rollback.guard"; marker="$out/promoted-fleet"
r=$(run auto_rollback_on_failure "qos_guard_path=$g" "rollback_command=true" "resilience_store=$store")
check "$r" 'r["status"] == "successful" and a["rollback_status"] == "SUCCESS" and a["qos_guard_locked"] is True' "rollback on etcd: guard locked, artifacts published"
expect "no local guard file with the etcd store" test ! -e "$g"
expect "the guard is a key in etcd" test -n "$(/usr/bin/python3 "$utils/etcd_member.py" get "$etcd_url" "/it-playbooks/state$g")"
r=$(run promo_with_guards "qos_guard_path=$g" "prometheus_url=$prom" "loki_url=$loki" "promotion_command=touch $marker" "resilience_store=$store")
check "$r" 'r["status"] == "failed" and any("locked" in m for m in r["failures"])' "promotion on etcd refused while the fleet's guard is locked"
expect "the promotion did not run" test ! -e "$marker"
r=$(run promo_with_guards "qos_guard_path=$g" "prometheus_url=$prom" "loki_url=$loki" "promotion_command=touch $marker")
check "$r" 'r["status"] == "successful"' "the same path in a local file is another guard"
echo "playbooks: all cases passed"
