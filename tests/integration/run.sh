#!/usr/bin/env bash
# Runs the Ansible integration targets with `ansible-test integration --local`, against localhost
# with the real ansible-core, on the collection as built by `ansible-galaxy collection build` and
# installed, so that what ships is what is tested.
#
# ansible-test needs the collection at a real path ending in ansible_collections/resilience/ops,
# and in a git checkout it only sees the files git knows about, which leaves out the built binaries
# (plugins/modules/__bin/ is not tracked). The tarball is therefore installed into a fresh
# directory outside any git repository, where ansible-test sees every installed file, and
# ansible-test runs there. Each target has an aliases file; targets that need servers start them
# in their runme.sh and stop them on exit; shared helpers come from tests/integration/utils through
# needs/file aliases.
#
# usage: tests/integration/run.sh dist/resilience-ops-<version>.tar.gz [target...]
#   no target: every target that is not disabled. ANSIBLE_TEST_OPTIONS adds options (e.g. -vvv).
set -euo pipefail

tarball=$(realpath "${1:?usage: run.sh <collection tarball> [target...]}")
shift
work=$(mktemp -d /tmp/resilience-ops-it.XXXXXX)
trap 'rm -rf "$work"' EXIT

ansible-galaxy collection install --force -p "$work" "$tarball" >/dev/null
root="$work/ansible_collections/resilience/ops"
cd "$root"
# The installed collection is the content root: ansible-test must not look above it for a git
# repository (there is none under /tmp, but a TMPDIR inside a checkout would have one).
export ANSIBLE_TEST_CONTENT_ROOT="$root"

# --continue-on-error: run every target and report all failures, not only the first.
# shellcheck disable=SC2086
ansible-test integration --local --color no --continue-on-error ${ANSIBLE_TEST_OPTIONS:-} "$@"
