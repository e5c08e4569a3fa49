#!/usr/bin/env bash
# AAP artifacts: the decision published by qos_guard_release must appear in ansible-runner's
# artifact_data, for a release and for an unstable report (report_only). Starts its own Prometheus
# and Loki stand-in (tests/integration/utils/slo_backends.py) and stops them on exit.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

# tasks/main.yml first: ansible-test runs only runme.sh when a target has both.
echo "--- tasks/main.yml"
ansible-playbook -i "$here/../../inventory" "$here/../../utils/role_target.yml" \
  -e target=qos_guard_release -e "output_dir=$OUTPUT_DIR" "$@"

utils="$here/../../utils"
backends="$OUTPUT_DIR/runner-backends"
token="runner-l0ki-token"
trap '/usr/bin/python3 "$utils/slo_backends.py" stop "$backends" >/dev/null' EXIT
info=$(/usr/bin/python3 "$utils/slo_backends.py" start "$backends" --loki-tenant team-a --loki-token "$token")
prom=$(/usr/bin/python3 -c 'import json, sys; print(json.loads(sys.argv[1])["prom_url"])' "$info")
loki=$(/usr/bin/python3 -c 'import json, sys; print(json.loads(sys.argv[1])["loki_url"])' "$info")

# A guard locked 30 minutes ago, for an hour.
guard="$OUTPUT_DIR/runner/qos.guard"
mkdir -p "$(dirname "$guard")"
chmod 0700 "$(dirname "$guard")"
printf '{"id": "feedfacecafebeef", "locked_at": "%s", "expires_at": "%s", "owner": "ci@runner", "reason": "runner", "window_minutes": 60}\n' \
  "$(date -u -d '-30 min' +%Y-%m-%dT%H:%M:%SZ)" "$(date -u -d '+30 min' +%Y-%m-%dT%H:%M:%SZ)" > "$guard"
chmod 0600 "$guard"

run() {
  "$utils/runner_artifacts.py" "$here/runner_playbook.yml" "$here/../../inventory" \
    "guard=$guard" "prom_url=$prom" "loki_url=$loki" "loki_token=$token" "$@"
}

out=$(run job=hot report_only=true)
echo "$out"
/usr/bin/python3 - "$out" "$token" <<'PY'
import json, sys
res, token = json.loads(sys.argv[1]), sys.argv[2]
art = res["artifact_data"]
assert res["status"] == "successful", res
assert art.get("qos_release_stable") is False, art
assert art.get("qos_release_unlocked") is False, art
assert art.get("qos_release_status") == "unstable", art
checks = {c["name"]: c for c in art["qos_release_checks"]}
assert checks["http_5xx_ratio"]["outcome"] == "fail" and checks["http_5xx_ratio"]["value"] == 0.05, checks
assert token not in sys.argv[1]
print("artifacts of an unstable report: ok")
PY

out=$(run job=threader report_only=false)
echo "$out"
/usr/bin/python3 - "$out" <<'PY'
import json, sys
res = json.loads(sys.argv[1])
art = res["artifact_data"]
assert res["status"] == "successful", res
assert art.get("qos_release_stable") is True, art
assert art.get("qos_release_unlocked") is True, art
assert art.get("qos_release_status") == "stable", art
assert [c["name"] for c in art["qos_release_checks"]] == ["http_5xx_ratio", "health_ratio", "error_log_rate"], art
assert [c["outcome"] for c in art["qos_release_checks"]] == ["pass"] * 3, art
print("artifacts of a release: ok")
PY
[ ! -e "$guard" ] || { echo "the guard was not released"; exit 1; }

# ansible-doc shows the module's documentation from the installed collection.
doc=$(ansible-doc resilience.ops.qos_guard_release)
for want in "report_only" "wait_timeout" "loki_tenant" "check_mode" "avg_over_time(job:http_5xx_ratio_1m" \
  "count_over_time" "would_unlock" "EXAMPLES"; do
  grep -qF "$want" <<<"$doc" || { echo "ansible-doc output lacks $want"; exit 1; }
done
echo "ansible-doc: ok"

# The command-line tool from the tarball's build: exit 0 when stable, 1 when unstable.
bin="${ANSIBLE_COLLECTIONS_PATH:-}/ansible_collections/resilience/ops/plugins/modules/__bin/qos_guard_release_linux_amd64"
if [ -x "$bin" ] && [ "$(uname -m)" = x86_64 ]; then
  export PROMETHEUS_URL=$prom LOKI_URL=$loki LOKI_TENANT=team-a LOKI_BEARER_TOKEN=$token QOS_GUARD_FILE=$guard
  "$bin"
  echo "cli stable: exit 0"
  set +e
  THREADER_JOB=hot "$bin"
  rc=$?
  set -e
  [ "$rc" -eq 1 ] || { echo "cli unstable: exit $rc, want 1"; exit 1; }
  echo "cli unstable: exit 1"
fi
