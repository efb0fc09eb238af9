# -*- coding: utf-8 -*-  # noqa: UP009
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""A directory and a few small files in it, in one module run, behind ``pyops.deploy.file_set``.

Plain Python (no AnsibleModule), Python 3.8 compatible, stdlib only.

- The directory (optional) is created if missing (with its missing parents, as C(mkdir -p)), then given
  its owner, group and mode.
- Each file is written (a temporary file in the same directory, renamed over it) when it is missing or
  its content differs, and otherwise only given its owner, group and mode when they differ.
- A symbolic link where the directory or a file should be is refused, never followed: nothing here opens
  a path in a way that follows a link at its last component.
- A file's content never appears in an error message; the diff holds it unless the caller turns
  diffs off (the roles do for keys).
"""

from __future__ import annotations

import contextlib
import errno
import grp
import os
import pwd
import stat
import tempfile

from ansible_collections.pyops.deploy.plugins.module_utils._file_modes import (
    FileModesError,
    account_id,
    parse_mode,
    shown,
)


class FileSetError(Exception):
    """An entry that cannot be handled (a bad mode, an unknown account, a link or a directory in the way)."""


def _account(name, database, kind, check_mode):
    try:
        return account_id(name, database, kind)
    except FileModesError:
        # In check mode the package that makes the account may be one task away from installed: the
        # name stands for its id, which no file has yet, so the path shows as one that would change.
        if check_mode:
            return str(name)
        raise


def _wanted(entry, default_mode, check_mode):
    try:
        mode = parse_mode(entry.get("mode") or default_mode)
        uid = _account(entry.get("owner") or "root", pwd.getpwnam, "owner", check_mode)
        gid = _account(entry.get("group") or "root", grp.getgrnam, "group", check_mode)
    except FileModesError as exc:
        raise FileSetError(f"{entry.get('path')}: {exc}") from None
    return mode, uid, gid


def _absolute(path):
    if not path or not os.path.isabs(path):
        raise FileSetError(f"{path!r} is not an absolute path")
    return path


def _set_attrs(fd, wanted):
    mode, uid, gid = wanted
    info = os.fstat(fd)
    # chown first: it clears the setuid and setgid bits that the chmod then sets.
    if (info.st_uid, info.st_gid) != (uid, gid):
        os.fchown(fd, uid, gid)
    os.fchmod(fd, mode)


def _text(data):
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return "(not UTF-8 text)\n"


def _directory(entry, check_mode, result, diffs):
    """Create or fix the directory; return True when it exists (or would, in check mode)."""
    path = _absolute(entry["path"])
    wanted = _wanted(entry, "0755", check_mode)
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        info = None
    if info is not None and not stat.S_ISDIR(info.st_mode):
        raise FileSetError(f"{path} exists and is not a directory (links are not followed)")
    current = None if info is None else (stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid)
    if current == wanted:
        return
    if not check_mode:
        if info is None:
            # Missing parents are made as mkdir -p (and ansible.builtin.file) makes them: mode 0777 less the umask.
            parent = os.path.dirname(path)
            if not os.path.isdir(parent):
                os.makedirs(parent)
            os.mkdir(path, 0o700)
        flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
        fd = os.open(path, flags)
        try:
            _set_attrs(fd, wanted)
        finally:
            os.close(fd)
    result["changed_paths"].append(path)
    diffs.append(
        {
            "before_header": path,
            "after_header": path,
            "before": "(absent)\n" if current is None else f"directory {shown(*current)}\n",
            "after": f"directory {shown(*wanted)}\n",
        }
    )


def _read_nofollow(path):
    """(bytes, (mode, uid, gid)) of the regular file at ``path``, or (None, None) if there is none."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        return None, None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise FileSetError(f"{path} is a symbolic link: it is not followed nor replaced") from None
        raise FileSetError(f"{path}: cannot read it: {exc.strerror}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise FileSetError(f"{path} exists and is not a regular file")
        chunks = []
        while True:
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(fd)
    return b"".join(chunks), (stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid)


def _write(path, data, wanted):
    directory, name = os.path.split(path)
    fd, temporary = tempfile.mkstemp(prefix=f".{name}.", dir=directory)
    try:
        try:
            _set_attrs(fd, wanted)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def _file(entry, check_mode, result, diffs):
    path = _absolute(entry["path"])
    wanted = _wanted(entry, "0644", check_mode)
    content = entry["content"]
    data = content.encode("utf-8") if isinstance(content, str) else bytes(content)
    old, current = _read_nofollow(path)
    if old == data and current == wanted:
        return
    if not check_mode:
        if old != data:
            _write(path, data, wanted)
        else:
            flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
            fd = os.open(path, flags)
            try:
                _set_attrs(fd, wanted)
            finally:
                os.close(fd)
    result["changed_paths"].append(path)
    before = "" if old is None else _text(old)
    after = _text(data)
    if current != wanted:
        before = ("(absent)\n" if current is None else f"# {shown(*current)}\n") + before
        after = f"# {shown(*wanted)}\n" + after
    diffs.append({"before_header": path, "after_header": path, "before": before, "after": after})


def apply_file_set(directory, files, check_mode=False):
    """Make ``directory`` (a dict, or None) and ``files`` (dicts with path and content) as given.

    Returns the result: changed, changed_paths (directory first, then files in the order given) and diff (a
    list of before/after dicts, one per changed path).
    """
    result = {"changed_paths": []}
    diffs = []
    if directory:
        _directory(directory, check_mode, result, diffs)
    for entry in files:
        _file(entry, check_mode, result, diffs)
    result["changed"] = bool(result["changed_paths"])
    result["diff"] = diffs
    return result
