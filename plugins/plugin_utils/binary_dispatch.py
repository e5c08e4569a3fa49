# Copyright: resilience.ops contributors
# MIT License (see LICENSE)
"""Run the build of a Go binary module that matches the target host's platform.

A binary module runs on the managed host, so one file serves one OS and architecture. Each module of
this collection is built as plugins/modules/__bin/<module>_<goos>_<goarch>[.exe]; the thin action
plugin of the same name picks the build and runs it with the task's arguments, check mode and async
settings unchanged.

On a POSIX host whose connection can pipe data to a command (ssh, local, paramiko, docker...), the
build is kept in a module cache on the host (see module_cache.py) and a task is one command with its
arguments on standard input: the binary crosses the connection once per host, user and build. Every
other case takes ansible-core's own way (copy the binary and an argument file to a temporary
directory, run, delete), and so does a task whose cache the host refuses: async tasks,
ANSIBLE_KEEP_REMOTE_FILES, become methods that need a terminal (su, or sudo with requiretty, found
out when it happens), Windows, connections without pipelining, shells other than POSIX sh, and the
variable resilience_ops_module_cache set to false. At -v the plugin says which way it took and why.

The host's platform comes from its gathered facts when the task is not delegated; otherwise the
plugin learns it with the first task on the host (in the cache command itself, or with `uname -s -m`)
and returns it as the fact resilience_ops_platforms (a mapping of connection address to
"<goos>/<goarch>"), so later tasks of the play do not ask again.
"""

from __future__ import annotations

import json
import os

from ansible import constants as C
from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.text.converters import to_bytes, to_text
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display
from ansible.utils.unsafe_proxy import wrap_var
from ansible.utils.vars import merge_hash
from ansible.vars.clean import remove_internal_keys

from ansible_collections.resilience.ops.plugins.plugin_utils import module_cache

display = Display()

COLLECTION = "resilience.ops"

# Builds shipped with the collection (see the Makefile's PLATFORMS).
PLATFORMS = frozenset({("linux", "amd64"), ("linux", "arm64"), ("windows", "amd64")})

# The fact that remembers each host's platform for the rest of the play.
PLATFORM_FACT = "resilience_ops_platforms"

# Variables that control the module cache (documented in the doc fragment resilience.ops.module_cache).
CACHE_VAR = "resilience_ops_module_cache"
CACHE_DIR_VAR = "resilience_ops_module_cache_dir"
# The controller's environment variable for the cache directory when the variable is not set.
CACHE_DIR_ENV = "RESILIENCE_OPS_MODULE_CACHE_DIR"

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


class _Fallback(Exception):
    """The module cache cannot serve this task; the message says why (shown at -v). platform is the
    host's platform when the attempt learned it."""

    def __init__(self, msg, platform=None):
        super().__init__(msg)
        self.platform = platform


class BinaryModuleAction(ActionBase):
    """Base class of the collection's action plugins; subclasses set MODULE."""

    MODULE = ""
    _requires_connection = True

    # -- platform ---------------------------------------------------------------------------------

    def _target_key(self, task_vars):
        addr = self._get_remote_addr(task_vars or {})
        try:
            port = self._connection.get_option("port")
        except (KeyError, AttributeError):
            port = None
        return "%s:%s" % (addr, port) if port else to_text(addr)

    def _platform_from_facts(self, task_vars):
        facts = (task_vars or {}).get("ansible_facts") or {}
        known = facts.get(PLATFORM_FACT)
        if isinstance(known, dict):
            plat = known.get(self._target_key(task_vars))
            if isinstance(plat, str) and plat.count("/") == 1:
                return tuple(plat.split("/"))
        if self._task.delegate_to:
            return None
        if facts.get("os_family") == "Windows":
            return "windows", "amd64"
        system, machine = facts.get("system"), facts.get("architecture")
        if system and machine:
            return normalize(system, machine)
        return None

    def _platform_from_host(self):
        if self._is_powershell():
            return "windows", "amd64"
        res = self._low_level_execute_command("uname -s -m", sudoable=False)
        words = to_text(res.get("stdout", "")).split()
        if res.get("rc") != 0 or len(words) != 2:
            raise AnsibleActionFail(
                "%s.%s: cannot tell the target's platform: `uname -s -m` gave rc=%s, output %r"
                % (COLLECTION, self.MODULE, res.get("rc"), to_text(res.get("stdout", "")).strip()[:200])
            )
        return normalize(*words)

    def _is_powershell(self):
        return getattr(self._connection._shell, "SHELL_FAMILY", "") == "powershell"

    def _build(self, platform):
        goos, goarch = platform
        name = "%s_%s_%s" % (self.MODULE, goos, goarch)
        path = self._shared_loader_obj.module_loader.find_plugin("%s.__bin.%s" % (COLLECTION, name), mod_type="")
        if not path:
            raise AnsibleActionFail("%s.%s: the build %s is missing from the collection" % (COLLECTION, self.MODULE, name))
        return module_cache.Build(self.MODULE, goos, goarch, path)

    def _unsupported(self, platform):
        supported = ", ".join("%s/%s" % p for p in sorted(PLATFORMS))
        return "%s.%s has no build for %s/%s; builds exist for %s" % (
            COLLECTION, self.MODULE, platform[0], platform[1], supported)

    # -- cache settings ---------------------------------------------------------------------------

    def _var(self, task_vars, name, default):
        value = (task_vars or {}).get(name)
        if value is None:
            return default
        return self._templar.template(value)

    def _cache_dir(self, task_vars):
        """The cache directory, or a _Fallback when the cache is off or cannot be used here."""
        if not boolean(self._var(task_vars, CACHE_VAR, True), strict=False):
            raise _Fallback("the module cache is off (%s)" % CACHE_VAR)
        default_dir = os.environ.get(CACHE_DIR_ENV) or module_cache.DEFAULT_DIR
        cache_dir = to_text(self._var(task_vars, CACHE_DIR_VAR, default_dir))
        problem = module_cache.check_dir(cache_dir)
        if problem:
            raise AnsibleActionFail("%s.%s: %s %r %s" % (COLLECTION, self.MODULE, CACHE_DIR_VAR, cache_dir, problem))
        if self._is_powershell():
            raise _Fallback("the host runs Windows")
        if self._task.async_val:
            raise _Fallback("async tasks run under ansible-core's async_wrapper")
        if C.DEFAULT_KEEP_REMOTE_FILES:
            raise _Fallback("ANSIBLE_KEEP_REMOTE_FILES keeps the module's files on the host")
        if not self._connection.has_pipelining or not self._connection.allow_executable:
            raise _Fallback("the connection %s cannot pipe the arguments" % self._connection.transport)
        if getattr(self._connection._shell, "SHELL_FAMILY", "") != "sh":
            raise _Fallback("the host's shell is not POSIX sh")
        executable = to_text(self._play_context.executable or "/bin/sh")
        if executable.rsplit("/", 1)[-1] not in module_cache.POSIX_SHELLS:
            raise _Fallback("the shell executable %s is not a POSIX shell" % executable)
        become = self._connection.become
        if become and (become.name == "su" or getattr(become, "require_tty", False)):
            raise _Fallback("become method %s needs a terminal" % become.name)
        return cache_dir

    # -- running ----------------------------------------------------------------------------------

    def _module_args(self, task_vars):
        """The task's arguments and ansible's _ansible_* keys, as JSON on one line (ASCII only). The
        module's name is its FQCN whichever build runs."""
        args = dict(self._task.args)
        self._update_module_args("%s.%s" % (COLLECTION, self.MODULE), args, task_vars)
        return to_bytes(json.dumps(args))

    def _result(self, res, rest):
        """The module's result from what it printed (rest), as ActionBase._execute_module makes it."""
        data = self._parse_returned_data(dict(res, stdout=rest, stdout_lines=rest.splitlines()))
        data.pop("_ansible_suppress_tmpdir_delete", None)
        remove_internal_keys(data)
        return wrap_var(data)

    def _run_cached(self, platform, cache_dir, task_vars, host):
        """Runs the task through the module cache; returns (result, platform) or raises _Fallback."""
        candidates = [platform] if platform else sorted(p for p in PLATFORMS if p[0] == "linux")
        builds = [self._build(p) for p in candidates]
        env = self._compute_environment_string()
        args = self._module_args(task_vars)

        res = self._low_level_execute_command(
            module_cache.run_command(builds, cache_dir, env), sudoable=True, in_data=args + b"\n")
        status, plat, detail, rest = module_cache.parse_output(to_text(res.get("stdout", "")))
        learned = tuple(plat.split("/")) if plat else platform
        if status == "exec":
            return self._finish(res, rest, learned)
        if status is None:
            raise _Fallback("the cache command did not run (rc=%s): %s" % (
                res.get("rc"), to_text(res.get("stderr", "")).strip()[:300]), learned)
        if status == "unsupported":
            raise AnsibleActionFail(self._unsupported(normalize(*(detail.split() + ["", ""])[:2])))
        if status == "refused":
            raise _Fallback("the host refused the module cache: %s" % detail, learned)
        # A miss, or an altered file: send the build for the host's platform with the task.
        if status == "altered":
            display.v("%s: %s; replacing it" % (COLLECTION, detail), host=host)
        if status == "miss" and len(detail.split()) == 2:
            learned = normalize(*detail.split())
        if learned not in PLATFORMS:
            raise AnsibleActionFail(self._unsupported(learned))
        build = self._build(learned)
        display.vvv("%s: installing %s for %s in the module cache %s (%d bytes)" % (
            COLLECTION, build.name, build.platform, cache_dir, build.size()), host=host)
        res = self._low_level_execute_command(
            module_cache.install_command(build, cache_dir, env), sudoable=True,
            in_data=args + b"\n" + build.data())
        status, plat, detail, rest = module_cache.parse_output(to_text(res.get("stdout", "")))
        if status == "exec":
            return self._finish(res, rest, learned)
        if status is None:
            raise _Fallback("the install command did not run (rc=%s): %s" % (
                res.get("rc"), to_text(res.get("stderr", "")).strip()[:300]), learned)
        if status == "wrong-platform" and len(detail.split()) == 2:
            learned = normalize(*detail.split())
        raise _Fallback("%s: %s" % (status, detail), learned)

    def _finish(self, res, rest, platform):
        if not rest.strip() and res.get("rc") in (126, 127):
            # The shell could not execute the file (a noexec mount, a security policy): the module
            # did not start.
            raise _Fallback("the host cannot execute files in the module cache: %s" % (
                to_text(res.get("stderr", "")).strip()[:300]), platform)
        return self._result(res, rest), platform

    def _run_copied(self, platform, task_vars):
        """ansible-core's way: copy the build and an argument file to a temporary directory."""
        name = "%s.__bin.%s_%s_%s" % (COLLECTION, self.MODULE, platform[0], platform[1])
        wrap_async = bool(self._task.async_val) and not self._connection.has_native_async
        module_result = self._execute_module(
            module_name=name,
            module_args=dict(self._task.args),
            task_vars=task_vars,
            wrap_async=wrap_async,
        )
        if not wrap_async:
            self._remove_tmp_path(self._connection._shell.tmpdir)
        return module_result

    def run(self, tmp=None, task_vars=None):
        # Set on the instance inside run(): ansible-core 2.14/2.15 read them from there.
        self._supports_check_mode = True
        self._supports_async = True
        result = super().run(tmp, task_vars)
        del tmp
        task_vars = task_vars or {}
        host = task_vars.get("inventory_hostname")

        known = self._platform_from_facts(task_vars)
        platform = known
        try:
            if platform and platform not in PLATFORMS:
                raise AnsibleActionFail(self._unsupported(platform))
            module_result = None
            try:
                cache_dir = self._cache_dir(task_vars)
                module_result, platform = self._run_cached(platform, cache_dir, task_vars, host)
            except _Fallback as e:
                platform = platform or e.platform
                display.v("%s: running %s without the module cache: %s" % (COLLECTION, self.MODULE, e), host=host)
            if module_result is None:
                platform = platform or self._platform_from_host()
                if platform not in PLATFORMS:
                    raise AnsibleActionFail(self._unsupported(platform))
                module_result = self._run_copied(platform, task_vars)
        except AnsibleActionFail as e:
            return merge_hash(result, {"failed": True, "msg": to_text(e)})

        if platform and platform != known:
            facts = dict((task_vars.get("ansible_facts") or {}).get(PLATFORM_FACT) or {})
            facts[self._target_key(task_vars)] = "%s/%s" % platform
            module_result = merge_hash(module_result, {"ansible_facts": {PLATFORM_FACT: facts}})
        return merge_hash(result, module_result)
