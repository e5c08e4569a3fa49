#!/usr/bin/python3
"""A local HTTP service that fails until told to recover, for the circuit breaker tests. It counts
the requests it serves, so that a test can prove how often it was called.

  any method, any path       503 while failing, 200 once recovered (counted)
  GET /__control/recover     answer 200 from now on (not counted)
  GET /__control/fail        answer 503 from now on (not counted)
  GET /__control/count       {"requests": N, "healthy": bool} (not counted)

It binds 127.0.0.1 on a free port and writes the port to --port-file once it listens.

usage: flaky_http.py --port-file FILE
"""

import json
import sys
import threading

from serve_port_file import QuietHandler, serve


class State:
    lock = threading.Lock()
    requests = 0
    healthy = False


class Handler(QuietHandler):

    def handle_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        if self.path.startswith("/__control/"):
            what = self.path[len("/__control/"):]
            with State.lock:
                if what == "recover":
                    State.healthy = True
                elif what == "fail":
                    State.healthy = False
                elif what != "count":
                    self.answer(404, "unknown control " + what)
                    return
                body = json.dumps({"requests": State.requests, "healthy": State.healthy})
            self.answer(200, body, "application/json")
            return
        with State.lock:
            State.requests += 1
            healthy = State.healthy
        if healthy:
            self.answer(200, "ok")
        else:
            self.answer(503, "service unavailable")

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = handle_any


def main():
    return serve(Handler, __doc__.split("\n")[0])


if __name__ == "__main__":
    sys.exit(main())
