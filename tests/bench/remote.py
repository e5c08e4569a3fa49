#!/usr/bin/python3
"""make bench, section 6: the modules on remote hosts over SSH (driven by tests/bench/remote.sh).

Measure mode (--link ...): runs small plays against the namespace's hosts and writes their wall
times and the bytes that crossed the veth (the controller's end: tx is what the controller sent) to
a JSON file. Report mode (--report a.json b.json): prints the markdown section and adds the goal
ratios to the summary.

The per-task cost of a kind of task is the time of a play of 10 such tasks minus the time of a play
of one, divided by 9: what a task adds to a play, without ansible's start-up or the SSH connection.
"""

import argparse
import glob
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

N = 10  # tasks in the long play
MODULES = ("qos_guard", "retry_manager", "qos_guard_release")


def task_yaml(kind, home):
    if kind == "debug":
        return "ansible.builtin.debug:\n        msg: bench"
    if kind.startswith("stat"):
        return "ansible.builtin.stat:\n        path: /etc/hostname"
    if kind.startswith("command"):
        return "ansible.builtin.command: /bin/true\n      changed_when: false"
    module = kind.split(":")[0]
    if module == "qos_guard":
        return "resilience.ops.qos_guard:\n        path: %s/guard\n        state: status" % home
    if module == "retry_manager":
        return ("resilience.ops.retry_manager:\n        operation: bench\n        argv: [/bin/true]\n"
                "        state_dir: %s/state" % home)
    if module == "qos_guard_release":
        return ("resilience.ops.qos_guard_release:\n        path: %s/guard\n        prom_url: http://127.0.0.1:9\n"
                "        loki_url: http://127.0.0.1:9\n        report_only: true\n      failed_when: false" % home)
    raise ValueError(kind)


def playbook(path, kind, n, home, hosts="bench"):
    body = "".join("    - name: Task %d\n      %s\n" % (i, task_yaml(kind, home)) for i in range(n))
    with open(path, "w") as f:
        f.write("---\n- name: Bench\n  hosts: %s\n  gather_facts: false\n  tasks:\n%s" % (hosts, body))


def counters(veth):
    read = lambda k: int(open("/sys/class/net/%s/statistics/%s" % (veth, k)).read())
    return read("tx_bytes"), read("rx_bytes")


class Bench:
    def __init__(self, a):
        self.a = a
        self.inv = os.path.join(a.work, "inventory")
        hosts = "\n".join("h%d ansible_host=%s.%d resilience_ops_module_cache_dir=~/.ansible/rops-fleet/h%d"
                          % (i, a.net, i, i) for i in range(10, 30))
        with open(self.inv, "w") as f:
            f.write("[all:vars]\nansible_user=%s\nansible_ssh_private_key_file=%s\n"
                    "ansible_python_interpreter=/usr/bin/python3\n"
                    "resilience_ops_module_cache_dir=~/.ansible/rops-bench\n\n"
                    "[bench]\nhost ansible_host=%s.10\n\n[fleet]\n%s\n" % (a.user, a.key, a.net, hosts))
        self.count = 0

    def env(self, cp, pipelining=False, cache=True):
        e = dict(os.environ)
        e.pop("ANSIBLE_REMOTE_TEMP", None)
        e.update(ANSIBLE_SSH_CONTROL_PATH_DIR=cp, ANSIBLE_HOST_KEY_CHECKING="false",
                 ANSIBLE_SSH_ARGS="-C -o ControlMaster=auto -o ControlPersist=60s "
                                  "-o UserKnownHostsFile=/dev/null -o StrictHostKeyChecking=no",
                 ANSIBLE_PIPELINING="true" if pipelining else "false", ANSIBLE_NOCOLOR="1")
        return e

    def clear(self, sub):
        shutil.rmtree(os.path.join(self.a.home, ".ansible", sub), ignore_errors=True)

    def play(self, kind, n, hosts="bench", forks=5, cache=True):
        """Runs one play; returns (seconds, bytes sent, bytes received)."""
        self.count += 1
        pb = os.path.join(self.a.work, "play-%d.yml" % self.count)
        playbook(pb, kind, n, self.a.home, hosts)
        cp = os.path.join(self.a.work, "cp%d" % self.count)
        os.makedirs(cp)
        cmd = ["ansible-playbook", "-i", self.inv, pb, "-f", str(forks)]
        if not cache:
            cmd += ["-e", "resilience_ops_module_cache=false"]
        log = os.path.join(self.a.raw, "remote-%s-%d.log" % (self.a.link, self.count))
        tx0, rx0 = counters(self.a.veth)
        t0 = time.monotonic()
        with open(log, "w") as out:
            rc = subprocess.call(cmd, env=self.env(cp, pipelining=kind.endswith("_pipe")), stdout=out,
                                 stderr=subprocess.STDOUT)
        dt = time.monotonic() - t0
        tx1, rx1 = counters(self.a.veth)
        for sock in glob.glob(os.path.join(cp, "*")):
            subprocess.call(["ssh", "-o", "ControlPath=" + sock, "-O", "exit", "x"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
        shutil.rmtree(cp, ignore_errors=True)
        if rc != 0:
            sys.exit("ansible-playbook %s (%s x%d) failed, see %s" % (pb, kind, n, log))
        return dt, tx1 - tx0, rx1 - rx0

    def ssh_command(self, runs=20):
        """The time of one SSH command through an open multiplexed connection (median)."""
        cp = os.path.join(self.a.work, "cp-ssh")
        os.makedirs(cp, exist_ok=True)
        base = ["ssh", "-C", "-o", "ControlMaster=auto", "-o", "ControlPersist=60s", "-o",
                "ControlPath=%s/m" % cp, "-o", "UserKnownHostsFile=/dev/null", "-o", "StrictHostKeyChecking=no",
                "-o", "LogLevel=ERROR", "-i", self.a.key, "%s@%s.10" % (self.a.user, self.a.net)]
        subprocess.check_call(base + ["true"])
        times = []
        for _ in range(runs):
            t0 = time.monotonic()
            subprocess.check_call(base + ["/bin/sh -c true"])
            times.append(time.monotonic() - t0)
        subprocess.call(["ssh", "-o", "ControlPath=%s/m" % cp, "-O", "exit", "x"], stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL)
        return statistics.median(times)

    def run(self):
        res = {"link": self.a.link, "runs": []}
        for r in range(self.a.runs):
            one = {}
            for kind in ("debug", "stat", "stat_pipe", "command", "command_pipe"):
                one[kind] = {"1": self.play(kind, 1), str(N): self.play(kind, N)}
            for m in MODULES:
                self.clear("rops-bench")
                cold = self.play(m, 1)
                one[m] = {"cold1": cold, "1": self.play(m, 1), str(N): self.play(m, N),
                          "off1": self.play(m, 1, cache=False), "off%d" % N: self.play(m, N, cache=False)}
            one["ssh"] = self.ssh_command()
            res["runs"].append(one)
        # 20 hosts x 10 tasks, forks 20 (on the first link only: it is the longest part of make bench):
        # cold caches, warm caches, the cache off, a pipelined stat.
        if not self.a.fleet:
            res["fleet"] = None
            with open(self.a.json, "w") as f:
                json.dump(res, f, indent=1)
            return
        self.clear("rops-fleet")
        res["fleet"] = {
            "cold": self.play("qos_guard", N, "fleet", 20),
            "warm": self.play("qos_guard", N, "fleet", 20),
            "off": self.play("qos_guard", N, "fleet", 20, cache=False),
            "stat_pipe": self.play("stat_pipe", N, "fleet", 20),
        }
        with open(self.a.json, "w") as f:
            json.dump(res, f, indent=1)


def med(values):
    return statistics.median(values)


def analyse(res):
    """Medians over the runs: per-task seconds and bytes of each kind."""
    out = {}
    runs = res["runs"]

    def per_task(kind, one="1", many=str(N)):
        t = med([(r[kind][many][0] - r[kind][one][0]) / (N - 1) for r in runs])
        b = med([(r[kind][many][1] - r[kind][one][1]) / (N - 1) for r in runs])
        return t, b

    for kind in ("debug", "stat", "stat_pipe", "command", "command_pipe"):
        out[kind] = per_task(kind)
    out["ssh"] = med([r["ssh"] for r in runs])
    out["debug1"] = med([r["debug"]["1"][0] for r in runs])
    for m in MODULES:
        later = per_task(m)
        today = per_task(m, "off1", "off%d" % N)
        first = med([r[m]["cold1"][0] - r["debug"]["1"][0] for r in runs])
        first_today = med([r[m]["off1"][0] - r["debug"]["1"][0] for r in runs])
        first_bytes = med([r[m]["cold1"][1] for r in runs])
        today_first_bytes = med([r[m]["off1"][1] for r in runs])
        out[m] = {"later": later, "today": today, "first": first, "first_today": first_today,
                  "first_bytes": first_bytes, "today_first_bytes": today_first_bytes}
    return out


def ms(s):
    return "%.0f ms" % (s * 1000)


def kib(b):
    return "%.1f KiB" % (b / 1024) if b < 1 << 20 else "%.1f MiB" % (b / (1 << 20))


def report(files, summary):
    data = []
    for fn in files:
        with open(fn) as f:
            res = json.load(f)
        data.append((res, analyse(res)))
    links = [res["link"].replace("gbit", " Gbit/s").replace("mbit", " Mbit/s") for res, _ in data]
    p = print
    p("A host in a network namespace of its own with Debian's sshd, reached through a veth pair shaped with "
      "`tc tbf`, a plain user (login shell /bin/sh), SSH multiplexing as ansible sets it up (`-C`, "
      "ControlMaster, ControlPersist). Per-task cost: (time of a play of %d tasks - time of a play of one) / %d, "
      "median of %d runs; bytes: what the controller sent on the veth, the same way. \"Today\" is the task with "
      "`resilience_ops_module_cache: false` (ansible-core copies the binary and its arguments for every task); "
      "the previous release also ran `uname -s -m` before each task without gathered facts, one more SSH "
      "command, so today's numbers here are a little better than the old release's." % (N, N - 1, len(data[0][0]["runs"])))
    p()
    p("### Per-task cost and bytes per task")
    p()
    p("| task | " + " | ".join(links) + " | bytes sent per task |")
    p("|---|" + "---:|" * len(links) + "---:|")
    rows = [("`ansible.builtin.debug`", "debug"), ("`stat`", "stat"), ("`stat`, pipelining", "stat_pipe"),
            ("`command`", "command"), ("`command`, pipelining", "command_pipe")]
    for label, k in rows:
        p("| %s | %s | %s |" % (label, " | ".join(ms(a[k][0]) for _, a in data), kib(data[0][1][k][1])))
    p("| one SSH command (multiplexed) | %s | |" % " | ".join(ms(a["ssh"]) for _, a in data))
    for m in MODULES:
        p("| `%s`, later tasks (cache) | %s | %s |" % (m, " | ".join(ms(a[m]["later"][0]) for _, a in data),
                                                      kib(data[0][1][m]["later"][1])))
        p("| `%s`, today (copied every task) | %s | %s |" % (m, " | ".join(ms(a[m]["today"][0]) for _, a in data),
                                                            kib(data[0][1][m]["today"][1])))
    p()
    p("### First task on a host")
    p()
    p("A one-task play's time above a one-task `debug` play (so the SSH connection's set-up is included in both "
      "columns), with an empty cache, against today; bytes the controller sent in that play.")
    p()
    p("| module | " + " | ".join("first, %s | today, %s" % (l, l) for l in links) + " | bytes, first | bytes, today |")
    p("|---|" + "---:|---:|" * len(links) + "---:|---:|")
    for m in MODULES:
        p("| `%s` | %s | %s | %s |" % (m, " | ".join("%s | %s" % (ms(a[m]["first"]), ms(a[m]["first_today"])) for _, a in data),
                                       kib(data[0][1][m]["first_bytes"]), kib(data[0][1][m]["today_first_bytes"])))
    p()
    fleets = [(res["link"], res["fleet"]) for res, _ in data if res.get("fleet")]
    for link, fleet in fleets:
        p("### 20 hosts x %d tasks of `qos_guard`, forks 20 (%s)" % (N, link.replace("gbit", " Gbit/s").replace("mbit", " Mbit/s")))
        p()
        p("Each host its own address on the namespace's side and its own cache directory.")
        p()
        p("| run | wall time | bytes sent |")
        p("|---|---:|---:|")
        for label, k in (("empty caches", "cold"), ("warm caches", "warm"), ("today (cache off)", "off"),
                         ("`stat`, pipelining, same plays", "stat_pipe")):
            p("| %s | %.1f s | %s |" % (label, fleet[k][0], kib(fleet[k][1])))
        p()
    p("### Goals (ratios from this run)")
    p()
    p("| goal | " + " | ".join(links) + " |")
    p("|---|" + "---:|" * len(links) + "")
    goals = []
    for label, fn in (
            ("`qos_guard` later task / pipelined `stat` task (goal <= 0.7)",
             lambda a: a["qos_guard"]["later"][0] / a["stat_pipe"][0]),
            ("`qos_guard` later task / (`debug` task + one SSH command) (goal <= 1.3)",
             lambda a: a["qos_guard"]["later"][0] / (a["debug"][0] + a["ssh"])),
            ("`qos_guard` first task / today's (goal <= 1.2)",
             lambda a: a["qos_guard"]["first"] / a["qos_guard"]["first_today"]),
            ("`retry_manager` first task / today's (goal <= 1.2)",
             lambda a: a["retry_manager"]["first"] / a["retry_manager"]["first_today"]),
            ("`qos_guard_release` first task / today's (goal <= 1.2)",
             lambda a: a["qos_guard_release"]["first"] / a["qos_guard_release"]["first_today"])):
        vals = [fn(a) for _, a in data]
        goals.append((label, vals))
        p("| %s | %s |" % (label, " | ".join("%.2f" % v for v in vals)))
    later_bytes = max(a[m]["later"][1] for _, a in data for m in MODULES)
    p("| bytes sent per task after the first, largest of the three modules (goal < 16 KiB) | %s |"
      % " | ".join(kib(max(a[m]["later"][1] for m in MODULES)) for _, a in data))
    p()
    with open(summary, "a") as f:
        f.write("- Remote host over SSH (%s): a `qos_guard` task from the module cache costs %s of a pipelined `stat` "
                "task and %s of a `debug` task plus one SSH command; the first task on a host %s of today's; "
                "%s sent per task after the first.\n" % (
                    " / ".join(links),
                    " / ".join("%.2f" % v for v in goals[0][1]), " / ".join("%.2f" % v for v in goals[1][1]),
                    " / ".join("%.2f" % v for v in goals[2][1]), kib(later_bytes)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--report", nargs="+")
    ap.add_argument("--summary")
    for k in ("link", "net", "user", "home", "key", "veth", "work", "raw", "json"):
        ap.add_argument("--" + k)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--fleet", action="store_true", help="also run the 20-host plays")
    a = ap.parse_args()
    if a.report:
        report(a.report, a.summary)
    else:
        Bench(a).run()


if __name__ == "__main__":
    main()
