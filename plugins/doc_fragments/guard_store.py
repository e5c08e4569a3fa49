# -*- coding: utf-8 -*-
# Copyright: resilience.ops contributors
# MIT License (see LICENSE)

# The store option of the modules that keep the QoS guard, qos_guard and qos_guard_release
# (extends_documentation_fragment: resilience.ops.guard_store, with resilience.ops.etcd).
# internal/modtest merges this fragment when it checks a module's documentation against its Go spec.

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  store:
    description:
      - Where the guard is kept. C(file) (the default) is a local file at I(path), nothing to set up; it
        protects only the jobs that run on this host (or container).
      - C(etcd) keeps the guard in an etcd v3 cluster that every execution node, runner and host shares,
        so a guard locked by one job holds for all. I(path) then names the guard's key under
        I(etcd_prefix), and the audit trail is kept in etcd beside it. The lock is written with a
        lease that ends one second after its expiry, so etcd lifts the guard on time even when nobody
        looks at it (no C(expire) event is recorded then).
      - When etcd cannot be reached within I(etcd_timeout), the guard fails closed, it counts as
        locked with C(unknown=true) and nothing is changed or released.
      - The etcd options are the same for every module of the collection. Set them once for all
        tasks with C(module_defaults) and the C(group/resilience.ops.ops) action group (all three
        modules) or C(group/resilience.ops.guard) (the guard's two).
    type: str
    choices: [file, etcd]
    default: file
"""
