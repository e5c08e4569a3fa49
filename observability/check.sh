#!/usr/bin/env bash
# Checks the observability files with Debian's promtool: the alerting rules parse and pass their unit
# tests, and every PromQL expression of the Grafana dashboard parses (each is placed in a recording
# rule of a temporary rules file that `promtool check rules` reads).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
promtool check rules "$here/prometheus/resilience-ops.rules.yml"
(cd "$here/prometheus" && promtool test rules resilience-ops.rules.test.yml)
/usr/bin/python3 - "$here/grafana/resilience-ops.dashboard.json" "$tmp/dashboard.rules.yml" <<'PY'
import json, sys
dash = json.load(open(sys.argv[1]))
exprs = [t["expr"] for p in dash["panels"] for t in p["targets"]]
assert exprs, "the dashboard has no expressions"
with open(sys.argv[2], "w") as f:
    f.write("groups:\n  - name: dashboard\n    rules:\n")
    for i, e in enumerate(exprs):
        f.write("      - record: dashboard:expr_%d\n        expr: %s\n" % (i, json.dumps(e)))
print("dashboard: %d expressions in %d panels" % (len(exprs), len(dash["panels"])))
PY
promtool check rules "$tmp/dashboard.rules.yml"
# The generated dashboard must be the committed one.
/usr/bin/python3 "$here/grafana/gen_dashboard.py" "$tmp/generated.json"
cmp -s "$here/grafana/resilience-ops.dashboard.json" "$tmp/generated.json" || {
  echo "grafana/resilience-ops.dashboard.json is not what gen_dashboard.py writes: run it and commit"; exit 1; }
echo "observability: ok"
