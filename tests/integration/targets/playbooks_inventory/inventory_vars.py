#!/usr/bin/python3
"""Sets every variable of the collection's playbooks in the inventory and checks that it takes
effect (issue 19, item 2): each case writes an inventory directory with group_vars (and host_vars),
runs the playbook by name through ansible-runner, the way AAP runs a job template, and compares the
arguments the modules received (invocation.module_args of each task's result) and what they did
(the guard on disk, the marker a command wrote) with the inventory's values.

Play vars outrank the inventory: before the fix the playbooks' own defaults won, so every value
below that differs from a default fails on the old playbooks.

usage: inventory_vars.py <backends JSON> <output dir> <inventory file>
Runs under Debian's /usr/bin/python3, which sees python3-ansible-runner.
"""

import json
import os
import shutil
import sys
import time

import yaml

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "utils"))
from runner_play import run_playbook, task_result  # noqa: E402

BACKENDS = json.loads(sys.argv[1])
OUT = sys.argv[2]
HOSTS = sys.argv[3]
PROM, LOKI = BACKENDS["prom_url"], BACKENDS["loki_url"]
failures = []


def check(case, cond, what, got=None):
    if cond:
        print("ok: %s: %s" % (case, what))
    else:
        failures.append("%s: %s (got %r)" % (case, what, got))
        print("FAIL: %s: %s (got %r)" % (case, what, got))


def old_lock(path):
    """A guard locked 30 minutes ago for an hour: older than the windows used here."""
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    now = time.time()
    fmt = lambda t: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))  # noqa: E731
    with open(path, "w") as f:
        json.dump({"id": "0123456789abcdef", "locked_at": fmt(now - 1800), "expires_at": fmt(now + 1800),
                   "owner": "ci@runner", "reason": "rollback 41", "window_minutes": 60}, f)
    os.chmod(path, 0o600)


def run(case, playbook, group_vars, host_vars=None, extravars=None):
    """Runs resilience.ops.<playbook> with an inventory of testhost (group testgroup) and the given
    group_vars and host_vars; returns the run's status and each task's last result by name."""
    inv = os.path.join(OUT, case, "inventory")
    os.makedirs(os.path.join(inv, "group_vars"))
    shutil.copy(HOSTS, os.path.join(inv, "hosts"))
    with open(os.path.join(inv, "group_vars", "testgroup.yml"), "w") as f:
        yaml.safe_dump(group_vars, f)
    if host_vars:
        os.makedirs(os.path.join(inv, "host_vars"))
        with open(os.path.join(inv, "host_vars", "testhost.yml"), "w") as f:
            yaml.safe_dump(host_vars, f)
    # The play's hosts come from extra vars only (a play's hosts are chosen before the inventory's
    # variables are known).
    ev = {"promotion_hosts": "testhost", "qos_guard_hosts": "testhost", "rollback_hosts": "testhost"}
    ev.update(extravars or {})
    status, results, _, stdout = run_playbook("resilience.ops." + playbook, inv, ev)
    with open(os.path.join(OUT, case + ".log"), "w") as f:
        f.write(stdout)
    return status, results, stdout


result = task_result


def args(results, task):
    return result(results, task).get("invocation", {}).get("module_args", {})


def same(got, want):
    """Module arguments as the module echoes them: numbers may come back as strings."""
    if isinstance(want, bool):
        return str(got).lower() == str(want).lower()
    if isinstance(want, (int, float)):
        try:
            return float(got) == float(want)
        except (TypeError, ValueError):
            return False
    return got == want


def check_args(case, results, task, want):
    got = args(results, task)
    for k, v in want.items():
        check(case, same(got.get(k), v), "%s gets %s=%r" % (task, k, v), got.get(k))


def guard_window(path):
    with open(path) as f:
        return json.load(f)["window_minutes"]


# The release's and the guard's settings, as the reference keeps them in group_vars, all different
# from the defaults. Job "hot" has a 5xx ratio of 0.05: the checks pass only with max_5xx_ratio 0.06.
SHARED = {
    "prometheus_url": PROM, "loki_url": LOKI, "threader_job": "hot", "max_5xx_ratio": 0.06,
    "min_health_ratio": 0.99, "max_error_logs_per_min": 2, "stability_window": "20m",
    "resilience_store": {"store": "file"},
}

# --- promo_with_guards, the promotion step a command
case = "promotion"
d = os.path.join(OUT, case)
gv = dict(SHARED, qos_guard_window=45, qos_guard_path=d + "/qos.guard", promotion_operation="promote_v42",
          promotion_use_shell=True, promotion_retry={"max_attempts": 2, "base_delay": 0.5, "max_delay": 7},
          promotion_command="echo promoted > %s/marker && test -n \"$HOME\"" % d,
          window="12m", qos_release_query_timeout="5s")
status, res, _ = run(case, "promo_with_guards", gv)
check(case, status == "successful", "the play succeeds", status)
check_args(case, res, "Refuse to start while the guard window is locked", {"path": d + "/qos.guard", "store": "file"})
check_args(case, res, "Validate the current metrics (5xx ratio, health ratio, error logs)",
           {"prom_url": PROM, "loki_url": LOKI, "job": "hot", "max_5xx_ratio": 0.06, "min_health_ratio": 0.99,
            "max_error_logs_per_min": 2, "window": "20m", "store": "file"})
check_args(case, res, "Run the promotion command with retries",
           {"operation": "promote_v42", "use_shell": True, "max_attempts": 2, "base_delay": 0.5, "max_delay": 7,
            "cmd": gv["promotion_command"], "store": "file"})
check(case, os.path.exists(d + "/marker"), "promotion_command ran, through a shell")
check(case, result(res, "Warn when the release could never release the guard before it expires").get("_event")
      == "runner_on_skipped", "no early-release warning: window 12m + 5s < 45 minutes")
check_args(case, res, "Lock the guard window for the stability window after the promotion",
           {"minutes": 45, "path": d + "/qos.guard", "store": "file"})
check(case, guard_window(d + "/qos.guard") == 45, "the guard is locked for qos_guard_window minutes",
      guard_window(d + "/qos.guard"))

# --- promo_with_guards, the promotion step a tasks file (retried through the role)
case = "promotion_tasks"
d = os.path.join(OUT, case)
os.makedirs(d, mode=0o700)
with open(d + "/promote.yml", "w") as f:
    f.write("- name: Promote\n  ansible.builtin.copy:\n    content: promoted\n    dest: %s/marker\n    mode: '0600'\n" % d)
gv = dict(SHARED, qos_guard_path=d + "/qos.guard", promotion_tasks_file=d + "/promote.yml",
          promotion_retry={"max_attempts": 4, "state_dir": d + "/retry"})
status, res, _ = run(case, "promo_with_guards", gv)
check(case, status == "successful", "the play succeeds", status)
check(case, os.path.exists(d + "/marker"), "promotion_tasks_file ran")
check(case, os.path.isdir(d + "/retry"), "promotion_retry reached the retry_manager role (its state_dir)")

# --- qos_guard_release, with the release playbook's own names
case = "release"
d = os.path.join(OUT, case)
old_lock(d + "/qos.guard")
gv = {"prom_url": PROM, "loki_url": LOKI, "job": "hot", "max_5xx_ratio": 0.06, "min_health_ratio": 0.99,
      "max_error_logs_per_min": 2, "window": "20m", "qos_guard_path": d + "/qos.guard", "qos_release_wait": True,
      "qos_release_wait_timeout": "5m", "qos_release_poll_interval": "2s", "qos_release_query_timeout": "7s",
      "resilience_store": {"store": "file"}}
status, res, _ = run(case, "qos_guard_release", gv)
task = "Check the SLOs and release the guard when they hold, window"
check(case, status == "successful", "the play succeeds", status)
check_args(case, res, task, {"prom_url": PROM, "loki_url": LOKI, "job": "hot", "max_5xx_ratio": 0.06,
                             "min_health_ratio": 0.99, "max_error_logs_per_min": 2, "window": "20m",
                             "path": d + "/qos.guard", "wait": True, "wait_timeout": "5m", "poll_interval": "2s",
                             "query_timeout": "7s", "store": "file"})
check(case, result(res, task).get("unlocked") is True, "the guard is released", result(res, task).get("unlocked"))

# --- qos_guard_release, with the shared names only (prometheus_url, threader_job, stability_window)
case = "release_shared"
d = os.path.join(OUT, case)
old_lock(d + "/qos.guard")
status, res, _ = run(case, "qos_guard_release", dict(SHARED, qos_guard_path=d + "/qos.guard"))
task = "Check the SLOs and release the guard when they hold, window"
check(case, status == "successful", "the play succeeds", status)
check_args(case, res, task, {"prom_url": PROM, "job": "hot", "window": "20m", "max_5xx_ratio": 0.06})
check(case, result(res, task).get("unlocked") is True, "the guard is released", result(res, task).get("unlocked"))

# --- auto_rollback_on_failure, the rollback a command; host_vars win over group_vars
case = "rollback"
d = os.path.join(OUT, case)
os.makedirs(d, mode=0o700)
gv = {"qos_guard_window": 45, "qos_guard_path": d + "/qos.guard", "rollback_operation": "rollback_41",
      "rollback_use_shell": True, "rollback_retry": {"max_attempts": 2, "base_delay": 0.5, "max_delay": 9},
      "rollback_command": "echo rolled back > %s/marker && test -n \"$HOME\"" % d,
      "resilience_store": {"store": "file"}}
status, res, _ = run(case, "auto_rollback_on_failure", gv, host_vars={"qos_guard_window": 50})
check(case, status == "successful", "the play succeeds", status)
check_args(case, res, "Run the rollback command with retries",
           {"operation": "rollback_41", "use_shell": True, "max_attempts": 2, "base_delay": 0.5, "max_delay": 9,
            "store": "file"})
check(case, os.path.exists(d + "/marker"), "rollback_command ran, through a shell")
check_args(case, res, "Lock the guard window after the rollback", {"minutes": 50, "path": d + "/qos.guard"})
check(case, guard_window(d + "/qos.guard") == 50, "host_vars win over group_vars", guard_window(d + "/qos.guard"))

# --- auto_rollback_on_failure, the rollback a tasks file; an extra var (a survey's string) wins
case = "rollback_tasks"
d = os.path.join(OUT, case)
os.makedirs(d, mode=0o700)
with open(d + "/rollback.yml", "w") as f:
    f.write("- name: Roll back\n  ansible.builtin.copy:\n    content: rolled back\n    dest: %s/marker\n    mode: '0600'\n" % d)
gv = {"qos_guard_window": 45, "qos_guard_path": d + "/qos.guard", "rollback_tasks_file": d + "/rollback.yml"}
status, res, _ = run(case, "auto_rollback_on_failure", gv, host_vars={"qos_guard_window": 50},
                     extravars={"qos_guard_window": "55"})
check(case, status == "successful", "the play succeeds", status)
check(case, os.path.exists(d + "/marker"), "rollback_tasks_file ran")
check(case, guard_window(d + "/qos.guard") == 55, "an extra var (a survey answer) wins over the inventory",
      guard_window(d + "/qos.guard"))

if failures:
    sys.exit("playbooks_inventory: %d failed:\n  %s" % (len(failures), "\n  ".join(failures)))
print("playbooks_inventory: all cases passed")
