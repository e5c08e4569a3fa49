# -*- coding: utf-8 -*-
# Copyright: resilience.ops contributors
# MIT License (see LICENSE)

# Documentation only: resilience.ops.warn is an action plugin (plugins/action/warn.py) that runs on
# the controller.

from __future__ import annotations

DOCUMENTATION = r"""
module: warn
short_description: Show a warning or a deprecation warning from a playbook or a role
version_added: "1.0.0"
description:
  - Adds I(msg) to the task's result as a warning, which ansible-core shows as C([WARNING]) (and
    C(ansible-runner) and AAP record in the task's event), or with I(deprecated) as a deprecation
    warning of this collection (C([DEPRECATION WARNING])).
  - The collection's playbooks and roles use it for settings that cannot work as intended (a guard
    window too short for an early release) and for deprecated variable names. Use it with C(when).
  - Runs on the controller only and never changes anything.
author:
  - resilience.ops contributors
options:
  msg:
    description: The warning, or a list of warnings.
    type: raw
    required: true
  deprecated:
    description: Show I(msg) as a deprecation warning of C(resilience.ops) instead of a warning.
    type: bool
    default: false
  version:
    description: With I(deprecated), the version of the collection that removes the feature.
    type: str
  date:
    description: With I(deprecated), the date (YYYY-MM-DD) after which the feature is removed. Not with I(version).
    type: str
attributes:
  check_mode:
    support: full
    description: Warns in check mode too.
  diff_mode:
    support: none
  platform:
    platforms: all
notes:
  - Warnings are shown unless C(action_warnings) is off; deprecation warnings unless
    C(deprecation_warnings) is off (ansible-test turns them off in integration tests).
"""

EXAMPLES = r"""
- name: Warn when the guard would expire before the release can run
  resilience.ops.warn:
    msg: the guard window is shorter than the stability window plus one evaluation
  when: qos_guard_window | int * 60 <= 15 * 60 + 10

- name: Deprecate a variable name
  resilience.ops.warn:
    msg: prometheus_url is deprecated, set qos_guard_prometheus_url
    deprecated: true
    version: 2.0.0
  when: prometheus_url is defined
"""

RETURN = r"""
msg:
  description: The warnings, joined with C(; ).
  returned: always
  type: str
"""
