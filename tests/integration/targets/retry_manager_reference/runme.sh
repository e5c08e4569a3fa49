#!/usr/bin/env bash
# The retry_manager role called exactly as the reference calls it (issue 19, item 1): the short name
# retry_manager under `collections: [resilience.ops]`, only retry_current_operation and
# retry_component_context. The role runs <retry_operations_dir>/<retry_current_operation>.yml,
# retry_operations_dir defaulting to retry_operations/ beside the playbook; when that file does not
# exist the failure names the path and the other four ways. The playbook is run from a directory
# outside the collection (inside it, the collection would be the default one and the short name
# would resolve without `collections`).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
utils="$here/../../utils"
inv="$here/../../inventory"
out="$OUTPUT_DIR/reference"
rm -rf "$out"
mkdir -p "$out"
project=$(mktemp -d /tmp/retry-reference.XXXXXX)
trap 'rm -rf "$project"' EXIT
cp -r "$here/reference.yml" "$here/retry_operations" "$project/"

echo "--- the reference call, through ansible-runner: the conventional tasks file runs, retried once"
r=$("$utils/runner_artifacts.py" "$project/reference.yml" "$inv" "state_dir=$out/state")
echo "$r"
/usr/bin/python3 - "$r" "$out/state" <<'PY'
import json, os, sys
res, state = json.loads(sys.argv[1]), sys.argv[2]
art = res["artifact_data"]
assert res["status"] == "successful", res
assert art["retry_current_operation"] == "vmware_vm_create", art
assert art["retry_operation_success"] is True and art["retry_operation_status"] == "completed", art
assert art["retry_attempt_count"] == 2, ("failed once with a connection timeout, then created", art)
vm = os.path.join(state, "ref-vm-01")
assert open(vm).read().strip() == "rhel9-template in dc1", "the tasks file saw retry_component_context"
print("reference call: ok")
PY

fails() { # fails <description> <expected text>... -- <ansible-playbook args>: the run must fail and print every text
  local desc=$1; shift
  local want=()
  while [ "$1" != -- ]; do want+=("$1"); shift; done
  shift
  local log="$out/fail.log" rc=0
  ansible-playbook -i "$inv" "$@" >"$log" 2>&1 || rc=$?
  [ "$rc" -ne 0 ] || { cat "$log"; echo "FAIL: $desc: the play succeeded"; exit 1; }
  for w in "${want[@]}"; do
    grep -qF -- "$w" "$log" || { cat "$log"; echo "FAIL: $desc: no \"$w\" in the output"; exit 1; }
  done
  echo "ok: $desc"
}

fails "no tasks file for the operation: the message names the path and the four other ways" \
  "$project/retry_operations/vmware_vm_delete.yml" retry_operations_dir retry_tasks_file retry_command retry_argv retry_url -- \
  "$project/reference.yml" -e "state_dir=$out/state" -e operation=vmware_vm_delete
fails "an operation name that is not a file name is refused before any path is built" \
  "names no" "tasks file" -- "$project/reference.yml" -e "state_dir=$out/state" -e operation=../../etc/x
[ "$(cat "$out/state/create.count")" = 2 ] || { echo "FAIL: a refused call ran the tasks file"; exit 1; }

echo "--- retry_operations_dir elsewhere (an extra var, as a survey gives it)"
mkdir -p "$out/ops"
cp "$here/retry_operations/vmware_vm_create.yml" "$out/ops/network_configuration.yml"
rm -rf "$out/state2"
ansible-playbook -i "$inv" "$project/reference.yml" -e "state_dir=$out/state2" -e operation=network_configuration \
  -e "retry_operations_dir=$out/ops" >"$out/dir.log" 2>&1 || { cat "$out/dir.log"; echo "FAIL: retry_operations_dir"; exit 1; }
grep -q "completed after 2 attempts" "$out/dir.log" || { cat "$out/dir.log"; echo "FAIL: retry_operations_dir"; exit 1; }
echo "ok: retry_operations_dir"

echo "--- without collections: [resilience.ops] the short name is unknown outside the collection"
sed '/^  collections:/,/^    - resilience.ops$/d' "$project/reference.yml" > "$project/no_collections.yml"
fails "the short name needs the play's collections" "retry_manager" "was not found" -- \
  "$project/no_collections.yml" -e "state_dir=$out/state3"
echo "retry_manager_reference: all cases passed"
