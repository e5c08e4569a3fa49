#!/usr/bin/python3
"""Run a playbook through ansible-runner, the way AAP runs a job template, and keep what the tests
look at: the run's status, each task's last result by task name (with invocation.module_args, the
arguments the module received), the AAP artifacts and the stdout (warnings included).

Import it (tests/integration/utils on sys.path), or run it:
  runner_play.py <playbook path or resilience.ops.name> <inventory> [key=value ...]
which prints {"status", "results", "artifact_data", "stdout"} as JSON. A value that starts with { or
[ is JSON. Runs under Debian's /usr/bin/python3, which sees python3-ansible-runner.
"""

import json
import os
import sys
import tempfile

import ansible_runner


def run_playbook(playbook, inventory, extravars=None, env=None):
    """Returns (status, results, artifact_data, stdout); results maps each task's name to its last
    result, with "_event" the runner event (runner_on_ok, runner_on_failed, runner_on_skipped)."""
    if os.path.exists(playbook):  # a path; otherwise a collection playbook such as resilience.ops.x
        playbook = os.path.abspath(playbook)
    envvars = {k: v for k, v in os.environ.items() if k.startswith("ANSIBLE_")}
    envvars.update(env or {})
    with tempfile.TemporaryDirectory() as pdd:
        r = ansible_runner.run(private_data_dir=pdd, playbook=playbook, inventory=os.path.abspath(inventory),
                               extravars=extravars or {}, envvars=envvars, quiet=True)
        results, artifacts = {}, {}
        for e in r.events:
            d = e.get("event_data", {})
            if e.get("event") in ("runner_on_ok", "runner_on_failed", "runner_on_skipped"):
                results[d["task"]] = dict(d.get("res") or {}, _event=e["event"])
            elif e.get("event") == "playbook_on_stats":
                artifacts = d.get("artifact_data", {}) or {}
        return r.status, results, artifacts, r.stdout.read()


def task_result(results, task):
    """The result of the task named task, or whose name starts with it (names may hold templates)."""
    for name, res in results.items():
        if name == task or name.startswith(task):
            return res
    return {}


def main():
    extravars = dict(arg.split("=", 1) for arg in sys.argv[3:])
    for k, v in extravars.items():
        if v.startswith(("{", "[")):
            extravars[k] = json.loads(v)
    status, results, artifacts, stdout = run_playbook(sys.argv[1], sys.argv[2], extravars)
    json.dump({"status": status, "results": results, "artifact_data": artifacts, "stdout": stdout}, sys.stdout)
    print()


if __name__ == "__main__":
    main()
