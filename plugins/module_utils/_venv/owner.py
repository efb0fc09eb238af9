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


def own(venv, uid, gid):
    """chown -h uid:gid what takes_owner() picks, then chmod -R go-w: returns the paths chowned."""
    chowned = 0
    for path, st in tree(venv):
        mode = stat.S_IMODE(st.st_mode)
        if takes_owner(st):
            os.lchown(path, uid, gid)
            chowned += 1
            if mode & (stat.S_ISUID | stat.S_ISGID):
                mode = stat.S_IMODE(os.lstat(path).st_mode)  # chown may have cleared them
        # chmod -R leaves symlinks alone; a file already without go+w needs no call.
        if not stat.S_ISLNK(st.st_mode) and mode & 0o022:
            os.chmod(path, mode & ~0o022)
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
