#!/usr/bin/env bash
# AAP artifacts of resilience.ops.retry_manager used as a task, without the role, through
# ansible-runner (artifact_data of the final stats event is what AAP stores): on success, in a
# session, on failure (dropped by ansible-core unless failed_when keeps the task from failing), and
# the role's own artifacts, published once.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
utils="$here/../../utils"
inventory="$here/../../inventory"
state="$OUTPUT_DIR/artifacts_state"
mkdir -p "$state/success" "$state/session" "$state/role"

echo "--- the module alone, success after two retries"
out=$("$utils/runner_artifacts.py" "$here/module_success.yml" "$inventory" "state_dir=$state/success")
echo "$out"
/usr/bin/python3 - "$out" "$state/success/created.json" <<'PY'
import json, sys
res, created = json.loads(sys.argv[1]), json.load(open(sys.argv[2]))
art = res["artifact_data"]
assert res["status"] == "successful", res
want = {"retry_current_operation": "vmware_vm_create", "retry_operation_id": created["operation_id"],
        "retry_operation_status": "completed", "retry_attempt_count": 3,
        "retry_execution_time": created["execution_time"], "retry_operation_success": True}
for k, v in want.items():
    assert art.get(k) == v, (k, art.get(k), v)
assert art["retry_execution_time"] >= 0.3, art  # two waits of 0.1 and 0.2 s
assert art["retry_timestamp"].endswith("Z") and len(art["retry_timestamp"]) == 20, art
assert "retry_session_id" not in art, ("no session: no session id", art)
assert len(json.dumps(art)) < 1024, ("bounded", art)
assert res["stats_tasks"] == ["Create a VM that answers on the third attempt"], res["stats_tasks"]
print("module artifacts on success: ok")
PY

echo "--- the module alone, in a retry session"
out=$("$utils/runner_artifacts.py" "$here/module_session.yml" "$inventory" "state_dir=$state/session")
echo "$out"
PYTHONPATH="$utils" /usr/bin/python3 - "$out" "$state/session" <<'PY'
import glob, json, os, sys
import retry_session
res, state = json.loads(sys.argv[1]), sys.argv[2]
art = res["artifact_data"]
configured = json.load(open(os.path.join(state, "configured.json")))
files = glob.glob(os.path.join(state, "retry_session_retry_*.json"))
assert len(files) == 1, files
session = retry_session.only(state)
assert res["status"] == "successful", res
assert art["retry_session_id"] == session["session_id"] == configured["session_id"], (art, session["session_id"])
assert art["retry_operation_id"] == session["operations"][0]["operation_id"], (art, session["operations"])
assert art["retry_operation_status"] == "completed" and art["retry_attempt_count"] == 1, art
print("module artifacts in a session: ok")
PY

echo "--- the module alone, failing: a failed task loses its artifacts"
out=$("$utils/runner_artifacts.py" "$here/module_failure.yml" "$inventory")
echo "$out"
/usr/bin/python3 - "$out" <<'PY'
import json, sys
res = json.loads(sys.argv[1])
assert res["status"] == "failed", res
assert res["stats_tasks"] == ["Log in with a wrong password"], ("the module returned them", res["stats_tasks"])
assert not [k for k in res["artifact_data"] if k.startswith("retry_")], ("ansible-core drops them", res["artifact_data"])
assert "authentication_error" in res["failures"][0], res["failures"]
print("module artifacts of a failed task are dropped by ansible-core: as documented")
PY

echo "--- the module alone, failing, with failed_when keeping the artifacts"
out=$("$utils/runner_artifacts.py" "$here/module_failure_kept.yml" "$inventory")
echo "$out"
/usr/bin/python3 - "$out" <<'PY'
import json, sys
res = json.loads(sys.argv[1])
art = res["artifact_data"]
assert res["status"] == "failed", ("the fail task still fails the job", res)
assert art.get("retry_operation_status") == "failed" and art.get("retry_operation_success") is False, art
assert art["retry_attempt_count"] == 1 and art["retry_current_operation"] == "vmware_login", ("authentication fails at once", art)
assert art["retry_operation_id"].startswith("vmware_login_"), art
assert res["failures"] == [res["failures"][0]] and "authentication_error" in res["failures"][0], res["failures"]
print("module artifacts on failure with failed_when: ok")
PY

echo "--- the role running a command: one set of artifacts, from the role"
out=$("$utils/runner_artifacts.py" "$here/role_command.yml" "$inventory" "state_dir=$state/role")
echo "$out"
PYTHONPATH="$utils" /usr/bin/python3 - "$out" "$state/role" <<'PY'
import glob, json, os, sys
import retry_session
res, state = json.loads(sys.argv[1]), sys.argv[2]
art = res["artifact_data"]
assert res["status"] == "successful", res
tasks = res["stats_tasks"]
assert tasks and all(t.startswith("Publish ") for t in tasks), ("only the role's set_stats tasks publish, not its module run", tasks)
assert tasks[0].startswith("Publish the AAP artifacts"), tasks
session = retry_session.only(state)
assert art["retry_session_id"] == session["session_id"], art
assert art["retry_operation_id"] == session["operations"][0]["operation_id"], (art, session["operations"])
assert art["retry_operation_success"] is True and "retry_session_statistics" in art, art
print("role artifacts, published once: ok")
PY
