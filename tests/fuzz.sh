#!/usr/bin/env bash
# Runs every fuzz target of the Go code (each `func FuzzX` in a _test.go file) for a short, fixed
# time: CI's share of fuzzing. Their seed corpora are the f.Add seeds and testdata/fuzz/ files.
# usage: tests/fuzz.sh [fuzztime, default 5s]
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${1:-5s}
n=0
while IFS=: read -r file fn; do
  pkg=./$(dirname "$file")
  echo "fuzz: $pkg $fn ($fuzztime)"
  go test -run '^$' -fuzz "^${fn}\$" -fuzztime "$fuzztime" "$pkg" >/tmp/fuzz.$$.log 2>&1 || { cat /tmp/fuzz.$$.log; rm -f /tmp/fuzz.$$.log; exit 1; }
  n=$((n + 1))
done < <(grep -rHoE '^func Fuzz[A-Za-z0-9_]+' --include='*_test.go' internal | sed 's/func //' | sort)
rm -f /tmp/fuzz.$$.log
echo "fuzz: $n targets passed"
