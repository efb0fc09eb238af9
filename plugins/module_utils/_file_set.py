# -*- coding: utf-8 -*-  # noqa: UP009
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Directories, small files and edits of existing files in one module run, behind ``pyops.deploy.file_set``.

Plain Python (no AnsibleModule), Python 3.8 compatible, stdlib only. Each kind of entry does what the
task it stands for does:

- ``directories``: ``ansible.builtin.file`` with ``state: directory`` (the directory and each missing
  parent made get its owner, group and mode);
- ``files``: ``ansible.builtin.copy``/``template`` (the whole content, owner, group and mode; a new
  content goes to a temporary file next to the path, is checked by ``validate`` when given, and is
  renamed over the path);
- ``lines`` and ``replacements``: ``ansible.builtin.lineinfile`` and ``replace`` on existing regular
  files, which keep their owner, group and mode (the text functions are in ``_file_set_edits``).

Everything is read and planned first: when an entry is wrong, nothing is written. No path is opened,
chowned or chmodded through a symbolic link: a link where a directory or an edited file should be is
refused; a link where a whole file should be is replaced by the file, its target left alone. A file's
content never appears in an error message; the diff holds it unless the task turns diffs off.
"""

from __future__ import annotations

import contextlib
import errno
import grp
import os
import pwd
import shlex
import shutil
import stat
import tempfile
import time

from ansible_collections.pyops.deploy.plugins.module_utils._file_modes import (
    NOFOLLOW_FLAGS,
    FileModesError,
    account_id,
    parse_mode,
    set_owner_and_mode,
    shown,
)
from ansible_collections.pyops.deploy.plugins.module_utils._file_set_edits import EditError, edited


class FileSetError(Exception):
    """An entry that cannot be applied (a bad mode, an unknown account, a link in the way, a refused validation)."""


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
    return os.path.normpath(path)


def _text(data):
    return data.decode("utf-8", errors="surrogateescape")


def _read_nofollow(path):
    """(kind, bytes, (mode, uid, gid)): kind ``absent``, ``link`` or ``file``; anything else is refused."""
    try:
        fd = os.open(path, NOFOLLOW_FLAGS)
    except FileNotFoundError:
        return "absent", None, None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "link", None, None
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
    return "file", b"".join(chunks), (stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid)


def _set_attributes(fd, wanted):
    set_owner_and_mode(fd, *wanted)


def _set_attributes_of(path, wanted, flags=NOFOLLOW_FLAGS):
    fd = os.open(path, flags)
    try:
        _set_attributes(fd, wanted)
    finally:
        os.close(fd)


def _validate(command, path, run):
    if "%s" not in command:
        raise FileSetError(f"validate must contain %s: {command}")
    rc, out, err = run(shlex.split(command.replace("%s", path)))
    if rc != 0:
        raise FileSetError(f"{path}: failed to validate: rc:{rc} error:{err or out}")


def _backup(path):
    """A copy of the regular file ``path``, named as ``AnsibleModule.backup_local`` names it (mtime kept)."""
    copy = f"{path}.{os.getpid()}.{time.strftime('%Y-%m-%d@%H:%M:%S~', time.localtime(time.time()))}"
    shutil.copy2(path, copy, follow_symlinks=False)
    info = os.lstat(path)
    os.chown(copy, info.st_uid, info.st_gid, follow_symlinks=False)
    return copy


def _write(path, data, wanted, validate=None, run=None, backup=False):
    """A temporary file beside ``path`` with ``data`` and ``wanted``, validated, renamed over ``path``.

    Renaming replaces a link at ``path`` and never follows it. With ``backup``, the regular file it
    replaces is copied beside it after the validation; returns the copy's path (or None).
    """
    directory, name = os.path.split(path)
    fd, temporary = tempfile.mkstemp(prefix=f".{name}.", suffix=".pyops", dir=directory)
    try:
        try:
            _set_attributes(fd, wanted)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        if validate:
            _validate(validate, temporary, run)
        copy = _backup(path) if backup and stat.S_ISREG(_lmode(path)) else None
        os.rename(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    return copy


def _lmode(path):
    try:
        return os.lstat(path).st_mode
    except FileNotFoundError:
        return 0


def _plan_directory(entry, check_mode):
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
        return None
    before = "(absent)\n" if current is None else f"directory {shown(*current)}\n"
    after = f"directory {shown(*wanted)}\n"
    return {
        "path": path,
        "kind": "directory",
        "create": info is None,
        "attributes": wanted,
        "before": before,
        "after": after,
    }


def _plan_file(entry, check_mode, made):
    path = _absolute(entry["path"])
    wanted = _wanted(entry, "0644", check_mode)
    if not os.path.isdir(os.path.dirname(path)) and os.path.dirname(path) not in made:
        raise FileSetError(f"{path}: its directory does not exist")
    data = entry["content"].encode("utf-8", errors="surrogateescape")
    kind, old, current = _read_nofollow(path)
    if kind == "file" and old == data and current == wanted:
        return None
    change = {
        "path": path,
        "attributes": wanted,
        "validate": entry.get("validate"),
        "backup": bool(entry.get("backup")),
    }
    change["kind"] = "attributes" if kind == "file" and old == data else "file"
    change["data"] = data
    if kind == "file" and current == wanted:
        change["before"], change["after"] = _text(old), _text(data)
        return change
    # The owner, group and mode as a first line on both sides when they change (or the file is new).
    change["before"] = {
        "absent": "(absent)\n",
        "link": "(a symbolic link, replaced; its target is left alone)\n",
    }.get(kind) or f"# {shown(*current)}\n{_text(old)}"
    change["after"] = f"# {shown(*wanted)}\n{_text(data)}"
    return change


def _plan_edits(path, entries):
    kind, old, current = _read_nofollow(path)
    if kind == "absent":
        raise FileSetError(f"{path} does not exist: lines and replacements edit existing files only")
    if kind != "file":
        raise FileSetError(f"{path} is not a regular file (a link is not followed)")
    try:
        text = edited(_text(old), entries)
    except EditError as exc:
        raise FileSetError(f"{path}: {exc}") from None
    if text == _text(old):
        return None
    data = text.encode("utf-8", errors="surrogateescape")
    return {"path": path, "kind": "file", "data": data, "attributes": current, "before": _text(old), "after": text}


def plan(directories=(), files=(), lines=(), replacements=(), check_mode=False):
    """What differs, in the order of the entries (directories, files, then edited files); reads only."""
    changes = []
    made = set()
    for entry in directories:
        change = _plan_directory(entry, check_mode)
        made.add(_absolute(entry["path"]))
        if change:
            changes.append(change)
    whole = set()
    for entry in files:
        change = _plan_file(entry, check_mode, made)
        path = _absolute(entry["path"])
        if path in whole:
            raise FileSetError(f"{path} is given twice in files")
        whole.add(path)
        if change:
            changes.append(change)
    edits = {}
    for kind, entries in (("line", lines), ("replace", replacements)):
        for entry in entries:
            edits.setdefault(_absolute(entry["path"]), []).append((kind, entry))
    for path, entries in edits.items():
        if path in whole:
            raise FileSetError(f"{path} is given in files and in lines or replacements")
        change = _plan_edits(path, entries)
        if change:
            changes.append(change)
    return changes


def _apply(change, run):
    path = change["path"]
    if change["kind"] == "directory":
        if change["create"]:
            # Missing parents as ansible.builtin.file makes them: each new one gets the directory's owner,
            # group and mode, whatever the umask (a hardened 0027 would leave them 0750 root:root).
            missing = [path]
            while not os.path.isdir(os.path.dirname(missing[-1])):
                missing.append(os.path.dirname(missing[-1]))
            for directory in reversed(missing):
                os.mkdir(directory, 0o700)
                _set_attributes_of(directory, change["attributes"], NOFOLLOW_FLAGS | os.O_DIRECTORY)
            return None
        _set_attributes_of(path, change["attributes"], NOFOLLOW_FLAGS | os.O_DIRECTORY)
        return None
    if change["kind"] == "attributes":
        copy = _backup(path) if change["backup"] else None
        _set_attributes_of(path, change["attributes"])
        return copy
    return _write(path, change["data"], change["attributes"], change.get("validate"), run, change.get("backup", False))


def _diff(change):
    path = change["path"]
    return {"before_header": path, "after_header": path, "before": change["before"], "after": change["after"]}


def apply_file_set(directories=(), files=(), lines=(), replacements=(), check_mode=False, run=None):
    """Make the host hold the entries.

    Returns ``changed``, ``changed_paths`` (in the order of the entries), ``backups`` (path: the copy
    of the file it replaced, for files given with ``backup``) and ``diff`` (one before/after per path).
    """
    try:
        changes = plan(directories, files, lines, replacements, check_mode)
    except FileModesError as exc:
        raise FileSetError(str(exc)) from None
    backups = {}
    if not check_mode:
        for change in changes:
            copy = _apply(change, run)
            if copy:
                backups[change["path"]] = copy
    return {
        "changed": bool(changes),
        "changed_paths": [change["path"] for change in changes],
        "backups": backups,
        "diff": [_diff(change) for change in changes],
    }
