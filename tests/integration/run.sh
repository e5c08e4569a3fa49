#!/usr/bin/env bash
# Runs the Ansible integration targets against localhost with the real ansible-core, from the
# collection as built by `ansible-galaxy collection build` and installed, so that what ships is what
# is tested. Targets follow ansible-test's layout (targets/<name>/tasks/main.yml) and get the same
# `output_dir` variable; they can also run under `ansible-test integration --local`.
#
# usage: tests/integration/run.sh dist/resilience-ops-<version>.tar.gz [target...]
set -euo pipefail

tarball=${1:?usage: run.sh <collection tarball> [target...]}
shift
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/resilience-ops-it.XXXXXX")
trap 'rm -rf "$work"' EXIT

export ANSIBLE_COLLECTIONS_PATH="$work/collections"
ansible-galaxy collection install --force -p "$work/collections" "$tarball" >/dev/null
export ANSIBLE_ROLES_PATH="$here/targets"
export ANSIBLE_NOCOLOR=1
export ANSIBLE_FORCE_COLOR=0
export ANSIBLE_RETRY_FILES_ENABLED=0
export ANSIBLE_LOCAL_TEMP="$work/ansible-local"
export ANSIBLE_REMOTE_TEMP="$work/ansible-remote"
# The module cache of the tasks on localhost, out of the user's home (a target may set its own).
export RESILIENCE_OPS_MODULE_CACHE_DIR="$work/module-cache"

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for d in "$here"/targets/*/; do
    [ -f "$d/aliases" ] && grep -qx 'disabled' "$d/aliases" && continue
    targets+=("$(basename "$d")")
  done
fi

passed=0
failed=0
for t in "${targets[@]}"; do
  out="$work/out/$t"
  mkdir -p "$out"
  if [ -f "$here/targets/$t/tasks/main.yml" ]; then
    echo "=== integration target: $t"
    if ansible-playbook -i "$here/inventory" "$here/target.yml" \
        -e "target=$t" -e "output_dir=$out" -e "collection_tarball=$(realpath "$tarball")"; then
      passed=$((passed + 1))
    else
      failed=$((failed + 1))
      echo "--- FAIL: $t"
    fi
  fi
  if [ -x "$here/targets/$t/runme.sh" ]; then
    echo "=== integration script: $t/runme.sh"
    if (cd "$here/targets/$t" && OUTPUT_DIR="$out" ./runme.sh); then
      passed=$((passed + 1))
    else
      failed=$((failed + 1))
      echo "--- FAIL: $t/runme.sh"
    fi
  fi
done
echo "integration: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
