# -*- coding: utf-8 -*-  # noqa: UP009
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What ``pyops.deploy.venv`` compares a venv with, and the digest its marker records.

The requirements and lock files live in an app's release, which is untrusted code read as root:
they are opened without following a symlink in their last component, and only regular files are
read. Their text never leaves this module: only a digest of it does.

The digest is the one the virtualenv role has always recorded (Ansible's ``to_json | hash('sha256')``
of the same dict), so venvs built before stay current.
"""

from __future__ import annotations

import errno
import fnmatch
import hashlib
import json
import os
import re
import stat

from ansible_collections.pyops.deploy.plugins.module_utils._venv.common import VenvError, run

WHEELHOUSE_PATTERNS = ("*.whl", "*.tar.gz", "*.zip")
# The errors as slurp worded them, which the role reported before.
READ_ERRORS = {
    errno.ENOENT: "File not found: {}",
    errno.EACCES: "File is not readable: {}",
    errno.EISDIR: "Source is a directory and must be a file: {}",
}
HASH_OPTION = re.compile(r"--hash[= ]")
MARKER_KEYS = ("python", "interpreter", "inputs", "installer")
INTERPRETER_QUERY = (
    "import os, platform, sys; print(platform.python_version()); print(os.path.realpath(sys.executable))"
)


def read_input(path):
    """The text of an input file, read without following a symlink; VenvError (naming only the path) otherwise.

    Bytes are decoded as Ansible's b64decode filter decoded slurp's content, so the digest is unchanged.
    """
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise VenvError(f"Refusing to read {path}: it is a symlink; give the file itself") from None
        raise VenvError(READ_ERRORS.get(exc.errno, "Unable to read file: {}").format(path)) from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        if stat.S_ISDIR(mode):
            raise VenvError(READ_ERRORS[errno.EISDIR].format(path))
        raise VenvError(f"Refusing to read {path}: it is not a regular file")
    with os.fdopen(fd, "rb") as handle:
        return handle.read().decode("utf-8", "surrogateescape")


def has_hashes(texts):
    return any(HASH_OPTION.search(text) for text in texts)


def wheelhouse_names(directory):
    """The regular, non-hidden *.whl, *.tar.gz and *.zip files of a directory (as find listed them)."""
    if not directory or not os.path.isdir(directory):
        return []
    names = []
    for name in os.listdir(directory):
        if name.startswith(".") or not any(fnmatch.fnmatch(name, pattern) for pattern in WHEELHOUSE_PATTERNS):
            continue
        try:
            if stat.S_ISREG(os.lstat(os.path.join(directory, name)).st_mode):
                names.append(name)
        except OSError:
            continue
    return names


def sha256_or_missing(path):
    """A wheel file's sha256, or "missing" for a symlink, a non-file or an unreadable file (as stat gave)."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        return "missing"
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        return "missing"
    with os.fdopen(fd, "rb") as handle:
        digest = hashlib.sha256()
        for block in iter(lambda: handle.read(65536), b""):
            digest.update(block)
    return digest.hexdigest()


def device_of(path):
    """The filesystem of path itself, or for a path not there yet, of the nearest directory above it."""
    try:
        return os.lstat(path).st_dev
    except OSError:
        pass
    ancestor = os.path.dirname(os.path.abspath(path))
    while not os.path.exists(ancestor):
        ancestor = os.path.dirname(ancestor)
    return os.stat(ancestor).st_dev


def read_marker(path):
    """The marker's fields (strings only), or {} for a marker that is missing, not a file or not ours."""
    try:
        text = read_input(path)
        data = json.loads(text)
    except (VenvError, ValueError, OSError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {key: data[key] for key in MARKER_KEYS if isinstance(data.get(key), str)}


def interpreter(python):
    """The version and real path of the interpreter the venv is built on, as it reports them itself."""
    if not os.path.isabs(python):
        raise VenvError(f"python must be an absolute path, not {python}")
    lines = run("reading the interpreter", [python, "-I", "-c", INTERPRETER_QUERY]).split()
    if len(lines) != 2:
        raise VenvError(f"{python} did not report its version and path")
    return {"version": lines[0], "path": lines[1]}


def ansible_to_json(value):
    """Ansible's to_json filter: json.dumps with its default separators, ASCII only."""
    return json.dumps(value)


def inputs_digest(texts, wheelhouse, packages, package_files, installer, require_hashes, compile_bytecode):
    """The sha256 the marker records for a venv's inputs (the role's `to_json | hash('sha256')`)."""
    data = {
        "files": texts,
        # Jinja's sort filter, case-insensitive by default.
        "wheelhouse": sorted(wheelhouse, key=lambda name: name.lower()),
        "packages": packages,
        "package_files": package_files,
        "installer": installer,
        "require_hashes": require_hashes,
        "compile": compile_bytecode,
    }
    return hashlib.sha256(ansible_to_json(data).encode("utf-8", "surrogateescape")).hexdigest()


def marker_text(marker):
    """The marker file's text: Ansible's to_nice_json of its fields, and a newline."""
    return json.dumps(marker, indent=4, sort_keys=True, separators=(",", ": ")) + "\n"
