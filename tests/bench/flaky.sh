#!/bin/sh
# The flaky command of make bench: flaky.sh <counter-file> fails the first FLAKY_FAILURES times
# (default 2) the way a refused connection does, then succeeds. The counter file holds the number
# of attempts so far; remove it to start again.
c=$(cat "$1" 2>/dev/null || echo 0)
c=$((c + 1))
echo "$c" > "$1"
if [ "$c" -le "${FLAKY_FAILURES:-2}" ]; then
  echo "connect to 127.0.0.1 port 8443: Connection refused" >&2
  exit 1
fi
echo "succeeded on attempt $c"
