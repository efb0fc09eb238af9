# -*- coding: utf-8 -*-  # noqa: UP009
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The venv's ownership and modes, and its marker written atomically, for ``pyops.deploy.venv``."""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import stat
import tempfile

from ansible_collections.pyops.deploy.plugins.module_utils._venv.common import VenvError


def user_id(name):
    """chown's reading of a user: the name, else a number."""
    try:
        return pwd.getpwnam(name).pw_uid
    except KeyError:
        if name.isdigit():
            return int(name)
        raise VenvError(f"ownership failed: no user {name!r}") from None


def group_id(name):
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        if name.isdigit():
            return int(name)
        raise VenvError(f"ownership failed: no group {name!r}") from None


def tree(top):
    """(path, lstat) of top and of everything under it, symlinks not followed (as find -P lists them)."""
    st = os.lstat(top)
    yield top, st
    if not stat.S_ISDIR(st.st_mode):
        return

    def fail(exc):
        raise exc

    for directory, subdirs, files in os.walk(top, onerror=fail):
        for name in subdirs + files:
            path = os.path.join(directory, name)
            yield path, os.lstat(path)


def takes_owner(st):
    """find's `-type d -o -links 1`: directories, and the files nothing outside the venv links to.

    uv hardlinks installed files from its cache (link count > 1): they stay root's, since chowning
    them would chown the cache and every other venv linked to it.
    """
    return stat.S_ISDIR(st.st_mode) or st.st_nlink == 1


def wanted_mode(mode, is_dir):
    """The mode a venv file must have: no group or world write; group and world read (and search, on
    directories and on what its owner may run), so that the app's user can load every module whatever
    the umask that made it. A file hardlinked from uv's cache made under a umask such as 0027 (0640
    root:root) is unreadable to the app otherwise: `import markupsafe._speedups` fails."""
    mode &= ~0o022
    if is_dir or mode & 0o100:
        return mode | 0o055
    return mode | 0o044


def own(venv, uid, gid):
    """chown -h uid:gid what takes_owner() picks (nothing when uid and gid are -1), then
    chmod -R go-w,go+rX on directories and regular files: returns the paths chowned."""
    chowned = 0
    for path, st in tree(venv):
        mode = stat.S_IMODE(st.st_mode)
        if (uid, gid) != (-1, -1) and takes_owner(st):
            os.lchown(path, uid, gid)
            chowned += 1
            if mode & (stat.S_ISUID | stat.S_ISGID):
                mode = stat.S_IMODE(os.lstat(path).st_mode)  # chown may have cleared them
        # Symlinks, sockets and FIFOs are left alone; a file already as wanted needs no call.
        if stat.S_ISDIR(st.st_mode) or stat.S_ISREG(st.st_mode):
            wanted = wanted_mode(mode, stat.S_ISDIR(st.st_mode))
            if wanted != mode:
                os.chmod(path, wanted)
    return chowned


def write_marker(path, content, uid=-1, gid=-1, mode=0o644):
    """Write the marker beside its final name, then rename it: a reader sees the old one or the new one."""
    fd, tmp = tempfile.mkstemp(prefix=".pyops-venv.", suffix=".tmp", dir=os.path.dirname(path))
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content.encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())  # the marker says the venv is complete: it must not outlive a crash empty
            os.fchown(handle.fileno(), uid, gid)
            os.fchmod(handle.fileno(), mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
