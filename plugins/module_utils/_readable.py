# -*- coding: utf-8 -*-  # noqa: UP009
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Which extension modules of a virtualenv an account could not load: ``pyops.deploy.service_check``'s
``readable_tree`` / ``readable_by`` (the deploy's candidate check).

A compiled module (``*.so``) loads only if its account may read it and search every directory above it
in the tree. The modes are judged as the kernel judges them for that account (owner, else group, else
other bits; POSIX ACLs are not read), from root, without following a symlink and without opening a
file: nothing of the release's content is read. Runs on the managed host: stdlib only.
"""

from __future__ import annotations

import os
import pwd
import stat

# How many paths a refusal names.
NAMED = 5


def account(user):
    """(uid, gids) of ``user``: its primary group and its supplementary groups. Raises KeyError."""
    entry = pwd.getpwnam(user)
    return entry.pw_uid, set(os.getgrouplist(entry.pw_name, entry.pw_gid))


def allowed(st, uid, gids, bits):
    """Whether (uid, gids) has ``bits`` (a mask of the owner's r/w/x: 4, 2, 1) on a file of stat ``st``."""
    if uid == 0:
        return True
    mode = stat.S_IMODE(st.st_mode)
    if st.st_uid == uid:
        shift = 6
    elif st.st_gid in gids:
        shift = 3
    else:
        shift = 0
    return (mode >> shift) & bits == bits


def unloadable(top, uid, gids):
    """[path] of the extension modules under ``top`` that (uid, gids) could not load, and of the directories
    it could not search (their content is not looked at), sorted. Symlinks are neither followed nor judged,
    and a ``top`` that is one (or no directory) is named and not entered."""
    top_st = os.lstat(top)
    if not stat.S_ISDIR(top_st.st_mode):
        return [top.rstrip("/") + "/"]
    found = []
    for here, dirs, files in os.walk(top, followlinks=False):
        for name in list(dirs):
            path = os.path.join(here, name)
            st = os.lstat(path)
            if stat.S_ISDIR(st.st_mode) and not allowed(st, uid, gids, 0o5):
                found.append(path + "/")
                dirs.remove(name)
        for name in files:
            if not name.endswith(".so"):
                continue
            path = os.path.join(here, name)
            st = os.lstat(path)
            if stat.S_ISREG(st.st_mode) and not allowed(st, uid, gids, 0o4):
                found.append(path)
    if not allowed(top_st, uid, gids, 0o5):
        found.append(top.rstrip("/") + "/")
    return sorted(found)


def refusal(top, user, paths):
    """The message that names what ``user`` cannot load."""
    named = ", ".join(paths[:NAMED]) + (f" and {len(paths) - NAMED} more" if len(paths) > NAMED else "")
    return (
        f"{len(paths)} extension module(s) or directories of {top} are not readable by {user}, the app's user,"
        f" so it could not import them: {named}. Rebuild the virtualenv (the venv module makes every file"
        " group- and world-readable) or fix the modes of what left them so."
    )
