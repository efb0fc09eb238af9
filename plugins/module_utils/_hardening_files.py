# -*- coding: utf-8 -*-  # noqa: UP009
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Several small configuration files and lines in one go, behind ``pyops.deploy.hardening_files``.

Plain Python (no AnsibleModule), Python 3.8 compatible, stdlib only. What each kind of entry does
follows the task it stands for:

- ``directories``: ``ansible.builtin.file`` with ``state: directory`` (missing parents are created,
  an existing directory gets its owner, group and mode);
- ``files``: ``ansible.builtin.copy``/``template`` (the whole content, owner, group and mode; a new
  content is written to a temporary file next to the path, checked by ``validate`` when given, then
  renamed over the path, which replaces a symbolic link rather than following it);
- ``lines``: ``ansible.builtin.lineinfile`` with ``regexp`` (the last matching line is replaced; with
  no match, an identical line anywhere leaves the file alone, else the line is added at the end);
- ``replacements``: ``ansible.builtin.replace`` (a multiline regular expression substitution).

Lines and replacements edit existing regular files and keep their owner, group and mode. Everything
is read and computed first; nothing is written when an entry is wrong.
"""

from __future__ import annotations

import grp
import os
import pwd
import re
import shlex
import shutil
import stat
import tempfile
import time


class HardeningFilesError(Exception):
    """An entry that cannot be applied (a bad mode, an unknown account, a missing file, a refused validation)."""


def parse_mode(value):
    """An octal mode given as a string ("0640", "640") or an int (already octal, as YAML 0o640 gives)."""
    if isinstance(value, int) and not isinstance(value, bool):
        mode = value
    else:
        text = str(value).strip()
        if not text or any(char not in "01234567" for char in text) or len(text) > 4:
            raise HardeningFilesError(f"mode {value!r} is not an octal mode such as '0640'")
        mode = int(text, 8)
    if not 0 <= mode <= 0o7777:
        raise HardeningFilesError(f"mode {value!r} is out of range")
    return mode


def account_id(name, database, kind):
    if isinstance(name, int) or str(name).isdigit():
        return int(name)
    try:
        return database(str(name))[2]
    except KeyError:
        raise HardeningFilesError(f"{kind} {name!r} does not exist on this host") from None


def wanted_attributes(entry):
    return (
        parse_mode(entry["mode"]),
        account_id(entry.get("owner") or "root", pwd.getpwnam, "owner"),
        account_id(entry.get("group") or "root", grp.getgrnam, "group"),
    )


def shown(mode, uid, gid):
    return f"{uid}:{gid} {mode:04o}\n"


def absolute(path):
    if not path or not os.path.isabs(path):
        raise HardeningFilesError(f"{path!r} is not an absolute path")
    return path


def read_text(path):
    with open(path, "rb") as handle:
        return handle.read().decode("utf-8", errors="surrogateescape")


def regular_file(path, what):
    """The lstat of ``path``, an existing regular file (never followed if it is a link)."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        raise HardeningFilesError(f"{path} does not exist: {what} edit existing files only") from None
    if not stat.S_ISREG(info.st_mode):
        raise HardeningFilesError(f"{path} is not a regular file (a link is not followed)")
    return info


def with_line(text, regexp, line):
    """``text`` as ``ansible.builtin.lineinfile`` leaves it with ``regexp`` and ``line`` (state present)."""
    pattern = re.compile(regexp)
    lines = text.splitlines(keepends=True)
    found = -1
    for index, current in enumerate(lines):
        if pattern.search(current):
            found = index
    if found < 0:
        if any(current.rstrip("\r\n") == line for current in lines):
            return text
        if lines and not lines[-1].endswith(("\n", "\r")):
            lines[-1] += "\n"
        lines.append(line + "\n")
        return "".join(lines)
    ending = lines[found][len(lines[found].rstrip("\r\n")) :] or "\n"
    lines[found] = line + ending
    return "".join(lines)


def with_replacement(text, regexp, replace):
    """``text`` as ``ansible.builtin.replace`` leaves it."""
    return re.compile(regexp, re.MULTILINE).sub(replace, text)


def validate_file(command, path, run):
    if "%s" not in command:
        raise HardeningFilesError(f"validate must contain %s: {command}")
    rc, out, err = run(shlex.split(command.replace("%s", path)))
    if rc != 0:
        raise HardeningFilesError(f"failed to validate: rc:{rc} error:{err or out}")


def backup_copy(path):
    """A copy of ``path`` named as ``AnsibleModule.backup_local`` names it (mtime kept); its path."""
    backup = f"{path}.{os.getpid()}.{time.strftime('%Y-%m-%d@%H:%M:%S~', time.localtime(time.time()))}"
    shutil.copy2(path, backup, follow_symlinks=False)
    info = os.lstat(path)
    os.chown(backup, info.st_uid, info.st_gid, follow_symlinks=False)
    return backup


def write_atomically(path, text, attributes, validate=None, run=None, backup=False):
    """A temporary file next to ``path`` with ``text`` and the attributes, validated, then renamed over it.

    With ``backup``, the file it replaces is first copied beside it, after the validation; returns
    the copy's path (or None).
    """
    mode, uid, gid = attributes
    directory, name = os.path.split(path)
    fd, temporary = tempfile.mkstemp(dir=directory, prefix=f".{name}.", suffix=".pyops")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(text.encode("utf-8", errors="surrogateescape"))
            handle.flush()
            if (os.fstat(handle.fileno()).st_uid, os.fstat(handle.fileno()).st_gid) != (uid, gid):
                os.fchown(handle.fileno(), uid, gid)
            os.fchmod(handle.fileno(), mode)
            os.fsync(handle.fileno())
        if validate:
            validate_file(validate, temporary, run)
        copy = backup_copy(path) if backup and os.path.isfile(path) and not os.path.islink(path) else None
        os.rename(temporary, path)
    except BaseException:
        if os.path.lexists(temporary):
            os.unlink(temporary)
        raise
    return copy


def set_attributes(path, attributes):
    """Owner, group and mode of an existing file, through a descriptor that does not follow links."""
    mode, uid, gid = attributes
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags)
    try:
        info = os.fstat(fd)
        # chown first: it clears the setuid and setgid bits that the chmod then sets.
        if (info.st_uid, info.st_gid) != (uid, gid):
            os.fchown(fd, uid, gid)
        os.fchmod(fd, mode)
    finally:
        os.close(fd)


def plan_directory(entry):
    path = absolute(entry["path"])
    wanted = wanted_attributes(entry)
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return {"path": path, "kind": "directory", "create": True, "attributes": wanted, "before": "absent\n"}
    if not stat.S_ISDIR(info.st_mode):
        raise HardeningFilesError(f"{path} exists and is not a directory")
    current = (stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid)
    if current == wanted:
        return None
    return {"path": path, "kind": "directory", "create": False, "attributes": wanted, "before": shown(*current)}


def plan_file(entry, directories):
    path = absolute(entry["path"])
    wanted = wanted_attributes(entry)
    parent = os.path.dirname(path)
    if not os.path.isdir(parent) and parent not in directories:
        raise HardeningFilesError(f"{path}: its directory does not exist")
    content = entry["content"]
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        info = None
    if info is not None and stat.S_ISDIR(info.st_mode):
        raise HardeningFilesError(f"{path} is a directory")
    if info is None or not stat.S_ISREG(info.st_mode):
        # Missing, or a link (replaced, never followed) or another kind of file.
        before = "" if info is None else f"(not a regular file: {stat.filemode(info.st_mode)})\n"
        return {"path": path, "kind": "file", "text": content, "before": before, "attributes": wanted}
    current = read_text(path)
    attributes = (stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid)
    if current != content:
        return {"path": path, "kind": "file", "text": content, "before": current, "attributes": wanted}
    if attributes != wanted:
        return {"path": path, "kind": "attributes", "attributes": wanted, "before": shown(*attributes)}
    return None


def plan_edits(path, edits):
    """The change of one existing file from its ``lines`` then its ``replacements``."""
    info = regular_file(path, "lines and replacements")
    current = read_text(path)
    text = current
    for kind, edit in edits:
        if kind == "line":
            if "\n" in edit["line"] or "\r" in edit["line"]:
                raise HardeningFilesError(f"{path}: the line {edit['line']!r} spans several lines")
            text = with_line(text, edit["regexp"], edit["line"])
        else:
            text = with_replacement(text, edit["regexp"], edit["replace"])
    if text == current:
        return None
    attributes = (stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid)
    return {"path": path, "kind": "file", "text": text, "before": current, "attributes": attributes}


def plan(directories=(), files=(), lines=(), replacements=()):
    """What differs, as a list of changes in the order of the entries (directories first); reads only."""
    changes = []
    made = {os.path.normpath(entry["path"]) for entry in directories}
    for entry in directories:
        change = plan_directory(entry)
        if change:
            changes.append(change)
    whole = set()
    for entry in files:
        if entry["path"] in whole:
            raise HardeningFilesError(f"{entry['path']} is given twice in files")
        whole.add(entry["path"])
        change = plan_file(entry, made)
        if change:
            change["validate"] = entry.get("validate")
            change["backup"] = bool(entry.get("backup"))
            changes.append(change)
    edits = {}
    for entry in lines:
        edits.setdefault(absolute(entry["path"]), []).append(("line", entry))
    for entry in replacements:
        edits.setdefault(absolute(entry["path"]), []).append(("replace", entry))
    for path, entries in edits.items():
        if path in whole:
            raise HardeningFilesError(f"{path} is given in files and in lines or replacements")
        for _kind, entry in entries:
            try:
                re.compile(entry["regexp"])
            except re.error as exc:
                raise HardeningFilesError(f"{path}: bad regular expression {entry['regexp']!r}: {exc}") from None
        change = plan_edits(path, entries)
        if change:
            changes.append(change)
    return changes


def apply_change(change, run):
    path = change["path"]
    if change["kind"] == "directory":
        mode, uid, gid = change["attributes"]
        if change["create"]:
            os.makedirs(path, mode=0o755, exist_ok=True)
        os.chown(path, uid, gid)
        os.chmod(path, mode)
    elif change["kind"] == "attributes":
        copy = backup_copy(path) if change.get("backup") else None
        set_attributes(path, change["attributes"])
        return copy
    else:
        return write_atomically(
            path, change["text"], change["attributes"], change.get("validate"), run, change.get("backup", False)
        )
    return None


def diff_of(change):
    path = change["path"]
    if change["kind"] == "file":
        return {"before_header": path, "after_header": path, "before": change["before"], "after": change["text"]}
    header = f"{path} (owner:group mode)"
    after = shown(*change["attributes"])
    return {"before_header": header, "after_header": header, "before": change["before"], "after": after}


def apply_files(directories=(), files=(), lines=(), replacements=(), check_mode=False, run=None):
    """Make the host hold the entries.

    Returns ``changed``, ``changed_paths``, ``backups`` (path: the copy of the file it replaced, for
    the files given with ``backup``) and the ``diff`` (a list).
    """
    changes = plan(directories, files, lines, replacements)
    backups = {}
    if not check_mode:
        for change in changes:
            copy = apply_change(change, run)
            if copy:
                backups[change["path"]] = copy
    return {
        "changed": bool(changes),
        "changed_paths": [change["path"] for change in changes],
        "backups": backups,
        "diff": [diff_of(change) for change in changes],
    }
