#!/usr/bin/python3
"""Issue 19, item 3: the promotion's guard window and the release's stability window, with their
defaults, let the release release the guard before it expires; the reference's 15 minutes and 15m
warn. See runme.sh for the three cases. Every playbook runs by name through ansible-runner, with the
inventory holding only where the servers and the guard are (and, on the short time scale, the
defaults divided by 30).

usage: timing.py <backfilled backends JSON> <live backends JSON> <output dir> <inventory file>
"""

import datetime
import json
import os
import re
import shutil
import sys
import time
import urllib.parse
import urllib.request

import yaml

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "utils"))
from runner_play import run_playbook, task_result  # noqa: E402

BACKFILLED, LIVE = json.loads(sys.argv[1]), json.loads(sys.argv[2])
OUT, HOSTS = sys.argv[3], sys.argv[4]
HOSTS_VARS = {"promotion_hosts": "testhost", "qos_guard_hosts": "testhost"}
RELEASE_TASK = "Check the SLOs and release the guard when they hold, window"
EARLY_WARNING = re.compile(r"qos_guard_window is \d+ minutes, but the release's stability window")
MODULE_WARNING = "the release cannot release it early"
failures = []


def check(case, cond, what, got=None):
    print("%s: %s: %s" % ("ok" if cond else "FAIL", case, what) + ("" if cond else " (got %r)" % (got,)))
    if not cond:
        failures.append("%s: %s" % (case, what))


def run(case, playbook, group_vars, extravars=None):
    inv = os.path.join(OUT, case, "inventory")
    os.makedirs(os.path.join(inv, "group_vars"), exist_ok=True)
    shutil.copy(HOSTS, os.path.join(inv, "hosts"))
    with open(os.path.join(inv, "group_vars", "testgroup.yml"), "w") as f:
        yaml.safe_dump(group_vars, f)
    status, results, _, stdout = run_playbook("resilience.ops." + playbook, inv, dict(HOSTS_VARS, **(extravars or {})))
    with open(os.path.join(OUT, "%s-%s.log" % (case, playbook)), "w") as f:
        f.write(stdout)
    # The warnings the tasks returned, which ansible-playbook shows as [WARNING] (on stdout they are
    # wrapped and may be coloured line by line).
    warnings = [w for r in results.values() for w in r.get("warnings") or []]
    return status, results, " | ".join(warnings)


def when(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


def guard(path):
    with open(path) as f:
        return json.load(f)


def audit(path):
    with open(path + ".audit.jsonl") as f:
        return [json.loads(line) for line in f]


# --- 1. full scale, every default: evaluable 15m after the lock, 15 minutes before it expires
case = "defaults"
path = os.path.join(OUT, case, "qos.guard")
gv = {"prometheus_url": BACKFILLED["prom_url"], "loki_url": BACKFILLED["loki_url"], "qos_guard_path": path}
status, _, out = run(case, "promo_with_guards", gv, {"promotion_command": "true"})
check(case, status == "successful", "the promotion succeeds", status)
g = guard(path)
check(case, g["window_minutes"] == 30, "the promotion locks the guard for the default 30 minutes", g["window_minutes"])
check(case, not EARLY_WARNING.search(out), "the promotion does not warn")
status, res, out = run(case, "qos_guard_release", gv)
r = task_result(res, RELEASE_TASK)
check(case, r.get("status") == "not_yet_evaluable", "the release right after the lock: not yet evaluable", r.get("status"))
evaluable, expires = when(r["evaluable_at"]), when(r["guard"]["expires_at"])
check(case, evaluable - when(g["locked_at"]).replace(microsecond=0) >= datetime.timedelta(minutes=15),
      "the 15m window starts at the lock", (g["locked_at"], r["evaluable_at"]))
check(case, evaluable + datetime.timedelta(seconds=10) < expires,
      "window + one evaluation (10s) end before the guard expires", (r["evaluable_at"], r["guard"]["expires_at"]))
check(case, expires - evaluable >= datetime.timedelta(minutes=14, seconds=50),
      "almost 15 minutes in which the release can release the guard early", expires - evaluable)
check(case, MODULE_WARNING not in out, "the release does not warn")

# --- 2. the reference's settings, 15 minutes and 15m, in group_vars: both playbooks warn
case = "reference"
path = os.path.join(OUT, case, "qos.guard")
gv = {"prometheus_url": BACKFILLED["prom_url"], "loki_url": BACKFILLED["loki_url"], "qos_guard_path": path,
      "qos_guard_window": 15, "stability_window": "15m"}
status, _, out = run(case, "promo_with_guards", gv, {"promotion_command": "true"})
check(case, status == "successful", "the promotion succeeds (the warning does not fail it)", status)
check(case, EARLY_WARNING.search(out) and "910.0 s >= 900 s" in out,
      "the promotion warns: 15m + 10s >= 15 minutes", out)
status, res, out = run(case, "qos_guard_release", gv)
check(case, task_result(res, RELEASE_TASK).get("status") == "not_yet_evaluable", "the release: not yet evaluable")
check(case, MODULE_WARNING in out, "the release warns that it cannot release the guard early", out)

# --- 3. the defaults on a 1/30 time scale, against a live Prometheus: the release releases early
case = "short"
path = os.path.join(OUT, case, "qos.guard")
# 30 minutes -> 1, 15m -> 30s, 10s -> 1s (rounded up), poll 30s -> 1s, wait 30m -> 60s. The release
# runs right after the promotion and waits, as the release node of a workflow does.
gv = {"prometheus_url": LIVE["prom_url"], "loki_url": LIVE["loki_url"], "qos_guard_path": path,
      "qos_guard_window": 1, "stability_window": "30s", "qos_release_query_timeout": "1s",
      "qos_release_poll_interval": "1s", "qos_release_wait_timeout": "60s", "qos_release_wait": True}
# The promotion validates the last 30s: wait until Prometheus has scraped the live series (readiness,
# not a timing assertion).
query = LIVE["prom_url"] + "/api/v1/query?" + urllib.parse.urlencode(
    {"query": 'count_over_time(job:health_ok_ratio_1m{job="threader"}[30s])'})
for _ in range(120):
    with urllib.request.urlopen(query, timeout=5) as resp:
        data = json.load(resp)["data"]["result"]
    if data and float(data[0]["value"][1]) >= 3:
        break
    time.sleep(0.5)
status, _, out = run(case, "promo_with_guards", gv, {"promotion_command": "true"})
check(case, status == "successful", "the promotion succeeds", status)
g = guard(path)
check(case, g["window_minutes"] == 1 and not EARLY_WARNING.search(out), "locked for 1 minute, no warning")
status, res, out = run(case, "qos_guard_release", gv)
r = task_result(res, RELEASE_TASK)
check(case, status == "successful" and r.get("unlocked") is True, "the release releases the guard",
      (status, r.get("status"), r.get("msg")))
releases = [e for e in audit(path) if e["event"] == "release"]
check(case, len(releases) == 1 and when(releases[0]["time"]) < when(g["expires_at"]),
      "released before the guard expired", (releases, g["expires_at"]))
# The window starts at the lock, never before it (the guard reports window_start rounded up).
check(case, len(releases) == 1 and when(releases[0]["time"]) >= when(g["locked_at"])
      + datetime.timedelta(seconds=30), "after the 30s window that starts at the lock", (releases, g["locked_at"]))
check(case, MODULE_WARNING not in out, "the release does not warn")

if failures:
    sys.exit("playbooks_timing: %d failed:\n  %s" % (len(failures), "\n  ".join(failures)))
print("playbooks_timing: all cases passed")
