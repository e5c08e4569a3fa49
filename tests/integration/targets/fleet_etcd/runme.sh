#!/usr/bin/env bash
# The fleet's shared state in a real etcd (Debian's etcd-server, one member on loopback), reached
# by the modules through module_defaults for group/resilience.ops.ops, from 12 nodes with forks
# 12, each with a state_dir of its own so that nothing is shared through local files:
#   - a circuit breaker opened by some nodes' failures refuses the others' calls (circuit_open);
#   - a bulkhead of 2 never lets a third job run at once across the nodes;
#   - a guard locked by one node refuses every node's deployment (the qos_guard role sees it too),
#     and unlocks by its id;
#   - the retry_manager role, under the same module_defaults, keeps its breaker in etcd too.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
utils="$here/../../utils"
out="$OUTPUT_DIR/fleet_etcd"
rm -rf "$out"
mkdir -p "$out"
prefix=/it-fleet/

# ansible-doc resolves the shared etcd options (doc fragment resilience.ops.etcd) for every module.
for m in retry_manager qos_guard qos_guard_release; do
  doc=$(ansible-doc "resilience.ops.$m")
  for want in "store" "etcd_endpoints" "etcd_prefix" "etcd_password" "etcd_timeout"; do
    grep -q -- "$want" <<<"$doc" || { echo "ansible-doc resilience.ops.$m lacks $want"; exit 1; }
  done
done
echo "ansible-doc: the etcd options show for the three modules"

python3 "$utils/etcd_member.py" serve --data-dir "$out/etcd" --url-file "$out/etcd_url" &
etcd=$!
python3 "$utils/flaky_http.py" --port-file "$out/port" &
server=$!
trap 'kill "$server" "$etcd" 2>/dev/null || true; wait "$server" "$etcd" 2>/dev/null || true' EXIT
for _ in $(seq 300); do [ -s "$out/etcd_url" ] && [ -s "$out/port" ] && break; sleep 0.1; done
[ -s "$out/etcd_url" ] || { echo "etcd did not start"; cat "$out/etcd/etcd.log" || true; exit 1; }
etcd_url=$(cat "$out/etcd_url")
base="http://127.0.0.1:$(cat "$out/port")"
count() { /usr/bin/python3 -c 'import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1]).read().decode())' "$base/__control/count"; }

play() { # play <scenario> <result file>
  ANSIBLE_FORKS=12 ansible-playbook -i "$here/inventory" "$here/fleet.yml" -e "scenario=$1" -e "result_file=$2" \
    -e "etcd_url=$etcd_url" -e "etcd_prefix=$prefix" -e "service_url=$base/api/v1/vms" -e "node_root=$out/nodes" \
    -e "spans_file=$out/spans"
}

echo "--- 12 nodes against a failing service, one breaker in etcd"
play breaker "$out/breaker.json" >"$out/breaker.log"
/usr/bin/python3 - "$out/breaker.json" "$(count)" "$out/nodes" "$utils/etcd_member.py" "$etcd_url" "$prefix" <<'PY'
import collections, json, os, subprocess, sys
results, served, nodes, tool, url, prefix = json.load(open(sys.argv[1])), json.loads(sys.argv[2]), *sys.argv[3:]
assert len(results) == 12 and all(r["failed"] for r in results.values()), results
types = collections.Counter(r["error_type"] for r in results.values())
fast = [h for h, r in results.items() if r["error_type"] == "circuit_open"]
assert len(fast) >= 6, ("most nodes are refused by the shared breaker", types)
# Each attempt that ran is one request; 12 nodes x 3 attempts would be 36 without the breaker.
assert served["requests"] == sum(r["attempt_count"] for r in results.values()) < 24, (served, types)
assert not any(os.path.exists(os.path.join(nodes, n, "circuit")) for n in results), "local state was written"
doc = json.loads(subprocess.check_output([tool, "get", url, prefix + "state/circuit/flaky-service.json"]))
cb = doc["circuit_breaker"]
assert cb["state"] == "open" and cb["opens"] == 1, cb
print("breaker: %d of 12 nodes refused with circuit_open, %s; the service got %d requests"
      % (len(fast), dict(types), served["requests"]))
PY

echo "--- 12 nodes, a bulkhead of 2 across them"
play bulkhead "$out/bulkhead.json" >"$out/bulkhead.log"
/usr/bin/python3 - "$out/bulkhead.json" "$out/spans" "$utils/etcd_member.py" "$etcd_url" "$prefix" <<'PY'
import json, subprocess, sys
results, spans, tool, url, prefix = json.load(open(sys.argv[1])), *sys.argv[2:]
assert len(results) == 12 and not any(r["failed"] for r in results.values()), results
assert all(r["bulkhead"]["acquired"] for r in results.values()), [r["bulkhead"] for r in results.values()]
events = sorted((float(t), 1 if kind == "start" else -1) for kind, t in (l.split() for l in open(spans)))
assert len(events) == 24, events
running = peak = 0
for _, step in sorted(events, key=lambda e: (e[0], e[1])):
    running += step
    peak = max(peak, running)
assert peak == 2, ("at most 2 jobs at once across the fleet, and 2 did run together", peak)
waited = sum(r["bulkhead"]["total_waited"] for r in results.values())
assert waited > 0, "nobody waited for a slot"
slots = subprocess.check_output([tool, "keys", url, prefix + "slots/"]).decode().split()
assert slots == [], ("every slot was released", slots)
print("bulkhead: 12 jobs, at most %d at once, %.1f s waited for slots in all" % (peak, waited))
PY

echo "--- a guard in etcd, locked by one node, refuses all of them"
play guard "$out/guard.json" >"$out/guard.log"
key=$("$utils/etcd_member.py" keys "$etcd_url" "$prefix" | grep -c 'payments.guard' || true)
[ "$key" -ge 1 ] || { echo "the guard left no key (audit trail) in etcd"; exit 1; }
echo "guard: 12 nodes refused while locked, the qos_guard role saw the same lock; unlocked by id"

echo "--- the role under the same module_defaults"
before=$(count)
play role "$out/role.json" >"$out/role.log"
/usr/bin/python3 - "$out/role.json" "$before" "$(count)" "$out/nodes" "$utils/etcd_member.py" "$etcd_url" "$prefix" <<'PY'
import json, os, subprocess, sys
r, before, after, nodes, tool, url, prefix = json.load(open(sys.argv[1])), json.loads(sys.argv[2]), json.loads(sys.argv[3]), *sys.argv[4:]
assert r["status"] == "failed" and r["error_type"] == "circuit_open" and r["attempt_count"] == 2, r
assert after["requests"] - before["requests"] == 2, (before, after)
doc = json.loads(subprocess.check_output([tool, "get", url, prefix + "state/circuit/role-service.json"]))
assert doc["circuit_breaker"]["state"] == "open", doc
assert not os.path.exists(os.path.join(nodes, "role", "circuit")), "the role kept its breaker in a local file"
print("role: %s" % r["msg"])
PY
