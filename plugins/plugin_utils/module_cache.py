# Copyright: resilience.ops contributors
# MIT License (see LICENSE)
"""The module cache on managed hosts: the shell commands that run a cached binary module.

A module's binary reaches a host once per build and per user that runs it. It is kept at

    <cache dir>/<sha256 of the file>/AnsiballZ_<module>

with <cache dir> C(~/.ansible/resilience.ops) by default (the home of the user that runs the module,
the become user included). A task then sends one command over its connection with the task's
arguments on standard input (as ansible-core pipelines Python modules); the command checks the
cache and runs the binary as "<file> -", which the module runtime reads as "arguments on stdin"
(internal/module ArgsFile). Nothing else of the task is written on the host.

Before the file runs, the command checks on the host, with the shell and coreutils only:
  - every directory from / down to the cache directory (after symbolic links are resolved) belongs
    to root or to the user and no one else can write to it (root's sticky directories such as /tmp
    are accepted above the cache directory); the cache directory and the hash directory belong to
    the user and only the user can write to them. Anything else is refused: the task falls back to
    ansible-core's way of sending the binary, and says why at -v.
  - the file belongs to the user, is a regular file, executable and not writable by anyone else,
    and its content is the one its path names. A full sha256 of a 6-11 MiB file costs 25-40 ms on a
    host; so the command keeps a stamp beside the file (device, inode, size, mtime and ctime in
    nanoseconds, as stat(1) prints them) written right after the hash was last checked, and hashes
    the file again whenever the stamp differs. Any write, truncation, chmod or replacement of the
    file changes its ctime (which no user can set back), so an altered file is hashed, found
    different and replaced before it runs.

A miss (no file, or an altered one) makes the command print a status line and stop before the
module runs; the action plugin then sends one command whose standard input holds the task's
arguments (one line of JSON) followed by the binary: the host writes the binary to a temporary file
in the hash directory, checks its sha256, and renames it into place (atomic: concurrent tasks on one
host each install the same content), then runs it.

Every status line starts with "rops-": "rops-exec <platform>" is printed right before the module
starts, so the controller knows whether it may still fall back (the module has not run) or must
report what the module printed.
"""

from __future__ import annotations

import hashlib
import os
import shlex

# The cache directory when the variable resilience_ops_module_cache_dir is not set.
DEFAULT_DIR = "~/.ansible/resilience.ops"

# Status lines of the remote command (see parse_output).
EXEC = "rops-exec"
STATUS = "rops-cache:"

# uname -s -m words of the Linux builds, by Go architecture (the Makefile's PLATFORMS).
UNAME_MACHINES = {
    "amd64": ("x86_64", "amd64"),
    "arm64": ("aarch64", "arm64", "armv8l"),
}

# Shells the command is written for (POSIX sh): the basename of ansible_shell_executable.
POSIX_SHELLS = frozenset({"sh", "bash", "dash", "ash", "ksh", "mksh", "zsh", "busybox"})


class Build:
    """One binary of the collection for one platform: its local path, content hash and name."""

    def __init__(self, module, goos, goarch, path):
        self.module = module
        self.goos = goos
        self.goarch = goarch
        self.path = path
        self._sha256 = None

    @property
    def platform(self):
        return "%s/%s" % (self.goos, self.goarch)

    @property
    def name(self):
        return "AnsiballZ_%s" % self.module

    @property
    def sha256(self):
        if self._sha256 is None:
            h = hashlib.sha256()
            with open(self.path, "rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    h.update(chunk)
            self._sha256 = h.hexdigest()
        return self._sha256

    def data(self):
        with open(self.path, "rb") as f:
            return f.read()

    def size(self):
        return os.path.getsize(self.path)


def check_dir(path):
    """Returns an error message when path cannot be the cache directory, else None."""
    if not path or any(c in path for c in "\0\n"):
        return "must be a path on one line"
    if not (path == "~" or path.startswith("~/") or path.startswith("/")):
        return "must be absolute or start with ~/ (the home of the user that runs the module)"
    return None


# The shell functions both commands share. s prints a status line and stops before the module runs
# (the install command first reads the rest of its input, so that the controller's write of the
# binary never meets a closed pipe). v checks the hash directory, the cache directory D and every
# directory above it, and with "v f" the file too: T is then the file's stamp when the file is
# fit to run (else empty).
_PRELUDE = r"""umask 077; set -f
s() { [ -z "$DRAIN" ] || cat >/dev/null; printf '%s %s %s %s\n' "$STATUS" "$1" "${P:--}" "$2"; exit 0; }
[ -n "$HOME" ] || s refused 'HOME is not set'
case $R in '~') R=$HOME;; '~/'*) R=$HOME/${R#'~/'};; esac
v() {
  w=$1
  [ -O "$D/$H" ] || s refused "$D/$H does not belong to the user"
  set -- "$D/$H"; p=$D
  while [ -n "$p" ]; do set -- "$@" "$p"; p=${p%/*}; done
  set -- "$@" /; c=$#
  [ "$w" = f ] && set -- "$@" "$D/$H/$N"
  o=$(LC_ALL=C stat -c '%u %f %d:%i:%s:%.9Y:%.9Z' "$@") || s refused 'stat(1) failed'
  i=0; T=
  while read -r u f t; do
    i=$((i+1)); m=$((0x$f)); eval "n=\${$i}"
    if [ $i = 1 ]; then me=$u; fi
    if [ $i -le 2 ]; then
      [ "$u" = "$me" ] && [ $((m & 61440)) = 16384 ] && [ $((m & 18)) = 0 ] ||
        s refused "$n must be a directory of the user that only the user can write to"
    elif [ $i -le $c ]; then
      [ "$u" = 0 ] || [ "$u" = "$me" ] || s refused "$n belongs to another user (uid $u)"
      [ $((m & 18)) = 0 ] || { [ "$u" = 0 ] && [ $((m & 512)) != 0 ]; } ||
        s refused "$n can be written by other users"
    elif [ "$u" = "$me" ] && [ $((m & 61440)) = 32768 ] && [ $((m & 18)) = 0 ] && [ $((m & 64)) != 0 ]; then
      T=$t
    fi
  done <<EOF
$o
EOF
}
"""


def _uname_words(build):
    return "|".join(shlex.quote("Linux %s" % m) for m in UNAME_MACHINES.get(build.goarch, (build.goarch,)))


def _group(script):
    """The script as one brace group: the shell parses all of it before it runs any of it (a command
    cut short runs nothing), and ansible's " && sleep 0" can follow it."""
    return "{\n%s}" % script


def run_command(builds, cache_dir, env):
    """The command of a task whose binary may be in the cache.

    builds: the candidate builds of one module: one when the host's platform is known (then no
    uname runs), else every Linux build, chosen on the host by `uname -s -m`. env: ansible's
    environment prefix for the module (VAR=value ...). Standard input: the task's arguments.
    """
    head = "STATUS=%s R=%s N=%s\n" % (STATUS, shlex.quote(cache_dir), shlex.quote(builds[0].name))
    plat = ""
    if len(builds) == 1:
        head += "P=%s H=%s\n" % (builds[0].platform, builds[0].sha256)
    else:
        arms = "".join("%s) P=%s H=%s;;\n" % (_uname_words(b), b.platform, b.sha256) for b in builds)
        plat = 'U=$(uname -sm)\ncase $U in\n%s*) s unsupported "$U";;\nesac\n' % arms
    body = r"""cd -P "$R" 2>/dev/null && D=$PWD && [ -f "$D/$H/$N" ] || s miss "$(uname -sm)"
v f
F=$D/$H/$N
[ -n "$T" ] || s altered "$F is not an executable file of the user that only the user can write to"
k=
[ -f "$F.ok" ] && [ ! -L "$F.ok" ] && read -r k <"$F.ok"
if [ "$k" != "$T" ]; then
  set -- $(sha256sum "$F" 2>/dev/null)
  [ "$1" = "$H" ] || s altered "$F does not hash to its name"
  printf '%s\n' "$T" >"$F.ok"
fi
printf 'rops-exec %s\n' "$P"
"""
    return _group(head + _PRELUDE + plat + body + "%s exec \"$F\" -\n" % env)


def install_command(build, cache_dir, env):
    """The command that installs build in the cache and runs it.

    Standard input: the task's arguments on one line, then the binary.
    """
    head = "STATUS=%s DRAIN=1 R=%s N=%s P=%s H=%s\n" % (
        STATUS, shlex.quote(cache_dir), shlex.quote(build.name), build.platform, build.sha256)
    body = r"""U=$(uname -sm)
case $U in %s) ;; *) s wrong-platform "$U";; esac
mkdir -p "$R/$H" 2>/dev/null; cd -P "$R" 2>/dev/null && D=$PWD || s refused "cannot create $R/$H"
v
t=$(mktemp "$D/$H/.in.XXXXXX") || s refused "cannot write in $D/$H"
trap 'rm -f "$t"' EXIT HUP INT TERM
IFS= read -r a
cat >"$t"
DRAIN=
set -- $(sha256sum "$t" 2>/dev/null)
[ "$1" = "$H" ] || s refused "the binary arrived damaged, or sha256sum(1) is missing"
F=$D/$H/$N
chmod 0700 "$t" && mv -f "$t" "$F" || s refused "cannot install $F"
LC_ALL=C stat -c '%%d:%%i:%%s:%%.9Y:%%.9Z' "$F" >"$F.ok"
printf 'rops-exec %%s\n' "$P"
printf '%%s\n' "$a" | %s "$F" -
""" % (_uname_words(build), env)
    return _group(head + _PRELUDE + body)


def parse_output(stdout):
    """Splits the remote command's output into (status, platform, detail, rest).

    status is "exec" when the module started (rest is its output), "miss", "altered", "refused",
    "unsupported" or "wrong-platform" when it did not, and None when the command printed no status
    line at all (it did not run, for example because become failed).
    """
    lines = stdout.splitlines(True)
    for i, line in enumerate(lines):
        words = line.strip().split(" ", 3)
        if words[0] == EXEC and len(words) >= 2:
            return "exec", words[1], "", "".join(lines[i + 1:])
        if words[0] == STATUS and len(words) >= 3:
            detail = words[3] if len(words) > 3 else ""
            return words[1], (None if words[2] == "-" else words[2]), detail, ""
    return None, None, "", stdout
