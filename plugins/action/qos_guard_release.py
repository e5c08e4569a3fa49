# Copyright: resilience.ops contributors
# MIT License (see LICENSE)
"""Runs the build of resilience.ops.qos_guard_release that matches the target's platform."""

from __future__ import annotations

from ansible_collections.resilience.ops.plugins.plugin_utils.binary_dispatch import BinaryModuleAction


class ActionModule(BinaryModuleAction):
    MODULE = "qos_guard_release"
