# -*- coding: utf-8 -*-  # noqa: UP009
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Packing logic behind ``pyops.deploy.artifact``: the deploy's code as a tarball named by its sha256.

Plain Python (no AnsibleModule), so every rule is unit tested directly. It runs on the controller,
in the artifact cache: ``<cache>/<sha256>.tar.gz`` and, for a tarball small enough to travel inside
a task's arguments, ``<sha256>.tar.gz.b64``. Same input, same bytes (see ``tarball``), so every batch
of a run, and every run of the same code, gets the same release id.
"""

from __future__ import annotations

import base64
import hashlib
import os
import posixpath
import shutil
import stat
import subprocess
import tarfile
import tempfile
import zlib

from ansible_collections.pyops.deploy.plugins.module_utils._artifact import git as _git
from ansible_collections.pyops.deploy.plugins.module_utils._artifact import tarball
from ansible_collections.pyops.deploy.plugins.module_utils._artifact.source import (
    KINDS,
    describe,
    redact,
    redact_url,
    url_secrets,
)
from ansible_collections.pyops.deploy.plugins.module_utils._venv import requires
from ansible_collections.pyops.deploy.plugins.module_utils._venv.common import VenvError

__all__ = ["KINDS", "ArtifactError", "describe", "pack", "redact", "redact_url", "url_secrets"]

CACHE_MODE = 0o700
WHEEL_DIR_MODE = 0o755
_CHUNK = 1 << 20


class ArtifactError(Exception):
    """Bad input or a failed git command; the message is meant for the user and holds no credentials."""


def run_subprocess(argv):
    """Run ``argv`` without a terminal to prompt on; (rc, stdout, stderr) as AnsibleModule.run_command."""
    env = dict(os.environ, GIT_TERMINAL_PROMPT="0")
    done = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    return done.returncode, done.stdout, done.stderr


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _open_cache(cache):
    """The cache is the controller user's alone: it may hold private code and mirrors with credentials."""
    if not os.path.isdir(cache):
        os.makedirs(cache)
    if stat.S_IMODE(os.stat(cache).st_mode) != CACHE_MODE:
        os.chmod(cache, CACHE_MODE)


def _requirements_name(name, wheel):
    normal = posixpath.normpath(name or "")
    if not name or normal.startswith("/") or normal == "." or normal.split("/")[0] == "..":
        raise ArtifactError(f"requirements_name must be a relative path inside the release, got {name!r}")
    if normal == os.path.basename(wheel):
        raise ArtifactError("requirements_name must not be the wheel's own name")
    return normal


def wheel_members(wheel, requirements=None, requirements_name=None):
    """The wheel under its own file name (pip and uv read the project and version from it) and the
    requirements file beside it under its name: readable by all, as u=rwX,go=rX makes them."""
    files = {os.path.basename(wheel): wheel}
    if requirements:
        files[_requirements_name(requirements_name, wheel)] = requirements
    tree = {}
    for name, path in files.items():
        node = tree
        parts = name.split("/")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ArtifactError(f"requirements_name {name!r} runs through the wheel's name")
        node[parts[-1]] = path
    yield tarball._member(".", tarfile.DIRTYPE, WHEEL_DIR_MODE), None
    yield from _tree_walk(tree, ".")


def _tree_walk(node, prefix):
    for name in sorted(node, key=os.fsencode):
        member, value = prefix + "/" + name, node[name]
        if isinstance(value, dict):
            yield tarball._member(member, tarfile.DIRTYPE, WHEEL_DIR_MODE), None
            yield from _tree_walk(value, member)
        else:
            executable = os.stat(value).st_mode & 0o111
            yield tarball._member(member, tarfile.REGTYPE, 0o755 if executable else 0o644), value


def _check_source(kind, src, requirements):
    if kind not in KINDS:
        raise ArtifactError("kind must be one of {}, got {!r}".format(", ".join(KINDS), kind))
    if not src:
        raise ArtifactError("src is required")
    if requirements and kind != "wheel":
        raise ArtifactError("requirements is only used with kind=wheel")
    if kind == "dir" and not os.path.isdir(src):
        raise ArtifactError(f"src {src} is not a directory")
    if kind in ("archive", "wheel") and not os.path.isfile(src):
        raise ArtifactError(f"src {src} is not a file")
    if requirements and not os.path.isfile(requirements):
        raise ArtifactError(f"requirements {requirements} is not a file")


def _fill(kind, src, git_ref, requirements, requirements_name, cache, destination, run, git):
    if kind == "dir":
        tarball.write(destination, tarball.tree_members(src))
    elif kind == "wheel":
        tarball.write(destination, wheel_members(src, requirements, requirements_name))
    elif kind == "archive":
        shutil.copyfile(src, destination)
    else:
        if git_ref.startswith("-"):
            raise ArtifactError(f"git_ref must not start with '-', got {git_ref!r}")
        fd, plain = tempfile.mkstemp(prefix=".git-archive.", dir=cache)
        os.close(fd)
        try:
            _git.export(run, git, cache, src, git_ref, plain)
            tarball.gzip_file(plain, destination)
        except _git.GitError as exc:
            raise ArtifactError(str(exc)) from None
        finally:
            os.unlink(plain)


def pack(
    cache, kind, src, git_ref="HEAD", inline_max=0, requirements=None, requirements_name=None, run=None, git="git"
):
    """Pack ``src`` into ``<cache>/<sha256>.tar.gz``; return its sha256, path, size, inline and content path.

    ``run(argv)`` runs git and returns (rc, stdout, stderr). A tarball of at most ``inline_max``
    bytes also gets a base64 copy, ``<sha256>.tar.gz.b64``, which the deploy sends inside a task's
    arguments instead of copying the file.
    """
    try:
        return _pack(cache, kind, src, git_ref or "HEAD", inline_max, requirements, requirements_name, run, git)
    except (OSError, ValueError, tarfile.TarError) as exc:
        raise ArtifactError(redact(f"packing {kind} failed: {exc}", url_secrets(src or ""))) from None


def _pack(cache, kind, src, git_ref, inline_max, requirements, requirements_name, run, git):
    _check_source(kind, src, requirements)
    _open_cache(cache)
    fd, tmp = tempfile.mkstemp(prefix=".pack.", dir=cache)
    os.close(fd)
    try:
        _fill(kind, src, git_ref, requirements, requirements_name, cache, tmp, run or run_subprocess, git)
        sha256 = _sha256(tmp)
        path = os.path.join(cache, sha256 + ".tar.gz")
        os.rename(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    size = os.path.getsize(path)
    requires = requires_python(path)
    inline = size <= (inline_max or 0)
    content_path = None
    if inline:
        content_path = path + ".b64"
        if not os.path.isfile(content_path) or not os.path.getsize(content_path):
            _write_base64(path, content_path, cache)
    return {
        "sha256": sha256,
        "path": path,
        "size": size,
        "inline": inline,
        "content_path": content_path,
        "requires_python": requires,
    }


def requires_python(path):
    """The requires-python of the tarball's top-level pyproject.toml ("" without one): every host can check its
    interpreter against it before anything is unpacked. Only a regular member of at most 1 MiB is read.

    An archive given as it is (kind ``archive``) that cannot be read here gives "": the hosts' unpack then
    fails with its own reason, as it did before this was read.
    """
    try:
        with tarfile.open(path, "r:*") as packed:
            names = set(packed.getnames())
            name = next((n for n in ("./pyproject.toml", "pyproject.toml") if n in names), None)
            if name is None:
                return ""
            member = packed.getmember(name)
            if not member.isfile() or member.size > _CHUNK:
                return ""
            text = packed.extractfile(member).read().decode("utf-8", errors="replace")
    except (tarfile.TarError, OSError, EOFError, zlib.error):
        return ""
    try:
        return requires.parse(text, "the release's pyproject.toml")
    except VenvError as exc:
        raise ArtifactError(str(exc)) from None


def _write_base64(path, content_path, cache):
    fd, tmp = tempfile.mkstemp(prefix=".b64.", dir=cache)
    try:
        with os.fdopen(fd, "wb") as out, open(path, "rb") as handle:
            out.write(base64.b64encode(handle.read()))
        os.rename(tmp, content_path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
