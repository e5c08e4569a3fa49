#!/usr/bin/python3
"""Start and stop the SLO backends of the qos_guard_release integration tests, on 127.0.0.1 on free
ports:

- a REAL Prometheus (Debian's /usr/bin/prometheus) on series backfilled with
  `promtool tsdb create-blocks-from openmetrics`, as internal/slo/prometheus_test.go does:
  job:http_5xx_ratio_1m and job:health_ok_ratio_1m every 15 s from 30 minutes ago to 1 minute ago,
  for job "threader" (0.002 and 0.999: stable) and job "hot" (0.05 and 0.999: too many 5xx);
- the Loki stand-in (loki_standin.py, recorded bodies; Loki is not packaged in Debian).

usage:
  slo_backends.py start DIR [--loki-tenant T] [--loki-token X] [--live bad|good]
      with --live, nothing is backfilled: Prometheus scrapes slo_app.py (job "threader") every
      second, starting in the given state; `slo_backends.py slo DIR good|bad` switches it
      prints {"prom_url": ..., "loki_url": ..., "pids": {...}} and keeps it in DIR/backends.json
  slo_backends.py stop DIR
      stops the processes listed in DIR/backends.json (only if they are still the ones started
      there); safe to call more than once

Both servers run in their own session, detached, with their output in DIR/*.log.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
SERIES = {"threader": (0.002, 0.999), "hot": (0.05, 0.999)}
READY_TIMEOUT = 30


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def openmetrics(end, start, step=15):
    lines = []
    for i, metric in enumerate(("job:http_5xx_ratio_1m", "job:health_ok_ratio_1m")):
        lines.append("# TYPE %s gauge" % metric)
        for job, values in SERIES.items():
            for ts in range(start, end + 1, step):
                lines.append('%s{job="%s"} %g %d' % (metric, job, values[i], ts))
    lines.append("# EOF")
    return "\n".join(lines) + "\n"


def wait_ready(url, proc, name, log):
    deadline = time.time() + READY_TIMEOUT
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("%s exited before it was ready; see %s" % (name, log))
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError("%s not ready after %ds; see %s" % (name, READY_TIMEOUT, log))


def spawn(cmd, log):
    with open(log, "ab") as out:
        return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True, close_fds=True)


def cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().split(b"\0")
    except OSError:
        return None


def alive(pid):
    """Whether pid runs (a zombie, which a container's init may never reap, does not)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def stop_pid(pid, marker):
    """Stop pid if its command line still holds marker (so a reused pid is never signalled)."""
    args = cmdline(pid)
    if not alive(pid) or not args or not any(marker.encode() in a for a in args):
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.time() + 10
    while time.time() < deadline:
        if not alive(pid):
            return True
        try:
            os.waitpid(pid, os.WNOHANG)  # reaps it when it is our child
        except ChildProcessError:
            pass
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)
    return True


def start(d, tenant=None, token=None, live=None):
    d = os.path.abspath(d)
    os.makedirs(d, exist_ok=True)
    state = os.path.join(d, "backends.json")
    if os.path.exists(state):
        stop(d)
    data = os.path.join(d, "data")
    shutil.rmtree(data, ignore_errors=True)
    cfg = os.path.join(d, "prometheus.yml")
    started = {}
    info = {}
    app_port = None
    if live:
        app_port = free_port()
        app_log = os.path.join(d, "slo-app.log")
        app = spawn(["/usr/bin/python3", os.path.join(HERE, "slo_app.py"), "--port", str(app_port),
                     "--state", live], app_log)
        started["slo_app"] = {"pid": app.pid, "marker": "slo_app.py"}
        with open(cfg, "w") as f:
            f.write("global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: threader\n"
                    "    static_configs:\n      - targets: ['127.0.0.1:%d']\n" % app_port)
    else:
        now = int(time.time())
        end = (now - 60) // 15 * 15
        om = os.path.join(d, "series.om")
        with open(om, "w") as f:
            f.write(openmetrics(end, end - 29 * 60))
        subprocess.run(["/usr/bin/promtool", "tsdb", "create-blocks-from", "openmetrics", om, data],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        with open(cfg, "w") as f:
            f.write("global:\n  scrape_interval: 1m\n")

    try:
        prom_port = free_port()
        prom_log = os.path.join(d, "prometheus.log")
        prom = spawn(["/usr/bin/prometheus", "--config.file=" + cfg, "--storage.tsdb.path=" + data,
                      "--storage.tsdb.retention.time=1d", "--web.listen-address=127.0.0.1:%d" % prom_port], prom_log)
        started["prometheus"] = {"pid": prom.pid, "marker": "--storage.tsdb.path=" + data}

        loki_port = free_port()
        loki_log = os.path.join(d, "loki-standin.log")
        cmd = ["/usr/bin/python3", os.path.join(HERE, "loki_standin.py"), "--port", str(loki_port)]
        if tenant:
            cmd += ["--tenant", tenant]
        if token:
            cmd += ["--token", token]
        loki = spawn(cmd, loki_log)
        started["loki_standin"] = {"pid": loki.pid, "marker": "loki_standin.py"}

        info = {"prom_url": "http://127.0.0.1:%d" % prom_port, "loki_url": "http://127.0.0.1:%d" % loki_port,
                "pids": started, "dir": d}
        if app_port:
            info["slo_app_url"] = "http://127.0.0.1:%d" % app_port
        with open(state, "w") as f:
            json.dump(info, f)
        wait_ready(info["prom_url"] + "/-/ready", prom, "prometheus", prom_log)
        wait_ready(info["loki_url"] + "/ready", loki, "loki stand-in", loki_log)
        if app_port:
            wait_ready(info["slo_app_url"] + "/ready", app, "slo app", app_log)
    except Exception:
        for p in started.values():
            stop_pid(p["pid"], p["marker"])
        if os.path.exists(state):
            os.unlink(state)
        raise
    json.dump(info, sys.stdout)
    print()


def stop(d):
    state = os.path.join(os.path.abspath(d), "backends.json")
    try:
        with open(state) as f:
            info = json.load(f)
    except FileNotFoundError:
        print(json.dumps({"stopped": []}))
        return
    stopped = [name for name, p in info.get("pids", {}).items() if stop_pid(p["pid"], p["marker"])]
    os.unlink(state)
    print(json.dumps({"stopped": sorted(stopped)}))


def set_slo(d, slo):
    """Switch the demo service's series and the Loki stand-in's error lines to good or bad."""
    with open(os.path.join(os.path.abspath(d), "backends.json")) as f:
        info = json.load(f)
    errors = "none" if slo == "good" else "recorded"
    for url in (info["slo_app_url"] + "/state?slo=" + slo, info["loki_url"] + "/state?errors=" + errors):
        req = urllib.request.Request(url, data=b"", method="POST")
        with urllib.request.urlopen(req, timeout=5) as r:
            r.read()
    print(json.dumps({"slo": slo, "loki_errors": errors}))


def main():
    if len(sys.argv) < 3 or sys.argv[1] not in ("start", "stop", "slo"):
        sys.exit(__doc__)
    if sys.argv[1] == "stop":
        stop(sys.argv[2])
        return
    if sys.argv[1] == "slo":
        set_slo(sys.argv[2], sys.argv[3])
        return
    opts = dict(zip(sys.argv[3::2], sys.argv[4::2]))
    start(sys.argv[2], tenant=opts.get("--loki-tenant"), token=opts.get("--loki-token"), live=opts.get("--live"))


if __name__ == "__main__":
    main()
