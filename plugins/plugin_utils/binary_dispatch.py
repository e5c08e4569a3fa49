# Copyright: resilience.ops contributors
# MIT License (see LICENSE)
"""Run the build of a Go binary module that matches the target host's platform.

A binary module runs on the managed host, so one file serves one OS and architecture. Each module of
this collection is built as plugins/modules/__bin/<module>_<goos>_<goarch>[.exe]; the thin action
plugin of the same name picks the build from the host's facts when they are known and the task is
not delegated, and otherwise asks the host with `uname -s -m` over the task's own connection (no
Python needed there). It then runs that build with the task's arguments, check mode and async
settings unchanged.
"""

from __future__ import annotations

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.action import ActionBase
from ansible.utils.vars import merge_hash

COLLECTION = "resilience.ops"

# Builds shipped with the collection (see the Makefile's PLATFORMS).
PLATFORMS = frozenset({("linux", "amd64"), ("linux", "arm64"), ("windows", "amd64")})

_ARCH = {
    "x86_64": "amd64",
    "amd64": "amd64",
    "x64": "amd64",
    "64-bit": "amd64",
    "aarch64": "arm64",
    "arm64": "arm64",
    "armv8l": "arm64",
}
_OS = {"linux": "linux", "windows": "windows", "win32nt": "windows"}


def normalize(system, machine):
    """Map facts or `uname -s -m` words to Go's GOOS and GOARCH names."""
    goos = _OS.get(to_text(system).strip().lower(), to_text(system).strip().lower())
    goarch = _ARCH.get(to_text(machine).strip().lower(), to_text(machine).strip().lower())
    return goos, goarch


class BinaryModuleAction(ActionBase):
    """Base class of the collection's action plugins; subclasses set MODULE."""

    MODULE = ""
    _requires_connection = True

    def _platform_from_facts(self, task_vars):
        if self._task.delegate_to:
            return None
        facts = (task_vars or {}).get("ansible_facts") or {}
        if facts.get("os_family") == "Windows":
            return "windows", "amd64"
        system, machine = facts.get("system"), facts.get("architecture")
        if system and machine:
            return normalize(system, machine)
        return None

    def _platform_from_host(self):
        if getattr(self._connection._shell, "SHELL_FAMILY", "") == "powershell":
            return "windows", "amd64"
        res = self._low_level_execute_command("uname -s -m", sudoable=False)
        words = to_text(res.get("stdout", "")).split()
        if res.get("rc") != 0 or len(words) != 2:
            raise AnsibleActionFail(
                "%s.%s: cannot tell the target's platform: `uname -s -m` gave rc=%s, output %r"
                % (COLLECTION, self.MODULE, res.get("rc"), to_text(res.get("stdout", "")).strip()[:200])
            )
        return normalize(*words)

    def run(self, tmp=None, task_vars=None):
        # Set on the instance inside run(): ansible-core 2.14/2.15 read them from there.
        self._supports_check_mode = True
        self._supports_async = True
        result = super().run(tmp, task_vars)
        del tmp

        try:
            platform = self._platform_from_facts(task_vars) or self._platform_from_host()
        except AnsibleActionFail as e:
            return merge_hash(result, {"failed": True, "msg": str(e)})
        if platform not in PLATFORMS:
            supported = ", ".join("%s/%s" % p for p in sorted(PLATFORMS))
            return merge_hash(result, {
                "failed": True,
                "msg": "%s.%s has no build for %s/%s; builds exist for %s"
                % (COLLECTION, self.MODULE, platform[0], platform[1], supported),
            })
        name = "%s.__bin.%s_%s_%s" % (COLLECTION, self.MODULE, platform[0], platform[1])
        wrap_async = bool(self._task.async_val) and not self._connection.has_native_async
        module_result = self._execute_module(
            module_name=name,
            module_args=self._task.args,
            task_vars=task_vars,
            wrap_async=wrap_async,
        )
        if not wrap_async:
            self._remove_tmp_path(self._connection._shell.tmpdir)
        return merge_hash(result, module_result)
