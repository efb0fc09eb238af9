# -*- coding: utf-8 -*-  # noqa: UP009
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Reproducible gzipped tarballs: the same tree gives the same bytes on every run.

Members are sorted by name within each directory, every time is 0, owner and group are 0 with no
names, and the gzip header carries neither a file name nor a time. Entries are named ``./<path>``
below a ``./`` root entry, as ``tar -C <dir> -cf - .`` names them.
"""

from __future__ import annotations

import fnmatch
import gzip
import io
import os
import shutil
import stat
import tarfile

# GNU tar's --exclude-vcs, plus what is never code: bytecode and virtualenvs.
EXCLUDED_NAMES = frozenset(
    (
        "CVS", "RCS", "SCCS", ".git", ".gitignore", ".gitattributes", ".gitmodules", ".cvsignore",
        ".svn", ".arch-ids", "{arch}", "=RELEASE-ID", "=meta-update", "=update", ".bzr", ".bzrignore",
        ".bzrtags", ".hg", ".hgignore", ".hgtags", "_darcs", "__pycache__", ".venv", "venv",
    )
)  # fmt: skip
EXCLUDED_PATTERNS = ("*.pyc",)
GZIP_LEVEL = 6  # gzip's own default: most of the size for a fraction of level 9's time
_CHUNK = 1 << 20


def excluded(name):
    return name in EXCLUDED_NAMES or any(fnmatch.fnmatchcase(name, pattern) for pattern in EXCLUDED_PATTERNS)


def _member(name, kind, mode, size=0, linkname=""):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.size = size
    info.linkname = linkname
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def _sorted_names(path):
    return sorted(os.listdir(path), key=os.fsencode)


def tree_members(root):
    """(member, source path or None) for ``root`` and everything below it that is packed, in tar order.

    Symlinks are packed as links, never followed; sockets, pipes and devices are left out, as is
    every excluded name. A file's mode is kept, its owner and times are not.
    """
    yield _member(".", tarfile.DIRTYPE, stat.S_IMODE(os.stat(root).st_mode)), None
    yield from _below(root, ".")


def _below(path, name):
    # tar --sort=name: a directory's entry, then everything below it, then its next sibling.
    for entry in _sorted_names(path):
        if excluded(entry):
            continue
        full, member = os.path.join(path, entry), name + "/" + entry
        info = os.lstat(full)
        mode = stat.S_IMODE(info.st_mode)
        if stat.S_ISLNK(info.st_mode):
            yield _member(member, tarfile.SYMTYPE, mode, linkname=os.readlink(full)), None
        elif stat.S_ISREG(info.st_mode):
            yield _member(member, tarfile.REGTYPE, mode, size=info.st_size), full
        elif stat.S_ISDIR(info.st_mode):
            yield _member(member, tarfile.DIRTYPE, mode), None
            yield from _below(full, member)


def write(destination, members):
    """Write (member, source path or bytes or None) pairs as a reproducible .tar.gz at ``destination``."""
    with open(destination, "wb") as raw:  # noqa: SIM117 - three contexts do not fit one line
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=GZIP_LEVEL, mtime=0) as zipped:
            with tarfile.open(fileobj=zipped, mode="w", format=tarfile.GNU_FORMAT) as tar:
                for info, content in members:
                    if isinstance(content, bytes):
                        info.size = len(content)
                        tar.addfile(info, io.BytesIO(content))
                    elif content is not None:
                        with open(content, "rb") as handle:
                            info.size = os.fstat(handle.fileno()).st_size
                            tar.addfile(info, handle)
                    else:
                        tar.addfile(info)


def gzip_file(source, destination):
    """Compress ``source`` (a tar that is reproducible already, such as git archive's) reproducibly."""
    with open(source, "rb") as plain, open(destination, "wb") as raw:  # noqa: SIM117
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=GZIP_LEVEL, mtime=0) as zipped:
            shutil.copyfileobj(plain, zipped, _CHUNK)
