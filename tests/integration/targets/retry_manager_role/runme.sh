#!/usr/bin/env bash
# The retry_manager role against 20 local hosts with 20 forks (one session, 20 operations,
# consistent statistics), and the AAP artifacts through ansible-runner, on success and on failure,
# and their size bound when 12 and 20 hosts fail.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

# tasks/main.yml first: ansible-test runs only runme.sh when a target has both.
echo "--- tasks/main.yml"
ansible-playbook -i "$here/../../inventory" "$here/../../utils/role_target.yml" \
  -e target=retry_manager_role -e "output_dir=$OUTPUT_DIR" "$@"

utils="$here/../../utils"
state="$OUTPUT_DIR/runme_state"

echo "--- 20 hosts, forks 20, through ansible-runner"
out=$(ANSIBLE_FORKS=20 "$utils/runner_artifacts.py" "$here/fleet.yml" "$here/inventory.fleet" "state_dir=$state/fleet")
PYTHONPATH="$utils" /usr/bin/python3 - "$out" "$state/fleet" <<'PY'
import glob, json, os, sys
import retry_session
res, state = json.loads(sys.argv[1]), sys.argv[2]
assert res["status"] == "successful", res
art = res["artifact_data"]
files = glob.glob(os.path.join(state, "retry_session_retry_*.json"))
assert len(files) == 1, ("one session for the fleet", files)
session = retry_session.only(state)  # the head and the hosts' records, as the documented layout has them
ops = session["operations"]
fails = {"host%02d" % i: i % 3 for i in range(1, 21)}
assert sorted(op["host"] for op in ops) == sorted(fails), [op["host"] for op in ops]
for op in ops:
    assert op["status"] == "completed" and op["attempt_count"] == fails[op["host"]] + 1, op
    assert op["session_id"] == session["session_id"], op
    delays = [a["delay_before_retry"] for a in op["attempts"][:-1]]
    assert delays == sorted(delays), ("increasing delays", op["host"], delays)
retried = sum(1 for n in fails.values() if n)
want = {"total_operations": 20, "successful_operations": 20, "failed_operations": 0, "running_operations": 0,
        "retried_operations": retried, "total_retry_attempts": sum(fails.values()), "max_retry_count": 2,
        "success_rate": 100.0, "failure_rate": 0.0, "retry_rate": round(100 * retried / 20, 2),
        "average_retry_count": round(sum(fails.values()) / 20, 2)}
final = session["final_statistics"]
for k, v in want.items():
    assert final[k] == v, (k, final[k], v)
assert session["session_status"] == "completed" and session["call_stack_session_id"] == "cs_fleet", session["session_status"]
# The artifact of the finalize handler holds the complete statistics of the session.
stats = art["retry_session_statistics"]
assert art["retry_session_id"] == session["session_id"], art
assert stats["session_id"] == session["session_id"] and stats["final_statistics"]["total_operations"] == 20, stats
for k, v in want.items():
    assert stats["final_statistics"][k] == v, (k, stats["final_statistics"][k], v)
print("fleet: one session %s, 20 operations, %d retried, %d retries: ok" % (session["session_id"], retried, sum(fails.values())))
PY

echo "--- AAP artifacts of a failing fleet: the same size with 12 and 20 failed hosts"
out12=$(ANSIBLE_FORKS=20 "$utils/runner_artifacts.py" "$here/fleet_failure.yml" "$here/inventory.fleet" \
  "state_dir=$state/fleet_failure12" "fleet_hosts=fleet[0:11]")
out20=$(ANSIBLE_FORKS=20 "$utils/runner_artifacts.py" "$here/fleet_failure.yml" "$here/inventory.fleet" \
  "state_dir=$state/fleet_failure20")
PYTHONPATH="$utils" /usr/bin/python3 - "$out12" "$out20" "$state/fleet_failure20" <<'PY'
import json, sys
import retry_session
runs = {12: json.loads(sys.argv[1]), 20: json.loads(sys.argv[2])}
session = retry_session.only(sys.argv[3])
assert len(session["operations"]) == 20 and all(op["status"] == "failed" for op in session["operations"]), session["operations"]
sizes = {}
for n, res in runs.items():
    assert res["status"] == "failed", ("every host fails", n, res["status"])
    art = res["artifact_data"]
    data = art["retry_session_data"]
    assert data["hosts"] == n and data["operations"] == n and data["failure_count"] == n, (n, data)
    failures = data["failures"]
    assert len(failures) == 10, ("the 10 oldest failures", n, len(failures))
    assert [f["timestamp"] for f in failures] == sorted(f["timestamp"] for f in failures), ("oldest first", failures)
    assert all(f["error_type"] == "authentication_error" and f["host"].startswith("host") for f in failures), failures
    assert art["retry_session_statistics"]["final_statistics"]["failed_operations"] == n, art["retry_session_statistics"]
    sizes[n] = len(json.dumps(data)), len(json.dumps(art))
# Only the digits of counts, durations and times may differ between the two.
assert abs(sizes[20][0] - sizes[12][0]) <= 16, ("retry_session_data grew with the fleet", sizes)
assert abs(sizes[20][1] - sizes[12][1]) <= 48 and sizes[20][1] < 8192, ("the artifacts grew with the fleet", sizes)
print("artifacts of a failing fleet: retry_session_data %d bytes at 12 hosts, %d at 20; all artifacts %d and %d: ok"
      % (sizes[12][0], sizes[20][0], sizes[12][1], sizes[20][1]))
PY

echo "--- AAP artifacts of a successful run"
out=$("$utils/runner_artifacts.py" "$here/runner_success.yml" "$here/../../inventory" "state_dir=$state/success")
echo "$out"
/usr/bin/python3 - "$out" <<'PY'
import json, sys
res = json.loads(sys.argv[1])
art = res["artifact_data"]
assert res["status"] == "successful", res
keys = ["retry_session_id", "retry_current_operation", "retry_operation_id", "retry_operation_status", "retry_attempt_count",
        "retry_execution_time", "retry_session_statistics", "retry_operation_success", "retry_timestamp"]
missing = [k for k in keys if k not in art]
assert not missing, ("missing artifacts", missing, art)
assert art["retry_current_operation"] == "vmware_vm_create", art
assert art["retry_operation_status"] == "completed" and art["retry_operation_success"] is True, art
assert art["retry_attempt_count"] == 3 and art["retry_execution_time"] > 0.2, art
assert art["retry_operation_id"].startswith("vmware_vm_create_"), art
assert art["retry_session_statistics"]["final_statistics"]["successful_operations"] == 1, art
print("artifacts on success: ok")
PY

echo "--- AAP artifacts of a failed run"
out=$("$utils/runner_artifacts.py" "$here/runner_failure.yml" "$here/../../inventory" "state_dir=$state/failure")
echo "$out"
/usr/bin/python3 - "$out" <<'PY'
import json, sys
res = json.loads(sys.argv[1])
art = res["artifact_data"]
assert res["status"] == "failed", ("the play must fail", res)
assert art.get("retry_operation_status") == "failed" and art.get("retry_operation_success") is False, art
assert art["retry_attempt_count"] == 1 and art["retry_current_operation"] == "vmware_login", art
assert art["retry_session_statistics"]["final_statistics"]["failed_operations"] == 1, art
assert art["retry_session_id"].startswith("retry_") and art["retry_timestamp"].endswith("Z"), art
print("artifacts on failure: ok")
PY
