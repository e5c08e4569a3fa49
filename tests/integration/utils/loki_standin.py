#!/usr/bin/python3
"""A STAND-IN for Loki, for the integration tests only: Loki is not packaged in Debian.

It is NOT Loki and evaluates no LogQL. It serves response bodies recorded from a real Loki 3.7.8
(loki_bodies/, copied from internal/slo/testdata/loki, whose README says how they were recorded) on
the one path qos_guard_release queries, GET or POST /loki/api/v1/query:

- a query with a line filter (|~) for job "threader" or "hot": instant_count.body (6 matching lines)
- any other query for those jobs (the volume query): instant_volume.body (120 lines)
- a query for any other job: instant_empty.body (no such stream: an empty vector, as Loki answers)
- a query containing "broken(": instant_parse_error.body, 400 text/plain, as Loki rejects a query

Like Loki, it stamps the sample of an instant query with the query's time (the "time" parameter, or
now without one): the recorded bodies' own timestamps are replaced, since qos_guard_release refuses a
sample stamped outside the stability window.

POST /state?errors=none makes the line-filter query answer the recorded empty vector (no error lines,
while the volume query still finds the stream), and errors=recorded switches back; the demo uses it.

With --tenant it answers 401 "no org id" unless X-Scope-OrgID is that tenant, as Loki does with
auth_enabled; with --token it answers 401 unless "Authorization: Bearer <token>" is sent (the
answer never echoes the token). GET /ready answers 200. Every request is logged to stderr, without
its headers.

usage: loki_standin.py --port PORT [--host 127.0.0.1] [--tenant T] [--token X]
"""

import argparse
import os
import re
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

BODIES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "loki_bodies")
KNOWN_JOBS = {"threader", "hot"}
JOB = re.compile(r'job="((?:[^"\\]|\\.)*)"')
SAMPLE_TIME = re.compile(rb'"value":\[[0-9.]+,"')


def query_time(form):
    """The instant query's time in seconds: Loki reads a number as seconds, or as nanoseconds when it
    is too large to be seconds (the stand-in does the same), and stamps the result with it."""
    raw = (parse_qs(form).get("time") or [""])[0]
    try:
        t = float(raw)
    except ValueError:
        return time.time()
    return t / 1e9 if t > 1e12 else t


def stamped(data, at):
    return SAMPLE_TIME.sub(b'"value":[%.3f,"' % at, data)


def body(name):
    with open(os.path.join(BODIES, name), "rb") as f:
        return f.read()


class Handler(BaseHTTPRequestHandler):
    server_version = "loki-standin/1"
    tenant = None
    token = None
    errors = "recorded"

    def log_message(self, format, *args):  # noqa: A002 (the base class's name)
        sys.stderr.write("loki-standin: %s\n" % (format % args))

    def answer(self, status, data, content_type="application/json"):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):  # noqa: N802 (http.server's naming)
        self.handle_query(urlsplit(self.path).query)

    def do_POST(self):  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        form = self.rfile.read(length).decode("utf-8", "replace")
        u = urlsplit(self.path)
        if u.path == "/state":  # the demo switches the error lines off: POST /state?errors=none
            errors = (parse_qs(u.query).get("errors") or [""])[0]
            if errors not in ("recorded", "none"):
                self.answer(400, b"POST /state?errors=recorded|none\n", "text/plain; charset=utf-8")
                return
            Handler.errors = errors
            self.answer(200, ("errors=%s\n" % errors).encode(), "text/plain; charset=utf-8")
            return
        self.handle_query(form)

    def handle_query(self, form):
        path = urlsplit(self.path).path
        if path == "/ready":
            self.answer(200, b"ready (loki stand-in)\n", "text/plain; charset=utf-8")
            return
        if path != "/loki/api/v1/query":
            self.answer(404, b"404 page not found\n", "text/plain; charset=utf-8")
            return
        if self.token is not None and self.headers.get("Authorization") != "Bearer " + self.token:
            self.answer(401, b"unauthorized\n", "text/plain; charset=utf-8")
            return
        if self.tenant is not None and self.headers.get("X-Scope-OrgID") != self.tenant:
            self.answer(401, b"no org id\n", "text/plain; charset=utf-8")
            return
        query = (parse_qs(form).get("query") or [""])[0]
        at = query_time(form)
        if "broken(" in query:
            self.answer(400, body("instant_parse_error.body"), "text/plain; charset=utf-8")
            return
        m = JOB.search(query)
        if not m or m.group(1) not in KNOWN_JOBS:
            self.answer(200, body("instant_empty.body"))
        elif "|~" in query and Handler.errors == "none":
            self.answer(200, body("instant_empty.body"))  # no matching line; the volume query still has lines
        elif "|~" in query:
            self.answer(200, stamped(body("instant_count.body"), at))
        else:
            self.answer(200, stamped(body("instant_volume.body"), at))


def main():
    p = argparse.ArgumentParser(description="Loki stand-in serving recorded bodies (tests only)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--tenant")
    p.add_argument("--token")
    a = p.parse_args()
    Handler.tenant, Handler.token = a.tenant, a.token
    ThreadingHTTPServer((a.host, a.port), Handler).serve_forever()


if __name__ == "__main__":
    main()
