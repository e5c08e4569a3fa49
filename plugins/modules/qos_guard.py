# -*- coding: utf-8 -*-
# Copyright: resilience.ops contributors
# MIT License (see LICENSE)

# Documentation only: resilience.ops.qos_guard is a Go binary (plugins/modules/__bin/), run by the
# action plugin of the same name on the build that matches the target's platform.

from __future__ import annotations

DOCUMENTATION = r"""
module: qos_guard
short_description: Lock, unlock and check the QoS guard window that blocks deployments
version_added: "1.0.0"
description:
  - Keeps a guard window, a lock that blocks deployments for a number of minutes after a rollback or
    a promotion while the system may still be unstable.
  - The lock records when it was taken, when it expires, who holds it (I(owner)), why (I(reason)) and
    the window in minutes, under a lock id.
  - Changes are atomic (a temporary file renamed over the lock file) and serialised by a file lock on
    C(<path>.lock), so concurrent lockers on one host never corrupt the file or lose a lock.
  - The guard lives only where the user the module runs as alone can change it. Its directory and
    every directory above it must belong to that user or root and must not be writable by other users
    unless they have the sticky bit (as C(/tmp) has); no symbolic link is followed on the way, not even
    a system one such as C(/var/run) (give C(/run)). The lock file, C(<path>.lock) and the audit trail
    must be regular files of that user or root, with one link, that other users cannot write to. They
    are opened without blocking, so a named pipe, a device or another user's file left in a shared
    directory is refused with a message that names the path and its owner, and the guard counts as
    locked.
  - A file lock that another process holds is waited for at most 20 seconds (the environment variable
    C(RESILIENCE_OPS_LOCK_WAIT), a duration such as C(5s), changes this); then the task fails, nothing
    is changed, and the message names the process and the user that hold it.
  - With I(store=etcd) the guard is shared by a fleet (AAP execution nodes, CI runners). Every change is
    a compare-and-swap transaction, so concurrent lockers on any host never lose or double a lock.
  - Every lock, extension, unlock and clean-up of an expired lock is appended to the audit trail
    C(<path>.audit.jsonl) as one JSON line, with the actor, so "who locked production, and why" has an
    answer. An audit trail that is refused (a symbolic link, not a regular file, another user's file)
    makes the task fail. An unlock is then not made; a lock is made (the guard fails closed) and the
    task fails with C(changed=true).
  - An expired lock is removed automatically (not in check mode). A lock file that cannot be read as a
    guard (not a guard document, larger than 64 KiB, writable by other users, hard-linked) is reported
    as corrupt and treated as locked (fail closed); it is never deleted silently, only by I(force).
  - The default path is under C(/run), a tmpfs on most hosts, so a reboot lifts the guard. Choose a
    persistent I(path), for example under C(/var/lib), to keep it across reboots.
  - The same program is a command-line tool, C(qos_guard lock [minutes] | unlock | status), whose
    C(status) exits 1 while the guard is locked.
extends_documentation_fragment:
  - resilience.ops.guard_store
  - resilience.ops.etcd
  - resilience.ops.module_cache
author:
  - resilience.ops contributors
options:
  path:
    description:
      - The guard's lock file. Its directory is created with mode 0700 when missing.
      - A directory of another user, one that other users can write to without the sticky bit, or a
        symbolic link anywhere in the path is refused, and nothing is created in it.
      - With I(store=etcd), the name of the guard's key under I(etcd_prefix); no local file is used.
    type: path
    default: /run/threader.qos.guard
    aliases: [lock_file]
  state:
    description:
      - C(locked) locks the guard for I(minutes). C(unlocked) removes it. C(status) only reports it.
    type: str
    choices: [locked, unlocked, status]
    default: status
  minutes:
    description:
      - The guard window in minutes, for I(state=locked), 1 to 10080 (one week).
    type: int
    default: 15
    aliases: [window_minutes]
  owner:
    description:
      - Who holds the lock. Defaults to C(user@host) of the process on the target.
      - At most 1024 bytes, checked before anything is written.
    type: str
  reason:
    description:
      - Why the guard is locked or unlocked; recorded in the lock and the audit trail.
      - At most 4096 bytes, checked before anything is written.
    type: str
    default: ""
  lock_id:
    description:
      - With I(state=unlocked), unlock only when the active lock has this id, so that one pipeline does
        not release another's guard by mistake. Use the C(lock_id) returned by the task that locked.
      - At most 128 bytes.
    type: str
  extend:
    description:
      - With I(state=locked) and a lock already in place, move its expiry out to now + I(minutes). An
        expiry is never shortened. An extension keeps the lock id and C(locked_at) but starts the
        stability window again (C(window_start)), and a release that evaluated the lock before it does
        not release it. Without it an active lock is left as it is (the task reports no
        change), which keeps repeated runs idempotent.
    type: bool
    default: false
  force:
    description:
      - With I(state=locked), replace any lock (also a later or corrupt one) with a new lock of exactly
        I(minutes). With I(state=unlocked), remove any lock whatever its id, also a corrupt file. Forced
        changes are marked as such in the audit trail.
      - A lock file that cannot be read (corrupt, too large, writable by others, hard-linked) is always
        replaced or removed, provided it is a regular file of the user the module runs as (or root). A
        symbolic link, a named pipe or another user's file is never followed, replaced or removed;
        inspect it and remove it by hand.
    type: bool
    default: false
  fail_if_locked:
    description:
      - With I(state=status), fail the task while the guard is locked, with a message that gives the
        remaining time, the owner and the reason. This is the pre-deployment check.
    type: bool
    default: false
  textfile_dir:
    description:
      - A directory read by node_exporter's textfile collector (C(--collector.textfile.directory)). When
        given, the guard's state is written there after every run (not in check mode), atomically, as
        C(resilience_qos_guard_<path>.prom) with mode 0644, in the gauges C(resilience_qos_guard_locked),
        C(resilience_qos_guard_corrupt), C(resilience_qos_guard_expiry_timestamp_seconds),
        C(resilience_qos_guard_locked_timestamp_seconds), C(resilience_qos_guard_window_seconds) and
        C(resilience_qos_guard_last_update_timestamp_seconds), each labelled C(guard=<path>).
      - A failed write is a warning, never a failure of the task.
    type: path
attributes:
  check_mode:
    support: full
    description: Reports the change that would be made; the lock file, its audit trail and expired locks are left alone.
  diff_mode:
    support: full
    description: Shows the lock before and after a change.
  platform:
    platforms: [posix, windows]
    description: Builds for linux/amd64, linux/arm64 and windows/amd64 are chosen by the target's platform.
notes:
  - AAP job artifacts are published on success (C(ansible_stats) with C(per_host=false)) as
    C(qos_guard_locked), C(qos_guard_path), C(qos_guard_lock_id), C(qos_guard_expires_at),
    C(qos_guard_remaining_seconds), C(qos_guard_owner) and C(qos_guard_reason).
  - Times are RFC 3339 in UTC.
seealso:
  - module: resilience.ops.qos_guard_release
"""

EXAMPLES = r"""
- name: Refuse to deploy while the guard window is locked
  resilience.ops.qos_guard:
    state: status
    fail_if_locked: true

- name: Lock the guard window for 30 minutes after a rollback
  resilience.ops.qos_guard:
    state: locked
    minutes: 30
    reason: "rollback of release {{ release_id }}"
    extend: true
  register: guard

- name: Release only our own lock
  resilience.ops.qos_guard:
    state: unlocked
    lock_id: "{{ guard.lock_id }}"

- name: Keep the guard across reboots
  resilience.ops.qos_guard:
    path: /var/lib/threader/qos.guard
    state: locked

- name: One guard for the whole fleet, kept in etcd
  resilience.ops.qos_guard:
    store: etcd
    etcd_endpoints: [https://etcd1.example.com:2379, https://etcd2.example.com:2379, https://etcd3.example.com:2379]
    etcd_prefix: /team-payments/
    etcd_username: deployer
    etcd_password: "{{ vault_etcd_password }}"
    etcd_ca_file: /etc/pki/etcd/ca.pem
    path: /threader/qos.guard
    state: status
    fail_if_locked: true
"""

RETURN = r"""
locked:
  description: Whether the guard is locked after the task (a corrupt lock file counts as locked).
  returned: always
  type: bool
  sample: true
path:
  description: The lock file.
  returned: always
  type: str
  sample: /run/threader.qos.guard
lock_id:
  description: Id of the active lock; empty when unlocked.
  returned: always
  type: str
  sample: 3f2a9c0d41b7e865
locked_at:
  description: When the active lock was taken (RFC 3339, UTC); empty when unlocked.
  returned: always
  type: str
  sample: "2026-11-23T10:00:00Z"
expires_at:
  description: When the active lock expires (RFC 3339, UTC); empty when unlocked.
  returned: always
  type: str
  sample: "2026-11-23T10:15:00Z"
remaining_seconds:
  description: Seconds until the lock expires; 0 when unlocked.
  returned: always
  type: int
  sample: 900
owner:
  description: Who holds the lock.
  returned: always
  type: str
  sample: deploy@ci-runner-3
reason:
  description: Why the guard is locked.
  returned: always
  type: str
  sample: rollback of release 42
window_minutes:
  description: The window the lock was taken for.
  returned: always
  type: int
  sample: 15
window_start:
  description:
    - When the latest lock or extension was made (RFC 3339, UTC); empty when unlocked. A stability window
      that decides a release (M(resilience.ops.qos_guard_release)) must lie entirely after it.
    - Kept in the lock as C(window_start). A lock written by an earlier version, without it, gives
      C(expires_at) minus C(window_minutes), never earlier than C(locked_at).
  returned: always
  type: str
  sample: "2026-11-23T10:00:00Z"
corrupt:
  description: Whether the lock file could not be read; the guard then counts as locked.
  returned: always
  type: bool
  sample: false
unknown:
  description: Whether the guard's store could not be reached (etcd unreachable); the guard then counts as locked.
  returned: always
  type: bool
  sample: false
expired_lock_removed:
  description: Whether an expired lock was found and removed by this task.
  returned: always
  type: bool
  sample: false
"""
