# -*- coding: utf-8 -*-  # noqa: UP009
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Gzip tarballs built member by member for the unpack tests, hostile ones included."""

from __future__ import annotations

import base64
import hashlib
import io
import tarfile


def member(name, kind="file", data=b"", mode=None, link=""):
    """``(TarInfo, data)``; kind is file, dir, symlink, hardlink, fifo, chr or blk."""
    info = tarfile.TarInfo(name)
    info.type = {
        "file": tarfile.REGTYPE,
        "dir": tarfile.DIRTYPE,
        "symlink": tarfile.SYMTYPE,
        "hardlink": tarfile.LNKTYPE,
        "fifo": tarfile.FIFOTYPE,
        "chr": tarfile.CHRTYPE,
        "blk": tarfile.BLKTYPE,
    }[kind]
    info.mode = mode if mode is not None else (0o755 if kind == "dir" else 0o644)
    info.linkname = link
    info.mtime = 0
    if kind == "file":
        info.size = len(data)
    return info, data


def tarball(*members):
    """The gzip tarball of ``members`` as bytes."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return buffer.getvalue()


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def b64(data):
    return base64.b64encode(data).decode()


def code(*extra):
    """A small app: a package with a log/ of its own, a top-level log/ and a RELEASE from the repository."""
    return tarball(
        member("./", "dir", mode=0o700),
        member("./app/", "dir"),
        member("./app/__init__.py", data=b"VERSION = 1\n"),
        member("./app/log/", "dir"),
        member("./app/log/__init__.py"),
        member("./log/", "dir"),
        member("./log/.gitkeep"),
        member("./RELEASE", data=b"from the repository\n"),
        *extra,
    )
