# -*- coding: utf-8 -*-  # noqa: UP009
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The code of a new release: a gzip tarball, verified by its sha256 and extracted by root, member by member.

The archive is never trusted. Every member is checked before anything is written (names, types, link
targets), then extracted into a fresh ``releases/.unpacking-<id>-<random>`` directory with calls that do
not follow symlinks (``O_EXCL | O_NOFOLLOW``, ``mkdir``, ``symlink``, ``fchown``/``lchown``). The shared
links, the release file and the marker go in last, and one ``rename()`` makes the release appear whole.
"""

from __future__ import annotations

import base64
import binascii
import grp
import hashlib
import io
import os
import posixpath
import re
import shutil
import stat
import tarfile
import zlib

from ansible_collections.pyops.deploy.plugins.module_utils._release.layout import (
    O_NOFOLLOW,
    ReleaseError,
    random_suffix,
)
from ansible_collections.pyops.deploy.plugins.module_utils._release.records import UNPACKED_MARKER

# The marker's name is the records' (they read the sha256 back from it).
MARKER_FILE = UNPACKED_MARKER
RESERVED_PREFIX = ".pyops-"
UNPACKING_PREFIX = ".unpacking-"
# Where the deploy role copies a tarball too large to travel in the task's arguments (``src``).
INCOMING_PREFIX = ".incoming-"
MARKER_MODE = 0o640
RELEASE_FILE_MODE = 0o644
IMPLICIT_DIR_MODE = 0o755
SHA256_RE = re.compile(r"[0-9a-f]{64}")
GZIP_MAGIC = b"\x1f\x8b"
CHUNK = 1 << 20
O_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
# A FIFO where a regular file belongs must fail the checks, not block the open.
O_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
# What a broken or hostile archive raises while it is read and extracted.
UNPACK_ERRORS = (ReleaseError, tarfile.TarError, EOFError, zlib.error, OSError, ValueError)


class CodeSpec:
    """What ``prepared`` unpacks: where the tarball comes from, its digest, and how the code is laid out."""

    __slots__ = ("data", "exclude", "gid", "release_file", "sha256", "src")

    def __init__(self, src, data, sha256, gid, release_file, exclude):
        self.src = src
        self.data = data
        self.sha256 = sha256
        self.gid = gid
        self.release_file = release_file
        self.exclude = exclude

    def describe(self):
        return self.src if self.src is not None else "the inline content"


# --------------------------------------------------------------------------------------------
# Options
# --------------------------------------------------------------------------------------------


def relative_path(path, what):
    """``path`` as slash-joined components below the release: no absolute path, no ``..``, not empty."""
    if not isinstance(path, str) or "\x00" in path:
        raise ReleaseError(f"{what} {path!r} must be a string without NUL bytes")
    if path.startswith("/"):
        raise ReleaseError(f"{what} {path!r} must be relative to the release, not absolute")
    parts = [part for part in path.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise ReleaseError(f"{what} {path!r} must not contain '..'")
    if not parts:
        raise ReleaseError(f"{what} {path!r} does not name anything inside the release")
    return "/".join(parts)


def resolve_group(group):
    if group is None or group == "":
        return os.getegid()
    if isinstance(group, int) or str(group).isdigit():
        return int(group)
    try:
        return grp.getgrnam(group).gr_gid
    except KeyError:
        raise ReleaseError(f"code_group {group!r} does not exist on this host") from None


def code_spec(src=None, content=None, sha256=None, code_group=None, release_file=None, exclude=None, shared=()):
    """Validate the unpack options; None when there is no code to unpack (neither src nor content)."""
    if src is None and content is None:
        if sha256 or code_group or release_file or exclude:
            raise ReleaseError("sha256, code_group, release_file and exclude are for unpacking: give src or content")
        return None
    if src is not None and content is not None:
        raise ReleaseError("src and content are mutually exclusive")
    if not isinstance(sha256, str) or not SHA256_RE.fullmatch(sha256.strip().lower()):
        raise ReleaseError("sha256 is required with src or content and must be 64 hexadecimal digits")
    data = None
    if src is not None:
        if not isinstance(src, str) or not os.path.isabs(src):
            raise ReleaseError(f"src must be an absolute path on the host, got {src!r}")
    else:
        try:
            data = base64.b64decode("".join(str(content).split()), validate=True)
        except (binascii.Error, ValueError):
            raise ReleaseError("content is not valid base64") from None
    excluded = [relative_path(path, "exclude entry") for path in (exclude or [])]
    excluded += [relative_path(path, "shared path") for path in shared]
    release_file = relative_path(release_file, "release_file") if release_file else None
    return CodeSpec(src, data, sha256.strip().lower(), resolve_group(code_group), release_file, excluded)


# --------------------------------------------------------------------------------------------
# What is there already
# --------------------------------------------------------------------------------------------


def read_marker(release_dir):
    """The sha256 the marker of ``release_dir`` holds, None without a (regular, not linked) marker."""
    try:
        fd = os.open(os.path.join(release_dir, MARKER_FILE), os.O_RDONLY | O_NOFOLLOW | O_NONBLOCK)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        return os.read(fd, 256).decode("ascii", "replace").strip() or None
    finally:
        os.close(fd)


def check_existing_code(release, release_dir, spec):
    """An existing release holds this code (nothing to do) or other code, which is refused."""
    here = read_marker(release_dir)
    if here != spec.sha256:
        raise ReleaseError(
            f"release {release} already exists with other code (sha256 {here[:12] if here else 'unknown'} here, "
            f"{spec.sha256[:12]} now): pick a new deploy_release, or leave deploy_release empty to name the "
            "release by its sha256"
        )


def leftover_unpacks(releases_dir):
    """``.unpacking-*`` entries an interrupted unpack left under ``releases/``."""
    try:
        names = os.listdir(releases_dir)
    except FileNotFoundError:
        return []
    return sorted(os.path.join(releases_dir, name) for name in names if name.startswith(UNPACKING_PREFIX))


def stale_incoming(releases_dir, now, max_age, keep=None):
    """``.incoming-*`` tarballs under ``releases/`` older than ``max_age`` seconds, but ``keep``.

    A tarball is removed by the unpack that reads it; one is left when its run died or failed before
    the unpack (another run held the lock, say). A younger one may belong to a run copying it now.
    """
    try:
        names = os.listdir(releases_dir)
    except FileNotFoundError:
        return []
    stale = []
    for name in sorted(names):
        path = os.path.join(releases_dir, name)
        if not name.startswith(INCOMING_PREFIX) or path == keep:
            continue
        info = os.lstat(path)
        if stat.S_ISREG(info.st_mode) and now - info.st_mtime > max_age:
            stale.append(path)
    return stale


def remove_leftover(path):
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    else:
        os.unlink(path)


def shared_links(shared_dir, release_dir, paths):
    """``(path in the release, relative link target)`` of every shared path, as prepare links them."""
    return [
        (path, os.path.relpath(os.path.join(shared_dir, path), os.path.dirname(os.path.join(release_dir, path))))
        for path in paths
    ]


def src_present(spec):
    return spec.src is not None and os.path.lexists(spec.src)


# --------------------------------------------------------------------------------------------
# The tarball
# --------------------------------------------------------------------------------------------


def _digest(handle):
    digest = hashlib.sha256()
    for chunk in iter(lambda: handle.read(CHUNK), b""):
        digest.update(chunk)
    return digest.hexdigest()


def open_code(spec):
    """A binary file object on the tarball, positioned at its start, after its sha256 was verified."""
    if spec.data is not None:
        handle = io.BytesIO(spec.data)
    else:
        try:
            fd = os.open(spec.src, os.O_RDONLY | O_NOFOLLOW | O_NONBLOCK)
        except OSError as exc:
            raise ReleaseError(f"cannot open src {spec.src}: {exc.strerror} (it must be a regular file)") from None
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise ReleaseError(f"src {spec.src} is not a regular file")
        handle = os.fdopen(fd, "rb")
    try:
        actual = _digest(handle)
        if actual != spec.sha256:
            raise ReleaseError(f"the sha256 of {spec.describe()} is {actual}, not the expected {spec.sha256}")
        handle.seek(0)
        if handle.read(2) != GZIP_MAGIC:
            raise ReleaseError("the archive is not in gzip format")
        handle.seek(0)
    except BaseException:
        handle.close()
        raise
    return handle


def verify_code(spec):
    """Check mode: check the digest and every member without writing (a src not copied yet is not an error)."""
    if spec.src is not None and not os.path.lexists(spec.src):
        return
    try:
        with open_code(spec) as handle, tarfile.open(fileobj=handle, mode="r:gz") as tar:
            scan(tar.getmembers(), spec)
    except UNPACK_ERRORS as exc:
        raise ReleaseError(_reason(exc, None)) from exc


def _parts(name):
    return [part for part in name.split("/") if part not in ("", ".")]


def _refuse(name, why):
    raise ReleaseError(f"member {name!r} {why}; refusing the archive")


def _kind(member):
    if member.isreg():
        return "file"
    if member.isdir():
        return "dir"
    if member.issym():
        return "symlink"
    if member.islnk():
        return "hardlink"
    if member.isfifo():
        return "a FIFO"
    if member.ischr():
        return "a character device"
    if member.isblk():
        return "a block device"
    return "of an unsupported type"


def _excluded(path, exclude):
    return any(path == entry or path.startswith(entry + "/") for entry in exclude)


def scan(members, spec):
    """Check every member before anything is written; return ``(member, path, kind, link)`` to extract."""
    planned = []
    kinds = {}
    for member in members:
        name = member.name
        if "\x00" in name or "\x00" in member.linkname:
            _refuse(name, "has a NUL byte in its name or link target")
        if name.startswith("/"):
            _refuse(name, "is absolute")
        parts = _parts(name)
        if ".." in parts:
            _refuse(name, "has a '..' component")
        if not parts:
            continue  # the archive's root entry: the release directory keeps its own mode
        path = "/".join(parts)
        if _excluded(path, spec.exclude):
            continue
        kind = _kind(member)
        if kind not in ("file", "dir", "symlink", "hardlink"):
            _refuse(name, f"is {kind}")
        if parts[0].startswith(RESERVED_PREFIX):
            _refuse(name, f"is named like the files the module writes ({RESERVED_PREFIX}* at the top)")
        if spec.release_file and _excluded(path, [spec.release_file]):
            _refuse(name, f"is the release file {spec.release_file}, which the module writes")
        for depth in range(1, len(parts)):
            prefix = "/".join(parts[:depth])
            if kinds.setdefault(prefix, "dir") != "dir":
                _refuse(name, f"goes through the {kinds[prefix]} {prefix!r}")
        if path in kinds and not (kind == "dir" and kinds[path] == "dir"):
            _refuse(name, "appears twice in the archive")
        link = None
        if kind == "symlink":
            link = member.linkname
            if not link or link.startswith("/"):
                _refuse(name, f"is a symlink to the absolute path {link!r}")
            resolved = posixpath.normpath(posixpath.join(posixpath.dirname(path), link))
            if resolved == ".." or resolved.startswith("../"):
                _refuse(name, f"is a symlink to {link!r}, which leaves the release")
        elif kind == "hardlink":
            target = member.linkname
            target_parts = _parts(target)
            target_path = "/".join(target_parts)
            if target.startswith("/") or ".." in target_parts or kinds.get(target_path) != "file":
                _refuse(name, f"is a hardlink to {target!r}, which is not a regular file extracted before it")
            link = target_path
        kinds[path] = "file" if kind == "hardlink" else kind
        planned.append((member, path, kind, link))
    return planned


def _code_mode(mode, is_dir):
    """The archive's mode without group/other write and special bits, readable (and enterable) by the group."""
    mode = (mode & 0o755) | 0o040
    if is_dir or mode & 0o100:
        mode |= 0o010
    return mode


def _set_dir(path, mode, gid):
    fd = os.open(path, os.O_RDONLY | O_DIRECTORY | O_NOFOLLOW)
    try:
        os.fchown(fd, os.geteuid(), gid)
        os.fchmod(fd, mode)
    finally:
        os.close(fd)


def make_dirs(base, path, gid, made):
    """Create the missing directories of ``base/path`` one by one; none of them may be a symlink."""
    current = base
    for part in path.split("/"):
        current = os.path.join(current, part)
        if current in made:
            continue
        try:
            os.mkdir(current, 0o700)
            _set_dir(current, IMPLICIT_DIR_MODE, gid)
        except FileExistsError:
            if not stat.S_ISDIR(os.lstat(current).st_mode):
                raise ReleaseError(f"{current} exists and is not a directory") from None
        made.add(current)


def write_file(path, chunks, mode, gid, mtime=None):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | O_NOFOLLOW, 0o600)
    try:
        for chunk in chunks:
            view = memoryview(chunk)
            while view:
                view = view[os.write(fd, view) :]
        os.fchown(fd, os.geteuid(), gid)
        os.fchmod(fd, mode)
        if mtime is not None:
            os.utime(fd, (mtime, mtime))
    finally:
        os.close(fd)


def _chunks(handle):
    return iter(lambda: handle.read(CHUNK), b"")


def extract(tar, planned, base, gid):
    made = set()
    for member, path, kind, link in planned:
        target = os.path.join(base, path)
        parent = posixpath.dirname(path)
        if parent:
            make_dirs(base, parent, gid, made)
        if kind == "dir":
            make_dirs(base, path, gid, made)
            _set_dir(target, _code_mode(member.mode, True), gid)
        elif kind == "file":
            handle = tar.extractfile(member)
            try:
                write_file(target, _chunks(handle), _code_mode(member.mode, False), gid, int(member.mtime))
            finally:
                handle.close()
        elif kind == "symlink":
            os.symlink(link, target)
            os.lchown(target, os.geteuid(), gid)
        else:
            os.link(os.path.join(base, link), target, follow_symlinks=False)


def finish(base, release, spec, links, made=None):
    """The shared links, the release file and the marker, inside the unpacked tree."""
    made = set() if made is None else made
    for path, link_target in links:
        parent = posixpath.dirname(path)
        if parent:
            make_dirs(base, parent, spec.gid, made)
        os.symlink(link_target, os.path.join(base, path))
    if spec.release_file:
        parent = posixpath.dirname(spec.release_file)
        if parent:
            make_dirs(base, parent, spec.gid, made)
        write_file(os.path.join(base, spec.release_file), [f"{release}\n".encode()], RELEASE_FILE_MODE, spec.gid)
    write_file(os.path.join(base, MARKER_FILE), [f"{spec.sha256}\n".encode()], MARKER_MODE, spec.gid)


def _reason(exc, work):
    if not isinstance(exc, OSError) or not exc.strerror:
        return str(exc)
    if not exc.filename:
        return exc.strerror
    name = str(exc.filename)
    if work and name.startswith(work + os.sep):
        name = os.path.relpath(name, work)
    return f"{exc.strerror}: {name}"


def unpack_release(releases_dir, release, spec, links):
    """Build ``releases/<release>`` from the tarball in a fresh directory and rename it into place.

    ``links`` are ``(path in the release, link target)`` pairs. Any failure removes the fresh directory
    and raises ReleaseError "Could not unpack the code into <release dir>: <reason>".
    """
    release_dir = os.path.join(releases_dir, release)
    work = os.path.join(releases_dir, f"{UNPACKING_PREFIX}{release}-{random_suffix()}")
    os.mkdir(work)
    try:
        with open_code(spec) as handle, tarfile.open(fileobj=handle, mode="r:gz") as tar:
            extract(tar, scan(tar.getmembers(), spec), work, spec.gid)
        finish(work, release, spec, links)
        if os.path.lexists(release_dir):
            raise ReleaseError(f"{release_dir} appeared while the code was unpacked")
        os.rename(work, release_dir)
    except UNPACK_ERRORS as exc:
        shutil.rmtree(work, ignore_errors=True)
        raise ReleaseError(f"Could not unpack the code into {release_dir}: {_reason(exc, work)}") from exc
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    if spec.src is not None:
        os.unlink(spec.src)
