# -*- coding: utf-8 -*-
# Copyright: resilience.ops contributors
# MIT License (see LICENSE)

# How the action plugins send the binaries to managed hosts (plugins/plugin_utils/module_cache.py):
# notes only, no options, since the cache is set with variables rather than task parameters.

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
# The cache has no task options: variables set it (see the notes).
options: {}
notes:
  - "Module cache: on a POSIX host reached by a connection that can pipe data (ssh, local, paramiko,
    docker and the like), the binary is sent once per host, user and build, and kept in
    C(~/.ansible/resilience.ops/<sha256>/AnsiballZ_<module>) in the home of the user that runs the module
    (the become user included). A task is then one command on the connection with its arguments on the
    binary's standard input; nothing else is written on the host. This happens whatever the
    C(pipelining) setting, which ansible-core keeps off for Python modules only because of sudo's
    C(requiretty): such a sudo is detected and the task falls back."
  - "Before the cached binary runs, the host checks that every directory above it belongs to root or
    the user and that no one else can write to it, that the cache directories belong to the user, and
    that the file is the one its path names (sha256, checked again whenever the file's inode, size,
    mtime or ctime moved since the last check). An altered or truncated file is replaced; a cache that
    another user owns or can write to is refused."
  - "The task takes ansible-core's own way (the binary and an argument file copied to C(remote_tmp)
    for each task) for async tasks, with C(ANSIBLE_KEEP_REMOTE_FILES), for become methods that need a
    terminal (C(su), or C(sudo) with C(requiretty)), on Windows, over connections without pipelining,
    and when the host refuses the cache or cannot execute files in it. C(-v) says which way a task took
    and why."
  - "Variables: set C(resilience_ops_module_cache=false) (a host, group, play or extra variable) to turn
    the cache off. C(resilience_ops_module_cache_dir) moves it (an absolute path, or one under C(~/);
    default C(~/.ansible/resilience.ops), or the controller's C(RESILIENCE_OPS_MODULE_CACHE_DIR))."
  - "Old builds stay in the cache until removed; remove the directory to clear them, for example
    C(ansible all -m ansible.builtin.file -a 'path=~/.ansible/resilience.ops state=absent'). The next
    task sends its build again."
  - "The host's platform is taken from gathered facts, or learned by the first task on the host and
    kept as the fact C(resilience_ops_platforms) for the rest of the play."
"""
