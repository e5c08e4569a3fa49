#!/usr/bin/env bash
# The qos_guard role: tasks/main.yml (lock, status, unlock, argument specs), then its release with
# every setting in the inventory, against a real Prometheus and the Loki stand-in
# (tests/integration/utils/slo_backends.py, started here and stopped on exit):
#   - the prefixed names (qos_guard_prometheus_url, ...) take effect, without a deprecation warning;
#   - the reference's unprefixed names (prometheus_url, ...) still take effect, each with a
#     deprecation warning;
#   - with both, the prefixed names win and the unprefixed ones are not warned about.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

# tasks/main.yml first: ansible-test runs only runme.sh when a target has both.
echo "--- tasks/main.yml"
ansible-playbook -i "$here/../../inventory" "$here/../../utils/role_target.yml" \
  -e target=qos_guard_role -e "output_dir=$OUTPUT_DIR" "$@"

utils="$here/../../utils"
out="$OUTPUT_DIR/qos_guard_role"
rm -rf "$out"
mkdir -p "$out"
chmod 0700 "$out"
backends="$out/backends"
trap '/usr/bin/python3 "$utils/slo_backends.py" stop "$backends" >/dev/null' EXIT
info=$(/usr/bin/python3 "$utils/slo_backends.py" start "$backends")
prom=$(/usr/bin/python3 -c 'import json, sys; print(json.loads(sys.argv[1])["prom_url"])' "$info")
loki=$(/usr/bin/python3 -c 'import json, sys; print(json.loads(sys.argv[1])["loki_url"])' "$info")
# ansible-test turns deprecation warnings off; they are what is checked here.
export ANSIBLE_DEPRECATION_WARNINGS=true

old_lock() { # a guard locked 30 minutes ago for an hour: older than any window used here
  printf '{"id": "feedfacecafebeef", "locked_at": "%s", "expires_at": "%s", "owner": "ci@runner", "reason": "rollback", "window_minutes": 60}\n' \
    "$(date -u -d '-30 min' +%Y-%m-%dT%H:%M:%SZ)" "$(date -u -d '+30 min' +%Y-%m-%dT%H:%M:%SZ)" > "$1"
  chmod 0600 "$1"
}

# Job "hot" has a 5xx ratio of 0.05, over the default 0.01: the release holds only with the
# inventory's threshold (0.06), job and URLs.
expected() { # expected <guard path>
  cat <<YAML
expected:
  window: 20m
  job: hot
  path: $1
  thresholds: [0.06, 0.99, 2.0]
YAML
}
prefixed="qos_guard_prometheus_url: $prom
qos_guard_loki_url: $loki
qos_guard_job: hot
qos_guard_max_5xx_ratio: 0.06
qos_guard_min_health_ratio: 0.99
qos_guard_max_error_logs_per_min: 2
qos_guard_stability_window: 20m"
unprefixed="prometheus_url: $prom
loki_url: $loki
threader_job: hot
max_5xx_ratio: 0.06
min_health_ratio: 0.99
max_error_logs_per_min: 2
stability_window: 20m"
wrong="prometheus_url: http://127.0.0.1:9
loki_url: http://127.0.0.1:9
threader_job: nothing
max_5xx_ratio: 0.0001
min_health_ratio: 1
max_error_logs_per_min: 0
stability_window: 1m"
old_names=(prometheus_url loki_url threader_job max_5xx_ratio min_health_ratio max_error_logs_per_min stability_window)

release() { # release <case> <group_vars text>: runs release_role.yml with that inventory, output in $out/<case>.log
  local inv="$out/$1/inventory"
  mkdir -p "$inv/group_vars"
  cp "$here/../../inventory" "$inv/hosts"
  old_lock "$out/$1/qos.guard"
  { echo "---"; echo "qos_guard_path: $out/$1/qos.guard"; echo "$2"; expected "$out/$1/qos.guard"; } > "$inv/group_vars/testgroup.yml"
  if ! ansible-playbook -i "$inv" "$here/release_role.yml" > "$out/$1.log" 2>&1; then
    cat "$out/$1.log"; echo "FAIL: $1: the release through the role failed"; exit 1
  fi
  [ ! -e "$out/$1/qos.guard" ] || { echo "FAIL: $1: the guard is still there"; exit 1; }
}
deprecated() { # deprecated <case> <name>: whether the run warned that <name> is deprecated
  tr -s ' \n' ' ' < "$out/$1.log" | grep -q "DEPRECATION WARNING\]: qos_guard role: the variable $2 is deprecated, set"
}

release prefixed "$prefixed"
for n in "${old_names[@]}"; do
  if deprecated prefixed "$n"; then cat "$out/prefixed.log"; echo "FAIL: prefixed: $n warned about"; exit 1; fi
done
echo "ok: the prefixed names in group_vars take effect, without deprecation warnings"

release unprefixed "$unprefixed"
for n in "${old_names[@]}"; do
  deprecated unprefixed "$n" || { cat "$out/unprefixed.log"; echo "FAIL: unprefixed: no deprecation warning for $n"; exit 1; }
done
echo "ok: the reference's names in group_vars take effect, each with a deprecation warning"

release both "$prefixed
$wrong"
for n in "${old_names[@]}"; do
  if deprecated both "$n"; then cat "$out/both.log"; echo "FAIL: both: $n warned about"; exit 1; fi
done
echo "ok: with both, the prefixed names win and the unprefixed ones are not warned about"
