# -*- coding: utf-8 -*-  # noqa: UP009
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Owner, group and mode of a list of existing paths, behind ``pyops.deploy.file_modes``.

Plain Python (no AnsibleModule), Python 3.8 compatible, stdlib only. Each path is handled on its own:

- a path that does not exist is ``absent`` and left alone;
- a symbolic link is never followed (its target could be anywhere): it is listed in ``symlinks`` and
  left alone;
- a path whose owner, group and mode already match is left alone;
- every other path is ``changed`` (in check mode: would be changed), through a descriptor opened with
  O_NOFOLLOW, so a path swapped for a link between the check and the change is refused, not followed.
"""

from __future__ import annotations

import grp
import os
import pwd
import stat


class FileModesError(Exception):
    """An entry that cannot be handled at all (a bad mode, an unknown account, a path that turned into a link)."""


def parse_mode(value):
    """An octal mode given as a string ("0640", "640") or an int (already octal, as YAML 0o640 gives)."""
    if isinstance(value, int) and not isinstance(value, bool):
        mode = value
    else:
        text = str(value).strip()
        if not text or any(char not in "01234567" for char in text) or len(text) > 4:
            raise FileModesError(f"mode {value!r} is not an octal mode such as '0640'")
        mode = int(text, 8)
    if not 0 <= mode <= 0o7777:
        raise FileModesError(f"mode {value!r} is out of range")
    return mode


def account_id(name, database, kind):
    if isinstance(name, int) or str(name).isdigit():
        return int(name)
    try:
        return database(str(name))[2]
    except KeyError:
        raise FileModesError(f"{kind} {name!r} does not exist on this host") from None


def shown(mode, uid, gid):
    return f"{uid}:{gid} {mode:04o}"


# Opens a path for reading without following a link at its last component, nor waiting on a FIFO.
NOFOLLOW_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)


def set_owner_and_mode(fd, mode, uid, gid):
    """Owner, group and mode of the open file ``fd``."""
    info = os.fstat(fd)
    # chown first: it clears the setuid and setgid bits that the chmod then sets.
    if (info.st_uid, info.st_gid) != (uid, gid):
        os.fchown(fd, uid, gid)
    os.fchmod(fd, mode)


def open_nofollow(path):
    try:
        return os.open(path, NOFOLLOW_FLAGS)
    except OSError as exc:
        raise FileModesError(f"{path}: cannot open it without following links: {exc.strerror}") from None


def apply_modes(entries, check_mode=False):
    """Set owner, group and mode of every existing ``entries`` path; return the result lists and the diff."""
    result = {"changed_paths": [], "absent": [], "symlinks": []}
    before = {}
    after = {}
    for entry in entries:
        path = entry["path"]
        if not path or not os.path.isabs(path):
            raise FileModesError(f"{path!r} is not an absolute path")
        mode = parse_mode(entry["mode"])
        uid = account_id(entry.get("owner") or "root", pwd.getpwnam, "owner")
        gid = account_id(entry.get("group") or "root", grp.getgrnam, "group")
        try:
            info = os.lstat(path)
        except FileNotFoundError:
            result["absent"].append(path)
            continue
        if stat.S_ISLNK(info.st_mode):
            result["symlinks"].append(path)
            continue
        current = (stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid)
        if current == (mode, uid, gid):
            continue
        if not check_mode:
            fd = open_nofollow(path)
            try:
                set_owner_and_mode(fd, mode, uid, gid)
            finally:
                os.close(fd)
        result["changed_paths"].append(path)
        before[path] = shown(*current)
        after[path] = shown(mode, uid, gid)
    result["changed"] = bool(result["changed_paths"])
    result["diff"] = {"before": before, "after": after}
    return result
