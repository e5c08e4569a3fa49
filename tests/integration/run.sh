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

# What ansible-test would silently get wrong: a target without an aliases file (run without a
# context, and never selected by group), and a target with both runme.sh and tasks/main.yml whose
# runme.sh does not run the tasks (ansible-test runs only runme.sh then).
bad=0
for d in "$root"/tests/integration/targets/*/; do
  t=$(basename "$d")
  if [ ! -f "$d/aliases" ]; then
    echo "integration target $t has no aliases file"; bad=1
  fi
  if [ -f "$d/runme.sh" ] && [ -f "$d/tasks/main.yml" ] && ! grep -q 'utils/role_target.yml' "$d/runme.sh"; then
    echo "integration target $t: runme.sh must run tasks/main.yml (through utils/role_target.yml)"; bad=1
  fi
done
[ "$bad" -eq 0 ] || exit 1
cd "$root"
# The installed collection is the content root: ansible-test must not look above it for a git
# repository (there is none under /tmp, but a TMPDIR inside a checkout would have one).
export ANSIBLE_TEST_CONTENT_ROOT="$root"

# --continue-on-error: run every target and report all failures, not only the first.
# --allow-destructive: targets marked destructive (remote_cache: local users, sudoers, an sshd)
# run too; ansible-test would otherwise skip them on an unmanaged host without a word of failure.
# A target that ansible-test leaves out (its "Excluding ... tests marked" warning) fails the run:
# every target must run, and a skipped one would otherwise pass unseen.
log="$work/ansible-test.log"
set +e
# shellcheck disable=SC2086
ansible-test integration --local --allow-destructive --color no --continue-on-error ${ANSIBLE_TEST_OPTIONS:-} "$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
set -e
if grep -q 'Excluding .* tests marked' "$log"; then
  echo "integration: ansible-test left targets out (see its warning above); every target must run"
  exit 1
fi
exit "$rc"
