#!/usr/bin/python3
"""A demo service for the end-to-end demo: it exposes the two SLO series that qos_guard_release reads,
job:http_5xx_ratio_1m and job:health_ok_ratio_1m, on /metrics for a real Prometheus to scrape (under
job "threader"), and lets the demo switch them between a bad and a good state. It stands for the
recording rules of a real service; it is not part of the collection.

  GET  /metrics          the two gauges
  POST /state?slo=good   0.002 5xx ratio, 0.999 health (stable)
  POST /state?slo=bad    0.05 5xx ratio, 0.97 health (unstable)

usage: slo_app.py --port PORT [--state bad|good]
"""

import argparse
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

VALUES = {"good": (0.002, 0.999), "bad": (0.05, 0.97)}


class Handler(BaseHTTPRequestHandler):
    state = "bad"

    def log_message(self, format, *args):  # noqa: A002
        sys.stderr.write("slo-app: %s\n" % (format % args))

    def answer(self, status, text):
        data = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):  # noqa: N802
        path = urlsplit(self.path).path
        if path == "/ready":
            self.answer(200, "ready\n")
        elif path == "/metrics":
            five, health = VALUES[Handler.state]
            self.answer(200, "# TYPE job:http_5xx_ratio_1m gauge\njob:http_5xx_ratio_1m %g\n"
                             "# TYPE job:health_ok_ratio_1m gauge\njob:health_ok_ratio_1m %g\n" % (five, health))
        else:
            self.answer(404, "not found\n")

    def do_POST(self):  # noqa: N802
        u = urlsplit(self.path)
        slo = (parse_qs(u.query).get("slo") or [""])[0]
        if u.path != "/state" or slo not in VALUES:
            self.answer(400, "POST /state?slo=good|bad\n")
            return
        Handler.state = slo
        self.answer(200, "slo=%s\n" % slo)


def main():
    p = argparse.ArgumentParser(description="demo service exposing SLO series")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--state", choices=sorted(VALUES), default="bad")
    a = p.parse_args()
    Handler.state = a.state
    ThreadingHTTPServer(("127.0.0.1", a.port), Handler).serve_forever()


if __name__ == "__main__":
    main()
