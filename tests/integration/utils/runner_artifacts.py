#!/usr/bin/python3
"""Run a playbook through ansible-runner, the way AAP runs job templates, and print the artifacts
that AAP would store (artifact_data of the final stats event), with the messages of the failed
tasks that were not ignored and the names of the tasks whose results carried ansible_stats
(stats_tasks, in order, failed ones too), as one JSON object.

usage: runner_artifacts.py <playbook path or resilience.ops.name> <inventory> [key=value ...]
A value that starts with { or [ is JSON.
Runs under Debian's /usr/bin/python3, which sees python3-ansible-runner.
"""

import json
import os
import sys
import tempfile

import ansible_runner


def main():
    playbook, inventory = sys.argv[1], os.path.abspath(sys.argv[2])
    if os.path.exists(playbook):  # a path; otherwise a collection playbook such as resilience.ops.x
        playbook = os.path.abspath(playbook)
    extravars = dict(arg.split("=", 1) for arg in sys.argv[3:])
    for k, v in extravars.items():  # a dictionary or a list, as a job template's extra vars give it
        if v.startswith(("{", "[")):
            extravars[k] = json.loads(v)
    with tempfile.TemporaryDirectory() as pdd:
        env = {k: v for k, v in os.environ.items() if k.startswith("ANSIBLE_")}
        r = ansible_runner.run(
            private_data_dir=pdd,
            playbook=playbook,
            inventory=inventory,
            extravars=extravars,
            envvars=env,
            quiet=True,
        )
        artifacts, failures, stats_tasks = {}, [], []
        for ev in r.events:
            data = ev.get("event_data", {})
            if ev.get("event") == "playbook_on_stats":
                artifacts = data.get("artifact_data", {}) or {}
            elif ev.get("event") == "runner_on_failed" and not data.get("ignore_errors"):
                failures.append((data.get("res") or {}).get("msg", ""))
            if ev.get("event") in ("runner_on_ok", "runner_on_failed") and "ansible_stats" in (data.get("res") or {}):
                stats_tasks.append(data.get("task", ""))
        json.dump({"status": r.status, "rc": r.rc, "artifact_data": artifacts, "failures": failures,
                   "stats_tasks": stats_tasks}, sys.stdout)
        print()


if __name__ == "__main__":
    main()
