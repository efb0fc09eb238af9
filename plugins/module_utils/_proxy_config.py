# -*- coding: utf-8 -*-  # noqa: UP009
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Staged-tree logic behind ``pyops.deploy.proxy_config``.

A reverse proxy's configuration lives in a tree of its own (``live``) next to a staged copy
(``stage``) the role renders into. Applying means: optionally start the staged tree afresh from the
live one, write some files, and when the two trees differ test the staged one with the server's
own config test, swap it in (copy to ``<live>.new``, rename ``live`` to ``<live>.old``, rename
``<live>.new`` to ``live``, remove ``<live>.old``) and reload the service.

Plain Python (no AnsibleModule): commands go through the ``run`` callable given to
:class:`ProxyConfig`, which the module binds to ``AnsibleModule.run_command``.
Runs on the managed host, hence Python 3.8 compatible and stdlib only.
"""

from __future__ import annotations

import collections
import contextlib
import errno
import fcntl
import hashlib
import os
import shutil
import stat
import tempfile
import time

# What a tree entry is compared by; ``source`` (a path or bytes) only serves the diff.
Entry = collections.namedtuple("Entry", "kind mode digest link source")
_DIFF_TEXT_LIMIT = 64 * 1024
_LOCK_POLL = 0.1


class ProxyConfigError(Exception):
    """A failure to report as the task's message, with the command's output when there was one."""

    def __init__(self, msg, **details):
        super().__init__(msg)
        self.details = details


@contextlib.contextmanager
def exclusive_lock(path, timeout, create=True):
    """Hold an exclusive flock on ``path`` for the block; wait at most ``timeout`` seconds.

    Without ``create`` a missing lock file means there is nothing to exclude (check mode creates nothing).
    """
    flags = os.O_RDWR | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags | (os.O_CREAT if create else 0), 0o600)
    except OSError as exc:
        if not create and exc.errno == errno.ENOENT:
            yield
            return
        raise ProxyConfigError(f"Cannot open the lock file {path}: {exc}") from exc
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
            if time.monotonic() >= deadline:
                holder = os.pread(fd, 64, 0).decode("ascii", "replace").strip() or "unknown"
                raise ProxyConfigError(
                    f"Another apply or drain on this proxy holds {path} (process {holder});"
                    f" gave up after {timeout} seconds."
                )
            time.sleep(_LOCK_POLL)
        if create:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the flock


def _digest_file(path):
    sha = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(65536), b""):
            sha.update(block)
    return sha.hexdigest()


def read_tree(root):
    """{relative path: Entry} of everything below ``root`` (symlinks not followed); None when it is missing."""
    if not os.path.isdir(root) or os.path.islink(root):
        return None
    found = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            full = os.path.join(dirpath, name)
            info = os.lstat(full)
            rel = os.path.relpath(full, root)
            mode = stat.S_IMODE(info.st_mode)
            if stat.S_ISLNK(info.st_mode):
                found[rel] = Entry("link", None, None, os.readlink(full), None)
            elif stat.S_ISDIR(info.st_mode):
                found[rel] = Entry("dir", mode, None, None, None)
            elif stat.S_ISREG(info.st_mode):
                found[rel] = Entry("file", mode, _digest_file(full), None, full)
            else:
                found[rel] = Entry("other", mode, None, None, None)
    return found


def differences(before, after):
    """Sorted relative paths whose entry differs between two trees (a missing tree is empty)."""
    before, after = before or {}, after or {}
    return sorted(rel for rel in set(before) | set(after) if _key(before.get(rel)) != _key(after.get(rel)))


def _key(entry):
    return None if entry is None else entry[:4]


def parse_mode(mode):
    """'0644' -> 0o644; permission bits only."""
    try:
        value = int(str(mode), 8)
    except ValueError:
        value = -1
    if not 0 <= value <= 0o7777:
        raise ProxyConfigError(f"File mode {mode!r} is not an octal mode such as '0644'.")
    return value


def _file_is_current(dest, mode, data):
    try:
        info = os.lstat(dest)
    except FileNotFoundError:
        return False
    if not stat.S_ISREG(info.st_mode) or stat.S_IMODE(info.st_mode) != mode or (info.st_uid, info.st_gid) != (0, 0):
        return False
    with open(dest, "rb") as handle:
        return handle.read() == data


def write_file(dest, mode, data):
    """Write ``data`` to ``dest`` atomically, root's, with ``mode`` (a temporary file renamed over it)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(dest)}.", suffix=".tmp", dir=os.path.dirname(dest))
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chown(tmp, 0, 0)
        os.chmod(tmp, mode)
        os.rename(tmp, dest)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def copy_tree(src, dst):
    """``cp -a``: contents, modes, times, owners; symlinks copied as symlinks."""
    shutil.copytree(src, dst, symlinks=True)
    for dirpath, dirnames, filenames in os.walk(src):
        for name in [""] + dirnames + filenames:
            source = os.path.join(dirpath, name) if name else dirpath
            info = os.lstat(source)
            os.lchown(os.path.join(dst, os.path.relpath(source, src)), info.st_uid, info.st_gid)


def remove_tree(path):
    if os.path.islink(path) or os.path.isfile(path):
        os.unlink(path)
    elif os.path.lexists(path):
        shutil.rmtree(path)


def swap_in(stage, live):
    """Copy ``stage`` to ``<live>.new`` and rename it over ``live``; the server reads the tree only at reload."""
    new, old = live + ".new", live + ".old"
    remove_tree(new)
    remove_tree(old)
    copy_tree(stage, new)
    if os.path.lexists(live):
        os.rename(live, old)
    os.rename(new, live)
    remove_tree(old)


def _looks_secret(rel, data):
    name = os.path.basename(rel)
    return "tls" in rel.split(os.sep)[:-1] or name.endswith((".key", ".pem", ".p12", ".pfx")) or b"PRIVATE KEY" in data


def _diff_text(entry, rel):
    """What --diff shows of one side of a differing path: its text, or a digest when it is key material or binary."""
    if entry is None:
        return ""
    if entry.kind == "link":
        return f"symlink to {entry.link}\n"
    if entry.kind != "file":
        return f"{entry.kind}, mode {entry.mode:04o}\n"
    if isinstance(entry.source, bytes):
        data = entry.source
    else:
        with open(entry.source, "rb") as handle:
            data = handle.read(_DIFF_TEXT_LIMIT + 1)
    if len(data) <= _DIFF_TEXT_LIMIT and not _looks_secret(rel, data):
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            pass
    return f"content not shown: sha256 {entry.digest}, mode {entry.mode:04o}\n"


class ProxyConfig:
    """One apply: ``files`` is a list of (dest, mode, bytes); ``run(argv)`` returns (rc, stdout, stderr)."""

    def __init__(
        self,
        stage,
        live,
        service,
        test_command,
        run,
        files=(),
        from_live=False,
        reload=False,
        check_mode=False,
        lock_file=None,
        lock_timeout=60,
    ):
        self.stage = os.path.normpath(stage)
        self.live = os.path.normpath(live)
        if self.stage == self.live:
            raise ProxyConfigError("The staged tree and the live tree must be different directories.")
        self.service = service
        self.test_command = list(test_command)
        self.run_command = run
        self.files = [(os.path.normpath(dest), parse_mode(mode), data) for dest, mode, data in files]
        for dest, _mode, _data in self.files:
            if not os.path.isabs(dest):
                raise ProxyConfigError(f"File {dest}: the destination must be an absolute path.")
        self.from_live = from_live
        self.reload = reload
        self.check_mode = check_mode
        self.lock_file = lock_file
        self.lock_timeout = lock_timeout

    def run(self):
        lock = contextlib.nullcontext()
        if self.lock_file:
            lock = exclusive_lock(self.lock_file, self.lock_timeout, create=not self.check_mode)
        with lock:
            return self._apply()

    def _apply(self):
        live = read_tree(self.live)
        if self.from_live and live is None:
            raise ProxyConfigError(
                f"The live tree {self.live} is missing: there is nothing to start the staged tree from."
            )
        written = [dest for dest, mode, data in self.files if not self._unchanged(dest, mode, data)]
        if self.check_mode:
            staged = self._planned_stage(live)
            if staged is None:
                # The tasks before this one would have created and filled it (a new host).
                return {
                    "changed": True,
                    "swapped": True,
                    "reloaded": True,
                    "differences": ["."],
                    "written": written,
                    "diff": [],
                }
        else:
            if self.from_live:
                remove_tree(self.stage)
                copy_tree(self.live, self.stage)
            for dest, mode, data in self.files:
                if dest in written:
                    write_file(dest, mode, data)
            staged = read_tree(self.stage)
        if staged is None:
            raise ProxyConfigError(f"The staged tree {self.stage} is missing.")
        differing = differences(live, staged)
        result = {
            "changed": False,
            "swapped": bool(differing),
            "reloaded": bool(differing) or self.reload,
            "differences": differing,
            "written": written,
            "diff": [
                {
                    "before_header": os.path.join(self.live, rel),
                    "after_header": os.path.join(self.stage, rel),
                    "before": _diff_text((live or {}).get(rel), rel),
                    "after": _diff_text(staged.get(rel), rel),
                }
                for rel in differing
            ],
        }
        result["changed"] = result["reloaded"]
        if self.check_mode:
            return result
        if differing:
            self._test()
            swap_in(self.stage, self.live)
        if result["reloaded"]:
            self._command(["systemctl", "reload-or-restart", self.service], f"Reloading {self.service} failed")
        return result

    def _unchanged(self, dest, mode, data):
        if self.from_live and self._in_stage(dest):
            # The staged tree is about to be replaced by the live one: compare with that.
            dest = os.path.join(self.live, os.path.relpath(dest, self.stage))
        return _file_is_current(dest, mode, data)

    def _in_stage(self, dest):
        return dest.startswith(self.stage + os.sep)

    def _planned_stage(self, live):
        """The staged tree as a real run would leave it, computed without writing anything."""
        staged = dict(live) if self.from_live else read_tree(self.stage)
        if staged is None:
            return None
        for dest, mode, data in self.files:
            if self._in_stage(dest):
                rel = os.path.relpath(dest, self.stage)
                staged[rel] = Entry("file", mode, hashlib.sha256(data).hexdigest(), None, data)
        return staged

    def _test(self):
        self._command(
            self.test_command,
            f"The server refused the staged configuration in {self.stage};"
            f" the live configuration in {self.live} is unchanged",
        )

    def _command(self, argv, what):
        rc, out, err = self.run_command(argv)
        if rc != 0:
            output = "\n".join(part.strip() for part in (err, out) if part and part.strip())
            raise ProxyConfigError(f"{what}: {output or f'exit status {rc}'}", cmd=argv, rc=rc, stdout=out, stderr=err)
