#!/usr/bin/python3
"""A local receiver for webhook and Slack deliveries: it keeps every request it gets, so that a test
can read back what was sent. Paths under /fail answer 500 with the request's path in the body, as
some services echo the URL, to prove that the sender never shows it.

  POST|PUT /fail...          500, counted
  POST|PUT any other path    200, kept: {"method", "path", "authorization", "body"} (body parsed as JSON when it is)
  GET /__received            the kept requests, as a JSON list

It binds 127.0.0.1 on a free port and writes the port to --port-file once it listens.

usage: webhook_sink.py --port-file FILE
"""

import json
import sys
import threading

from serve_port_file import QuietHandler, serve

LOCK = threading.Lock()
RECEIVED = []


class Handler(QuietHandler):

    def do_GET(self):
        if self.path == "/__received":
            with LOCK:
                body = json.dumps(RECEIVED)
            self.answer(200, body, "application/json")
        else:
            self.answer(404, "not found")

    def receive(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode("utf-8", "replace") if length else ""
        try:
            body = json.loads(raw)
        except ValueError:
            body = raw
        entry = {"method": self.command, "path": self.path, "authorization": self.headers.get("Authorization"), "body": body}
        with LOCK:
            RECEIVED.append(entry)
        if self.path.startswith("/fail"):
            self.answer(500, "internal error while handling " + self.path)
        else:
            self.answer(200, "ok")

    do_POST = do_PUT = receive


def main():
    return serve(Handler, __doc__.split("\n")[0])


if __name__ == "__main__":
    sys.exit(main())
