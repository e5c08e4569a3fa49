# Copyright: resilience.ops contributors
# MIT License (see LICENSE)
"""Show a warning or a deprecation warning from a playbook or a role (resilience.ops.warn)."""

from __future__ import annotations

import re

from ansible.module_utils.six import string_types
from ansible.plugins.action import ActionBase

COLLECTION = "resilience.ops"
_VERSION = re.compile(r"^\d+\.\d+\.\d+$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class ActionModule(ActionBase):
    """Turns msg into a warning (or, with deprecated, a deprecation warning) in the task's result,
    which ansible-core shows as [WARNING] (or [DEPRECATION WARNING]). Runs on the controller only."""

    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("msg", "deprecated", "version", "date"))
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        self._supports_check_mode = True
        result = super().run(tmp, task_vars)
        del tmp

        args = self._task.args
        msg = args.get("msg")
        if isinstance(msg, string_types):
            msgs = [msg]
        elif isinstance(msg, list) and all(isinstance(m, string_types) for m in msg):
            msgs = list(msg)
        else:
            return dict(result, failed=True, msg="resilience.ops.warn: msg must be a string or a list of strings")
        msgs = [m.strip() for m in msgs if m and m.strip()]
        if not msgs:
            return dict(result, failed=True, msg="resilience.ops.warn: msg must not be empty")

        deprecated = args.get("deprecated", False)
        if isinstance(deprecated, string_types):
            deprecated = deprecated.strip().lower() in ("yes", "true", "on", "1")
        version, date = args.get("version"), args.get("date")
        if (version or date) and not deprecated:
            return dict(result, failed=True, msg="resilience.ops.warn: version and date go with deprecated: true")
        if version and date:
            return dict(result, failed=True, msg="resilience.ops.warn: give version or date, not both")
        if version and not _VERSION.match(str(version)):
            return dict(result, failed=True, msg="resilience.ops.warn: version must look like 2.0.0, got %r" % (version,))
        if date and not _DATE.match(str(date)):
            return dict(result, failed=True, msg="resilience.ops.warn: date must look like 2026-06-30, got %r" % (date,))

        result["changed"] = False
        result["msg"] = "; ".join(msgs)
        if deprecated:
            dep = {"collection_name": COLLECTION}
            if version:
                dep["version"] = str(version)
            if date:
                dep["date"] = str(date)
            result["deprecations"] = [dict(dep, msg=m) for m in msgs]
        else:
            result["warnings"] = msgs
        return result
