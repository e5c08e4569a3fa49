#!/usr/bin/env bash
# AAP artifacts: the guard state published by qos_guard must appear in ansible-runner's artifact_data.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

# tasks/main.yml first: ansible-test runs only runme.sh when a target has both.
echo "--- tasks/main.yml"
ansible-playbook -i "$here/../../inventory" "$here/../../utils/role_target.yml" \
  -e target=qos_guard -e "output_dir=$OUTPUT_DIR" "$@"

utils="$here/../../utils"
out=$("$utils/runner_artifacts.py" "$here/runner_playbook.yml" "$here/../../inventory" "guard=$OUTPUT_DIR/runner/qos.guard")
echo "$out"
/usr/bin/python3 - "$out" <<'PY'
import json, sys
res = json.loads(sys.argv[1])
art = res["artifact_data"]
assert res["status"] == "successful", res
assert art.get("qos_guard_locked") is True, art
assert len(art.get("qos_guard_lock_id", "")) == 16, art
assert art.get("qos_guard_reason") == "artifact test", art
assert art.get("qos_guard_remaining_seconds", 0) > 500, art
print("artifacts: ok")
PY

# ansible-doc shows the module's documentation from the installed collection.
doc=$(ansible-doc resilience.ops.qos_guard)
for want in "fail_if_locked" "lock_id" "check_mode" "remaining_seconds" "EXAMPLES"; do
  grep -q "$want" <<<"$doc" || { echo "ansible-doc output lacks $want"; exit 1; }
done
echo "ansible-doc: ok"
