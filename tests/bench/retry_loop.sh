#!/usr/bin/env bash
# The shell pattern that retry_backoff replaces, as the reference deploy script wrote it:
# retry_loop.sh <max_attempts> <base_seconds> -- <command...>
# Waits base * 2^(i-1) seconds after failed attempt i (also after the last one, as the script did).
max=$1 base=$2
shift 3
for i in $(seq 1 "$max"); do
  "$@" && exit 0
  sleep $((base * 2 ** (i - 1)))
done
exit 1
