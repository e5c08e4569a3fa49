#!/usr/bin/env bash
# The README's first command (`make demo`): installs the built collection into a temporary
# collections path and runs the demo story against localhost, then cleans up after itself.
set -euo pipefail
tarball=${1:?usage: run.sh <collection tarball>}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/resilience-ops-demo.XXXXXX")
trap 'rm -rf "$work"' EXIT

export ANSIBLE_COLLECTIONS_PATH="$work/collections"
ansible-galaxy collection install --force -p "$work/collections" "$tarball" >/dev/null
export ANSIBLE_LOCAL_TEMP="$work/ansible-local"
export ANSIBLE_REMOTE_TEMP="$work/ansible-remote"
export ANSIBLE_STDOUT_CALLBACK=ansible.builtin.default
export ANSIBLE_DISPLAY_SKIPPED_HOSTS=false

ansible-playbook -i "$here/inventory" "$here/demo.yml" -e "demo_dir=$work/state"
echo
echo "demo: finished; state under $work was removed"
