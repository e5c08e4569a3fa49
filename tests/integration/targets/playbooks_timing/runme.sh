#!/usr/bin/env bash
# Issue 19, item 3: after a clean promotion with every default left alone, the release can release
# the guard before it expires, its stability window still starting after the lock; settings that
# make an early release impossible warn.
#   1. full scale, backfilled Prometheus: the default lock (30 minutes) and the release's default
#      window (15m) and query timeout (10s): evaluable 15m0s after the lock, 15 minutes before the
#      expiry, and no warning. Nothing waits: the release reports not_yet_evaluable with both times.
#   2. the reference's 15 minutes and 15m: the promotion and the release both warn.
#   3. the defaults on a 1/30 time scale (lock 1 minute, window 30s, query timeout 1s, poll 1s,
#      wait timeout 60s), live Prometheus: the release, started right after the promotion, waits for
#      the window and releases the guard before it expires.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
utils="$here/../../utils"
out="$OUTPUT_DIR/playbooks_timing"
rm -rf "$out"
mkdir -p "$out"
chmod 0700 "$out"
trap '/usr/bin/python3 "$utils/slo_backends.py" stop "$out/backfilled" >/dev/null; /usr/bin/python3 "$utils/slo_backends.py" stop "$out/live" >/dev/null' EXIT
backfilled=$(/usr/bin/python3 "$utils/slo_backends.py" start "$out/backfilled")
live=$(/usr/bin/python3 "$utils/slo_backends.py" start "$out/live" --live good)
/usr/bin/python3 "$utils/slo_backends.py" slo "$out/live" good >/dev/null # no error lines in Loki either
/usr/bin/python3 "$here/timing.py" "$backfilled" "$live" "$out" "$here/../../inventory"
