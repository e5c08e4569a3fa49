#!/usr/bin/env bash
# Issue 19, item 2: every variable of the playbooks promo_with_guards, qos_guard_release and
# auto_rollback_on_failure is set in group_vars (the release's and the guard's settings, as the
# reference keeps them) and takes effect: the modules receive the inventory's values. host_vars win
# over group_vars and extra vars (an AAP survey) over both. Run through ansible-runner, as AAP runs
# job templates, against a real Prometheus (backfilled series) and the Loki stand-in.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
utils="$here/../../utils"
out="$OUTPUT_DIR/playbooks_inventory"
rm -rf "$out"
mkdir -p "$out"
chmod 0700 "$out"
backends="$out/backends"
trap '/usr/bin/python3 "$utils/slo_backends.py" stop "$backends" >/dev/null' EXIT
info=$(/usr/bin/python3 "$utils/slo_backends.py" start "$backends")
/usr/bin/python3 "$here/inventory_vars.py" "$info" "$out" "$here/../../inventory"
