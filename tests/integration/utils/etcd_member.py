#!/usr/bin/python3
"""A one-member etcd v3 (Debian's etcd-server) on 127.0.0.1, for the integration targets, and a
reader of its keys through etcd's JSON gateway.

  etcd_member.py serve --data-dir DIR --url-file FILE
      starts etcd on two free loopback ports with its data in DIR, writes its client URL to FILE
      (atomically) once it answers /health, and stops it when terminated.
  etcd_member.py get URL KEY
      prints the value of KEY (nothing when absent).
  etcd_member.py keys URL PREFIX
      prints the keys under PREFIX, one a line.
"""

import argparse
import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def healthy(url):
    try:
        with urllib.request.urlopen(url + "/health", timeout=1) as r:
            return json.load(r).get("health") == "true"
    except OSError:
        return False


def serve(args):
    binary = os.environ.get("ETCD_BIN") or shutil.which("etcd") or "/usr/bin/etcd"
    os.makedirs(args.data_dir, mode=0o700, exist_ok=True)
    for _ in range(3):  # a free port may be taken before etcd binds it
        client, peer = "http://127.0.0.1:%d" % free_port(), "http://127.0.0.1:%d" % free_port()
        log = open(os.path.join(args.data_dir, "etcd.log"), "ab")
        proc = subprocess.Popen(
            [binary, "--name", "it", "--data-dir", os.path.join(args.data_dir, "data"),
             "--listen-client-urls", client, "--advertise-client-urls", client,
             "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
             "--initial-cluster", "it=" + peer, "--log-level", "warn"],
            stdout=log, stderr=log)
        deadline = time.monotonic() + 20
        while proc.poll() is None and time.monotonic() < deadline and not healthy(client):
            time.sleep(0.1)
        if proc.poll() is None and healthy(client):
            break
        proc.kill()
        proc.wait()
    else:
        sys.exit("etcd did not start: see %s" % os.path.join(args.data_dir, "etcd.log"))
    stopping = []

    def stop(*_):  # the main thread's wait below returns once etcd has stopped
        stopping.append(True)
        proc.terminate()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    tmp = args.url_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(client)
    os.replace(tmp, args.url_file)
    proc.wait()
    return 0 if stopping else 1  # 1: etcd stopped by itself


def rng(url, body):
    req = urllib.request.Request(url + "/v3/kv/range", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=5) as r:
        return json.load(r).get("kvs", [])


def b64(s):
    return base64.b64encode(s.encode()).decode()


def prefix_end(p):
    b = bytearray(p.encode())
    b[-1] += 1
    return base64.b64encode(bytes(b)).decode()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--data-dir", required=True)
    s.add_argument("--url-file", required=True)
    g = sub.add_parser("get")
    g.add_argument("url")
    g.add_argument("key")
    k = sub.add_parser("keys")
    k.add_argument("url")
    k.add_argument("prefix")
    args = ap.parse_args()
    if args.cmd == "serve":
        return serve(args)
    if args.cmd == "get":
        for kv in rng(args.url, {"key": b64(args.key)}):
            sys.stdout.write(base64.b64decode(kv["value"]).decode())
        return 0
    for kv in rng(args.url, {"key": b64(args.prefix), "range_end": prefix_end(args.prefix), "keys_only": True}):
        print(base64.b64decode(kv["key"]).decode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
