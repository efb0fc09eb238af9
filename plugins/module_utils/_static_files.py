# -*- coding: utf-8 -*-  # noqa: UP009
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""A release's collected static files: packed on an app host, merged into a proxy's static directory.

The files are written by the app (its collectstatic hook), so root reads them as untrusted input: the
tree is walked through directory descriptors opened without following links, and anything but a
directory or a regular file (a symbolic link, a device, a fifo, a socket) stops the pack, named by its
path only. Neither side ever returns a file's contents. The merge on the proxy adds and updates files
and never removes one: the release that still serves during a rolling deploy keeps its (hashed) files.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import tarfile
import tempfile

FILE_MODE = 0o644
DIR_MODE = 0o755
# The diff names at most this many paths (a first collectstatic has thousands).
DIFF_NAMES = 200


class StaticFilesError(Exception):
    """A tree or an archive that cannot be packed or merged; the message names the path, never its contents."""


def _kind(mode):
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISFIFO(mode):
        return "a fifo"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _open_dir(name, dir_fd=None):
    try:
        return os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
    except OSError as exc:
        raise StaticFilesError(
            f"{name} is not a directory that can be opened without following a link: {exc.strerror}"
        ) from None


def _walk(dir_fd, prefix):
    """(relative path, kind, fd or None) for every entry below ``dir_fd``, sorted; files are opened, dirs recursed."""
    for name in sorted(os.listdir(dir_fd)):
        rel = f"{prefix}{name}"
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        if stat.S_ISDIR(st.st_mode):
            fd = _open_dir(name, dir_fd)
            try:
                if (os.fstat(fd).st_dev, os.fstat(fd).st_ino) != (st.st_dev, st.st_ino):
                    raise StaticFilesError(f"refused {rel}: it changed while it was read")
                yield rel, "dir", None
                yield from _walk(fd, rel + "/")
            finally:
                os.close(fd)
        elif stat.S_ISREG(st.st_mode):
            try:
                fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd)
            except OSError as exc:
                raise StaticFilesError(
                    f"refused {rel}: cannot be opened without following a link ({exc.strerror})"
                ) from None
            opened = os.fstat(fd)
            if not stat.S_ISREG(opened.st_mode) or opened.st_ino != st.st_ino:
                os.close(fd)
                raise StaticFilesError(f"refused {rel}: it changed while it was read")
            yield rel, "file", fd
        else:
            raise StaticFilesError(
                f"refused {rel}: it is {_kind(st.st_mode)}; the static files must be plain files and directories "
                "(collectstatic without --link)"
            )


def pack(path, dest_dir=None, subdir=""):
    """Pack the tree at ``path``/``subdir`` into a new tar file in ``dest_dir``; returns {dest, files, bytes, sha256}.

    ``path`` is root's (a release, or ``shared/``); each component of ``subdir`` is opened without following a
    link, since the app may have written there.
    """
    root = _open_dir(path)
    for part in [part for part in subdir.split("/") if part not in ("", ".")]:
        try:
            if part == "..":
                raise StaticFilesError(f"refused {subdir}: it leaves {path}")
            inner = _open_dir(part, root)
        finally:
            os.close(root)
        root = inner
    fd_out, dest = tempfile.mkstemp(prefix=".pyops-static-", suffix=".tar", dir=dest_dir)
    files = size = 0
    try:
        with os.fdopen(fd_out, "wb") as out, tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for rel, kind, fd in _walk(root, ""):
                info = tarfile.TarInfo(rel)
                info.uid = info.gid = 0
                info.uname = info.gname = "root"
                if kind == "dir":
                    info.type, info.mode = tarfile.DIRTYPE, DIR_MODE
                    tar.addfile(info)
                    continue
                with os.fdopen(fd, "rb") as handle:
                    st = os.fstat(handle.fileno())
                    info.size, info.mode, info.mtime = st.st_size, FILE_MODE, int(st.st_mtime)
                    tar.addfile(info, handle)
                files += 1
                size += st.st_size
    except BaseException:
        os.unlink(dest)
        raise
    finally:
        os.close(root)
    digest = hashlib.sha256()
    with open(dest, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 16), b""):
            digest.update(block)
    return {"changed": False, "dest": dest, "files": files, "bytes": size, "sha256": digest.hexdigest()}


def _member_parts(name):
    parts = [part for part in name.split("/") if part not in ("", ".")]
    if not parts or name.startswith("/") or ".." in parts:
        raise StaticFilesError(f"refused archive member {name!r}: not a path inside the static directory")
    return parts


def _same_content(path, member, tar):
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return False
    if not stat.S_ISREG(st.st_mode) or st.st_size != member.size or stat.S_IMODE(st.st_mode) != FILE_MODE:
        return False
    ours, theirs = hashlib.sha256(), hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 16), b""):
            ours.update(block)
    source = tar.extractfile(member)
    for block in iter(lambda: source.read(1 << 16), b""):
        theirs.update(block)
    return ours.digest() == theirs.digest()


def _ensure_dir(path, check_mode, parents=False):
    """True if ``path`` was (or would be) created; refuses anything but a directory there."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        if not check_mode:
            (os.makedirs if parents else os.mkdir)(path, DIR_MODE)
            os.chmod(path, DIR_MODE)
        return True
    if not stat.S_ISDIR(st.st_mode):
        raise StaticFilesError(f"{path} is {_kind(st.st_mode)}, not a directory; it is left alone")
    return False


def merge(src, path, check_mode=False):
    """Merge the tar file ``src`` into the directory ``path``: add and update, never remove."""
    added, updated = [], []
    created = _ensure_dir(path, check_mode, parents=True)
    with tarfile.open(src, mode="r:") as tar:
        members = tar.getmembers()
        for member in members:
            if not (member.isdir() or member.isfile()):
                raise StaticFilesError(f"refused archive member {member.name!r}: only files and directories are merged")
            _member_parts(member.name)
        for member in sorted(members, key=lambda m: m.name):
            target = os.path.join(path, *_member_parts(member.name))
            if member.isdir():
                if _ensure_dir(target, check_mode):
                    added.append(member.name + "/")
                continue
            parent_missing = created
            parent = path
            for part in _member_parts(member.name)[:-1]:
                parent = os.path.join(parent, part)
                parent_missing = _ensure_dir(parent, check_mode) or parent_missing
            try:
                exists = os.lstat(target)
            except FileNotFoundError:
                exists = None
            if exists and stat.S_ISDIR(exists.st_mode):
                raise StaticFilesError(f"{target} is a directory; the release has a file there")
            if exists and not parent_missing and _same_content(target, member, tar):
                continue
            (updated if exists else added).append(member.name)
            if check_mode:
                continue
            fd, tmp = tempfile.mkstemp(prefix=".pyops-static-", dir=os.path.dirname(target))
            try:
                with os.fdopen(fd, "wb") as out:
                    shutil.copyfileobj(tar.extractfile(member), out, 1 << 16)
                    os.fchmod(out.fileno(), FILE_MODE)
                os.utime(tmp, (member.mtime, member.mtime))
                os.replace(tmp, target)
            except BaseException:
                if os.path.lexists(tmp):
                    os.unlink(tmp)
                raise
    changed = created or bool(added or updated)
    names = [f"+ {name}" for name in added] + [f"~ {name}" for name in updated]
    more = len(names) - DIFF_NAMES
    listing = "\n".join(names[:DIFF_NAMES] + ([f"... and {more} more"] if more > 0 else []))
    return {
        "changed": changed,
        "added": len(added),
        "updated": len(updated),
        "diff": {"before": "", "after": listing + "\n" if listing else "", "after_header": path},
    }
