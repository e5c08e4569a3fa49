#!/usr/bin/env bash
# The module cache on a host reached over a real SSH connection: Debian's sshd on 127.0.0.1 (a free
# port), started and stopped here, with plain users (login shell /bin/sh) and sudo.
#   - first task on a host without the cache installs each build in ~/.ansible/resilience.ops, in
#     0700 directories; the host's platform comes back as a fact;
#   - a later task is ONE SSH command, sends no file, and does not ask the platform again;
#     a no_log secret never shows, even at -vvvv;
#   - check mode, diff and module_defaults work from the cache;
#   - a truncated file, and a file altered in place with its size and mtime kept, are detected
#     before they run, replaced, and the task runs;
#   - a cache directory that other users can write to, or that another user owns, is refused: the
#     task takes ansible-core's way, says so at -v, and the planted file never runs;
#   - the cache turned off by the user, ANSIBLE_KEEP_REMOTE_FILES, a custom remote_tmp and async
#     take ansible-core's way and work;
#   - become (sudo) to another unprivileged user and to root use their own caches; su, and a sudo
#     with requiretty, fall back and work;
#   - several forks install the cache of one host at once;
#   - delegate_to learns the delegated host's platform once;
#   - clearing the cache (ansible.builtin.file state=absent) is followed by a reinstall.
set -euo pipefail
[ "$(id -u)" -eq 0 ] || { echo "remote_cache: needs root (users, sshd)"; exit 1; }
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../../utils/sshd_host.sh
. "$here/../../utils/sshd_host.sh"

# ansible-doc shows how the cache works and how to turn it off, for each module.
for m in qos_guard retry_manager qos_guard_release; do
  ansible-doc "resilience.ops.$m" | tr -s ' \n' ' ' | grep -q 'resilience_ops_module_cache=false' ||
    { echo "remote_cache: ansible-doc resilience.ops.$m does not document the module cache"; exit 1; }
done

id=$$
work=$(mktemp -d /tmp/rops-rc.XXXXXX)
login=rops-rc$id-a
other=rops-rc$id-b
tty_user=rops-rc$id-t
cleanup() {
  sshd_host_cleanup
  rm -rf "$work"
}
trap cleanup EXIT
[ -z "${KEEP_WORK:-}" ] || trap sshd_host_cleanup EXIT

sshd_host_init "$work"
sshd_host_user "$login"
sshd_host_user "$other"
sshd_host_user "$tty_user"
echo "$other:rops-su-$id" | chpasswd
sshd_host_sudoers "rops-rc$id" "$login ALL=(ALL) NOPASSWD: ALL" \
  "Defaults:$tty_user requiretty" "$tty_user ALL=(ALL) NOPASSWD: ALL"
port=$(sshd_host_free_port)
sshd_host_start 127.0.0.1 "$port" "" "$login" "$tty_user"

home=$(getent passwd "$login" | cut -d: -f6)
other_home=$(getent passwd "$other" | cut -d: -f6)
cache="$home/.ansible/resilience.ops"
root_cache="$work/root-cache"
install -d -m 0700 "$work/root"

cat >"$work/inventory" <<EOF
[all:vars]
ansible_host=127.0.0.1
ansible_port=$port
ansible_ssh_private_key_file=$work/id_ed25519
ansible_python_interpreter=/usr/bin/python3
guard=$home/guard
state_dir=$home/state
cache_root=$cache
platform_key=127.0.0.1:$port
other_user=$other
other_home=$other_home
root_guard=$work/root/guard
root_cache=$root_cache

[remote_hosts]
remote ansible_user=$login
remote_tty ansible_user=$tty_user guard=$(getent passwd "$tty_user" | cut -d: -f6)/guard

[forks]
fork[1:6] ansible_user=$login resilience_ops_module_cache_dir=~/.ansible/rops-forks

[local]
localhost ansible_connection=local
EOF

export ANSIBLE_SSH_CONTROL_PATH_DIR="$work/cp"
export ANSIBLE_HOST_KEY_CHECKING=false
export ANSIBLE_SSH_ARGS="-C -o ControlMaster=auto -o ControlPersist=60s -o UserKnownHostsFile=/dev/null -o StrictHostKeyChecking=no"
export ANSIBLE_NOCOLOR=1
unset ANSIBLE_REMOTE_TEMP RESILIENCE_OPS_MODULE_CACHE_DIR # the host's own defaults, under ~/.ansible

play() { # play <scenario> <transcript> [ansible-playbook options...]
  local scenario=$1 log=$2
  shift 2
  echo "--- scenario $scenario"
  if ! ansible-playbook -i "$work/inventory" "$here/cache.yml" -e "scenario=$scenario" "$@" >"$log" 2>&1; then
    cat "$log"
    echo "remote_cache: scenario $scenario failed"
    exit 1
  fi
}
fail() {
  echo "remote_cache: $*"
  exit 1
}
# The SSH commands and file transfers of a -vvv transcript.
count_exec() { grep -c 'SSH: EXEC ssh' "$1" || true; }
count_put() { grep -c '> PUT ' "$1" || true; }
qos_file() { ls "$cache"/*/AnsiballZ_qos_guard; }

# First tasks on a host without the cache.
play first "$work/first.log" -vvv
grep -q 'installing AnsiballZ_qos_guard for linux/amd64 in the module cache' "$work/first.log" ||
  fail "the first qos_guard task did not install its build"
f=$(qos_file)
[ "$(sha256sum "$f" | cut -d' ' -f1)" = "$(basename "$(dirname "$f")")" ] || fail "$f does not hash to its directory's name"
[ "$(stat -c %U "$f")" = "$login" ] || fail "$f does not belong to $login"

# Later tasks: check mode, diff, module_defaults.
play later "$work/later.log" --diff
grep -q "+++ after: $home/guard" "$work/later.log" || fail "--diff showed nothing"

# Two tasks from a warm cache: one SSH command each, no file sent, the platform found by the first
# (in its one command) and not asked again; a no_log secret never shows.
secret="rops-secret-$id-do-not-print"
echo "secret: $secret" >"$work/secret.yml"
play one_task "$work/one.log" -vvvv -e "@$work/secret.yml"
[ "$(count_exec "$work/one.log")" -eq 2 ] || fail "two tasks from the cache took $(count_exec "$work/one.log") SSH commands, want 2"
[ "$(count_put "$work/one.log")" -eq 0 ] || fail "a task from the cache sent files"
[ "$(grep -c 'U=$(uname -sm)' "$work/one.log")" -eq 1 ] || fail "the second task asked the host's platform again"
grep -q "$secret" "$work/one.log" && fail "the no_log secret shows in the -vvvv transcript"
grep -q 'from the cache' "$work/one.log" && fail "the task's arguments show in the transcript"
grep -q "$secret" "$home/guard" || fail "the no_log task did not lock the guard with its reason"
rm -f "$home/guard"

# A truncated cache file is detected before it runs and replaced.
f=$(qos_file)
truncate -s 4096 "$f"
play status "$work/truncated.log" -v
grep -q 'does not hash to its name; replacing it' "$work/truncated.log" || fail "the truncated file was not reported"
[ "$(sha256sum "$f" | cut -d' ' -f1)" = "$(basename "$(dirname "$f")")" ] || fail "the truncated file was not replaced"

# Altered in place: same size, mtime set back.
cp -p "$f" "$work/mtime-ref"
printf 'X' | dd of="$f" bs=1 seek=100000 conv=notrunc status=none
touch -r "$work/mtime-ref" "$f"
play status "$work/altered.log" -v
grep -q 'does not hash to its name; replacing it' "$work/altered.log" || fail "the altered file was not reported"
[ "$(sha256sum "$f" | cut -d' ' -f1)" = "$(basename "$(dirname "$f")")" ] || fail "the altered file was not replaced"

# A hostile cache: a planted file that would leave a mark, with a stamp that matches it.
marker="$work/planted-ran"
plant() {
  printf '#!/bin/sh\ntouch %s\n' "$marker" >"$f"
  chmod 0700 "$f"
  chown "$login:" "$f"
  stat -c '%d:%i:%s:%.9Y:%.9Z' "$f" >"$f.ok"
}
cp -p "$f" "$work/good-build"
plant
chmod 0777 "$cache"
play status "$work/writable.log" -v
grep -q "refused the module cache: $cache must be a directory of the user that only the user can write to" "$work/writable.log" ||
  fail "a world-writable cache directory was not refused at -v"
grep -q 'without the module cache' "$work/writable.log" || fail "the fallback was not said at -v"
[ ! -e "$marker" ] || fail "the planted file in a world-writable cache ran"
chmod 0700 "$cache"
chmod 0775 "$home"
# The fallback runs qos_guard, which (rightly) refuses a guard in a group-writable directory: the
# guard for this scenario is in a directory of the user's own outside the home.
install -d -m 0700 -o "$login" -g "$login" "$work/user-guard"
play status "$work/home-writable.log" -v -e guard="$work/user-guard/guard"
grep -q "refused the module cache: $home can be written by other users" "$work/home-writable.log" ||
  fail "a group-writable home above the cache was not refused"
[ ! -e "$marker" ] || fail "the planted file under a group-writable home ran"
chmod 0700 "$home"
chown -R "$other:" "$cache"
chmod 0755 "$cache" "$(dirname "$f")"
play status "$work/other-owner.log" -v
grep -q "does not belong to the user" "$work/other-owner.log" || fail "a cache of another user was not refused"
[ ! -e "$marker" ] || fail "the planted file in another user's cache ran"
chown -R "$login:" "$cache"
chmod 0700 "$cache" "$(dirname "$f")"
# Back to the user's own directory: the planted file's stamp matches, but its ctime moved with the
# chown, so it is hashed, found altered and replaced.
play status "$work/replanted.log" -v
[ ! -e "$marker" ] || fail "the planted file ran"
cmp -s "$f" "$work/good-build" || fail "the planted file was not replaced"

# The cache turned off, kept remote files, a custom remote_tmp: ansible-core's way.
play status "$work/off.log" -vvv -e resilience_ops_module_cache=false
grep -q 'the module cache is off' "$work/off.log" || fail "turning the cache off was not said at -v"
[ "$(count_put "$work/off.log")" -ge 2 ] || fail "with the cache off, the binary and its arguments were not copied"
ANSIBLE_KEEP_REMOTE_FILES=1 play status "$work/keep.log" -v -e ansible_remote_tmp=/tmp/rops-rc$id-tmp
grep -q 'ANSIBLE_KEEP_REMOTE_FILES' "$work/keep.log" || fail "KEEP_REMOTE_FILES was not said at -v"
ls /tmp/rops-rc$id-tmp/ansible-tmp-*/AnsiballZ_qos_guard_linux_amd64 >/dev/null || fail "the kept files are not under the custom remote_tmp"
ls /tmp/rops-rc$id-tmp/ansible-tmp-*/args >/dev/null || fail "the kept argument file is missing"
rm -rf "/tmp/rops-rc$id-tmp"
play status "$work/remote-tmp.log" -e ansible_remote_tmp=/tmp/rops-rc$id-tmp2
[ ! -e "/tmp/rops-rc$id-tmp2" ] || fail "a task from the cache wrote to the remote_tmp"
play async "$work/async.log" -v
grep -q 'async tasks run under' "$work/async.log" || fail "async was not said at -v"

# Become: sudo to another user and to root; su and requiretty fall back.
play become "$work/become.log" -v
grep -q 'without the module cache' "$work/become.log" && fail "a sudo task did not use the cache"
[ "$(stat -c %U "$root_cache")" = root ] || fail "root's cache does not belong to root"
f3=$(ls "$other_home"/.ansible/resilience.ops/*/AnsiballZ_qos_guard)
[ "$(stat -c %U "$f3")" = "$other" ] || fail "the other user's cache does not belong to that user"
play su "$work/su.log" -v -e "ansible_become_password=rops-su-$id"
grep -q 'become method su needs a terminal' "$work/su.log" || fail "su did not fall back"
play requiretty "$work/tty.log" -v
grep -q 'the cache command did not run' "$work/tty.log" || fail "the requiretty sudo was not detected"

# Forks installing one cache at once.
ANSIBLE_FORKS=6 play forks "$work/forks.log"
forks_cache="$home/.ansible/rops-forks"
n=$(find "$forks_cache" -type f | wc -l)
[ "$n" -eq 2 ] || { find "$forks_cache" -ls; fail "the forks left $n files in the cache, want the build and its stamp"; }
f2=$(ls "$forks_cache"/*/AnsiballZ_qos_guard)
[ "$(sha256sum "$f2" | cut -d' ' -f1)" = "$(basename "$(dirname "$f2")")" ] || fail "the forks' build does not hash to its name"

# Delegation.
play delegate "$work/delegate.log"

# Clearing: the documented way, then a reinstall.
play clear "$work/clear.log"
[ ! -e "$cache" ] || fail "the cache was not cleared"
play status "$work/reinstall.log" -vvv
grep -q 'installing AnsiballZ_qos_guard' "$work/reinstall.log" || fail "the cleared cache was not reinstalled"

echo "remote_cache: all scenarios passed"
