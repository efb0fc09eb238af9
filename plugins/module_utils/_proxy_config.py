# -*- coding: utf-8 -*-  # noqa: UP009
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Staged-tree logic behind ``pyops.deploy.proxy_config``.

A reverse proxy's configuration lives in a tree of its own (``live``) next to a staged copy
(``stage``) the role renders into. Applying means: create the directories the role keeps, optionally start
the staged tree afresh from the live one, write some files (and drop the staged files no longer
written), and when the two trees differ test the staged one with the server's
own config test, swap it in (copy to ``<live>.new``, rename ``live`` to ``<live>.old``, rename
``<live>.new`` to ``live``) and reload the service. Sites that answered their health path through the
server before the swap are asked again after the reload; if one no longer answers, the old tree is
put back and the service reloaded again. ``<live>.old`` is removed once the change holds. Then the
site records (what the drain entry point reads back) are written in one canonical form.

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
import http.client
import json
import os
import shutil
import socket
import ssl
import stat
import tempfile
import time

# What a tree entry is compared by; ``source`` (a path or bytes) only serves the diff.
Entry = collections.namedtuple("Entry", "kind mode digest link source")
_DIFF_TEXT_LIMIT = 64 * 1024
_LOCK_POLL = 0.1
_CHECK_POLL = 0.25
# A site's health check, through the server: ``paths`` are the tree paths that belong to the site.
Check = collections.namedtuple("Check", "site server_name path paths")
# A file to write: ``data`` (bytes), or None to copy the current content of ``src`` on the host;
# ``reports_change``: writing it is a change of its own (a page served from outside the trees), shown
# by --diff; ``private``: its content is never shown (a private key).
FileSpec = collections.namedtuple("FileSpec", "dest mode data src reports_change private")
# The integer fields of a site record, whatever type the controller's templating gave them.
RECORD_INTS = ("keepalive", "max_fails", "fail_timeout", "connect_timeout", "read_timeout", "send_timeout", "tries")


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


def _directory_state(path):
    """(mode, uid, gid) of the directory ``path`` (links followed, as mkdir -p does), None when it is missing."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return None
    if not stat.S_ISDIR(info.st_mode):
        raise ProxyConfigError(f"{path} exists and is not a directory.")
    return stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid


def make_directory(path, mode):
    """``mkdir -p`` (missing parents get the default mode), then ``path`` root's with ``mode``."""
    os.makedirs(path, exist_ok=True)
    os.chown(path, 0, 0)
    os.chmod(path, mode)


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


def swap_in(stage, live, keep_old=False):
    """Copy ``stage`` to ``<live>.new`` and rename it over ``live``; the server reads the tree only at reload.

    With ``keep_old`` the previous tree stays as ``<live>.old`` (if there was one) for :func:`put_back`.
    """
    new, old = live + ".new", live + ".old"
    remove_tree(new)
    remove_tree(old)
    copy_tree(stage, new)
    if os.path.lexists(live):
        os.rename(live, old)
    os.rename(new, live)
    if not keep_old:
        remove_tree(old)


def put_back(live):
    """Undo :func:`swap_in` with ``keep_old``: ``<live>.old`` becomes ``live`` again (no tree if there was none)."""
    new, old = live + ".new", live + ".old"
    remove_tree(new)
    os.rename(live, new)
    if os.path.lexists(old):
        os.rename(old, live)
    remove_tree(new)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to ``address`` with ``host`` as the SNI name and Host header, as a client of that name would send."""

    def __init__(self, host, address, port, timeout, context):
        super().__init__(host, port, timeout=timeout, context=context)
        self._address = address
        self._tls = context

    def connect(self):
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._tls.wrap_socket(sock, server_hostname=self.host)


def probe(address, port, server_name, path, timeout):
    """GET ``path`` from the server at ``address:port`` as ``server_name`` -> (answered 2xx/3xx, what it answered).

    The certificate is not verified: this asks whether the site answers, not whether a client trusts it.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    conn = _PinnedHTTPSConnection(server_name, address, port, timeout, context)
    try:
        conn.request("GET", path, headers={"User-Agent": "pyops-proxy-check", "Connection": "close"})
        reply = conn.getresponse()
        reply.read(65536)
    except socket.timeout:
        return False, f"no answer within {timeout} s"
    except (OSError, http.client.HTTPException) as exc:
        return False, f"no answer ({exc.__class__.__name__}: {exc})"
    finally:
        conn.close()
    return 200 <= reply.status < 400, f"{reply.status} {reply.reason}".strip()


def site_record(state):
    """The text a site record is written with: fixed types, sorted keys, like Ansible's to_nice_json."""
    state = dict(state)
    for name in RECORD_INTS:
        if name in state:
            try:
                state[name] = int(state[name])
            except (TypeError, ValueError) as exc:
                raise ProxyConfigError(f"Site record field {name} must be an integer (got {state[name]!r}).") from exc
    state["members"] = [{"host": str(m["host"]), "address": str(m["address"])} for m in state.get("members") or []]
    return (json.dumps(state, indent=4, sort_keys=True, separators=(",", ": ")) + "\n").encode("utf-8")


def _looks_secret(rel, data):
    name = os.path.basename(rel)
    return "tls" in rel.split(os.sep)[:-1] or name.endswith((".key", ".pem", ".p12", ".pfx")) or b"PRIVATE KEY" in data


def _current_text(path):
    try:
        with open(path, "rb") as handle:
            return handle.read(_DIFF_TEXT_LIMIT).decode("utf-8", "replace")
    except FileNotFoundError:
        return ""


def _diff_text(entry, rel, private=False):
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
    if not private and len(data) <= _DIFF_TEXT_LIMIT and not _looks_secret(rel, data):
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            pass
    return f"content not shown: sha256 {entry.digest}, mode {entry.mode:04o}\n"


def _file_entry(path):
    """The Entry of the file at ``path`` as it is now, None when there is none."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return None
    if not stat.S_ISREG(info.st_mode):
        return Entry("other", stat.S_IMODE(info.st_mode), None, None, None)
    return Entry("file", stat.S_IMODE(info.st_mode), _digest_file(path), None, path)


class ProxyConfig:
    """One apply: ``files`` is a list of (dest, mode, bytes) or :class:`FileSpec`; ``run(argv)`` returns
    (rc, stdout, stderr).

    ``directories`` are (path, mode) pairs made first. ``checks`` are :class:`Check` tuples; ``probe(address,
    port, server_name, path, timeout)`` returns (ok, what it answered). ``records`` is a list of (dest, state
    dict), written with :func:`site_record`. With ``prune_stage`` the staged files that are not among
    ``files`` are removed before the trees are compared.
    """

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
        checks=(),
        check_address="127.0.0.1",
        check_port=443,
        check_timeout=5,
        check_settle=2,
        records=(),
        probe=None,
        directories=(),
        prune_stage=False,
    ):
        self.stage = os.path.normpath(stage)
        self.live = os.path.normpath(live)
        if self.stage == self.live:
            raise ProxyConfigError("The staged tree and the live tree must be different directories.")
        self.service = service
        self.test_command = list(test_command)
        self.run_command = run
        self.files = []
        for spec in files:
            if not isinstance(spec, FileSpec):
                dest, mode, data = spec
                spec = FileSpec(dest, mode, data, None, False, False)
            if (spec.data is None) == (spec.src is None):
                raise ProxyConfigError(f"File {spec.dest}: give either its content or its src.")
            self.files.append(spec._replace(dest=os.path.normpath(spec.dest), mode=parse_mode(spec.mode)))
        for spec in self.files:
            if not os.path.isabs(spec.dest) or (spec.src is not None and not os.path.isabs(spec.src)):
                raise ProxyConfigError(f"File {spec.dest}: the destination and src must be absolute paths.")
        self.directories = [(os.path.normpath(path), parse_mode(mode)) for path, mode in directories]
        for path, _mode in self.directories:
            if not os.path.isabs(path):
                raise ProxyConfigError(f"Directory {path}: the path must be absolute.")
        self.prune_stage = prune_stage
        self.from_live = from_live
        self.reload = reload
        self.check_mode = check_mode
        self.lock_file = lock_file
        self.lock_timeout = lock_timeout
        self.checks = [Check(site, server_name, path, tuple(paths)) for site, server_name, path, paths in checks]
        self.check_address = check_address
        self.check_port = check_port
        self.check_timeout = check_timeout
        self.check_settle = check_settle
        self.probe = probe
        self.records = [(os.path.normpath(dest), site_record(state)) for dest, state in records]
        for dest, _data in self.records:
            if not os.path.isabs(dest):
                raise ProxyConfigError(f"Record {dest}: the destination must be an absolute path.")
        self._private = {
            os.path.relpath(spec.dest, self.stage) for spec in self.files if spec.private and self._in_stage(spec.dest)
        }

    def run(self):
        # Before the lock: the lock file's directory may be one of them.
        made, made_diff = self._make_directories()
        lock = contextlib.nullcontext()
        if self.lock_file:
            lock = exclusive_lock(self.lock_file, self.lock_timeout, create=not self.check_mode)
        with lock:
            result = self._apply()
        result["made_directories"] = made
        result["diff"][:0] = made_diff
        result["changed"] = result["changed"] or bool(made)
        return result

    def _make_directories(self):
        """Create (or give root and the mode to) each of ``directories``: (paths made, their diff)."""
        made, diff = [], []
        for path, mode in self.directories:
            before = _directory_state(path)
            if before == (mode, 0, 0):
                continue
            made.append(path)
            diff.append(
                {
                    "before_header": path,
                    "after_header": path,
                    "before": ""
                    if before is None
                    else f"directory, mode {before[0]:04o}, owner {before[1]}:{before[2]}\n",
                    "after": f"directory, mode {mode:04o}, owner 0:0\n",
                }
            )
            if not self.check_mode:
                make_directory(path, mode)
        return made, diff

    def _contents(self):
        """[(FileSpec, bytes)]: the content of each file, those given by ``src`` read now."""
        out = []
        for spec in self.files:
            data = spec.data
            if data is None:
                try:
                    with open(spec.src, "rb") as handle:
                        data = handle.read()
                except OSError as exc:
                    raise ProxyConfigError(f"File {spec.dest}: cannot read its src {spec.src}: {exc}") from exc
            out.append((spec, data))
        return out

    def _apply(self):
        live = read_tree(self.live)
        if self.from_live and live is None:
            raise ProxyConfigError(
                f"The live tree {self.live} is missing: there is nothing to start the staged tree from."
            )
        contents = self._contents()
        to_write = [(spec, data) for spec, data in contents if not self._unchanged(spec.dest, spec.mode, data)]
        written = [spec.dest for spec, _data in to_write]
        # Files whose write is a change of its own, with what --diff shows of them (taken before writing).
        reported = [
            {
                "before_header": spec.dest,
                "after_header": spec.dest,
                "before": _diff_text(_file_entry(spec.dest), spec.dest, spec.private),
                "after": _diff_text(
                    Entry("file", spec.mode, hashlib.sha256(data).hexdigest(), None, data), spec.dest, spec.private
                ),
            }
            for spec, data in to_write
            if spec.reports_change
        ]
        if self.check_mode:
            staged = self._planned_stage(live, contents)
            if staged is None:
                # The tasks before this one would have created and filled it (a new host).
                return {
                    "changed": True,
                    "swapped": True,
                    "reloaded": True,
                    "differences": ["."],
                    "written": written,
                    "pruned": [],
                    "recorded": [dest for dest, _data in self.records],
                    "diff": reported,
                }
            pruned = self._stale(staged, contents)
            for rel in pruned:
                del staged[rel]
        else:
            if self.from_live:
                remove_tree(self.stage)
                copy_tree(self.live, self.stage)
            for spec, data in to_write:
                write_file(spec.dest, spec.mode, data)
            staged = read_tree(self.stage)
            pruned = self._stale(staged or {}, contents)
            for rel in pruned:
                os.unlink(os.path.join(self.stage, rel))
                del staged[rel]
        if staged is None:
            raise ProxyConfigError(f"The staged tree {self.stage} is missing.")
        differing = differences(live, staged)
        result = {
            "changed": False,
            "swapped": bool(differing),
            "reloaded": bool(differing) or self.reload,
            "differences": differing,
            "written": written,
            "pruned": [os.path.join(self.stage, rel) for rel in pruned],
            "diff": reported
            + [
                {
                    "before_header": os.path.join(self.live, rel),
                    "after_header": os.path.join(self.stage, rel),
                    "before": _diff_text((live or {}).get(rel), rel, rel in self._private),
                    "after": _diff_text(staged.get(rel), rel, rel in self._private),
                }
                for rel in differing
            ],
        }
        recorded = [(dest, data) for dest, data in self.records if not _file_is_current(dest, 0o644, data)]
        result["recorded"] = [dest for dest, _data in recorded]
        result["diff"].extend(
            {"before_header": dest, "after_header": dest, "before": _current_text(dest), "after": data.decode("utf-8")}
            for dest, data in recorded
        )
        result["changed"] = result["reloaded"] or bool(recorded) or bool(reported)
        if self.check_mode:
            return result
        if differing:
            self._test()
            answered = self._answering_before(live, differing)
            swap_in(self.stage, self.live, keep_old=True)
            try:
                if result["reloaded"]:
                    self._reload()
                broken = self._watch(answered)
            except ProxyConfigError as exc:
                self._put_back(str(exc), differing, reload=False, **exc.details)
            if broken:
                check, before, after = broken
                self._put_back(
                    f"Site '{check.site}' stopped answering with this change: GET https://{check.server_name}"
                    f"{check.path} through {self.check_address}:{self.check_port} answered {before} before the"
                    f" change and {after} after it",
                    differing,
                    reload=True,
                    site=check.site,
                )
            remove_tree(self.live + ".old")
        elif result["reloaded"]:
            self._reload()
        for dest, data in recorded:
            write_file(dest, 0o644, data)
        return result

    def _stale(self, staged, contents):
        """With ``prune_stage``: the staged files and links (relative paths) that no file of this run writes."""
        if not self.prune_stage:
            return []
        kept = {os.path.relpath(spec.dest, self.stage) for spec, _data in contents if self._in_stage(spec.dest)}
        return sorted(rel for rel, entry in staged.items() if entry.kind != "dir" and rel not in kept)

    def _reload(self):
        self._command(["systemctl", "reload-or-restart", self.service], f"Reloading {self.service} failed")

    def _affected(self, differing):
        """The checks of the sites a change touches; every check when it touches a path of no site."""
        owned = {path for check in self.checks for path in check.paths}
        if any(rel not in owned for rel in differing):
            return list(self.checks)
        return [check for check in self.checks if set(check.paths) & set(differing)]

    def _ask(self, check):
        ask = self.probe or probe
        return ask(self.check_address, self.check_port, check.server_name, check.path, self.check_timeout)

    def _answering_before(self, live, differing):
        """{check: answer} of the touched sites that the live configuration serves and that answer now.

        A new site, or one that does not answer before the change (down, in maintenance, no such
        path), cannot be broken by it: it is not checked.
        """
        answered = {}
        for check in self._affected(differing):
            if check.paths and not any(path in (live or {}) for path in check.paths):
                continue
            ok, answer = self._ask(check)
            if ok:
                answered[check] = answer
        return answered

    def _watch(self, answered):
        """Ask the sites again for ``check_settle`` seconds after the reload (the old workers may answer
        the first requests); (check, before, after) of the first that fails, or None."""
        if not answered:
            return None
        deadline = time.monotonic() + self.check_settle
        while True:
            for check, before in answered.items():
                ok, after = self._ask(check)
                if not ok:
                    return check, before, after
            if time.monotonic() >= deadline:
                return None
            time.sleep(_CHECK_POLL)

    def _put_back(self, reason, differing, reload, **details):
        """Put the previous live tree back (and reload with it), then fail with ``reason``."""
        put_back(self.live)
        what = f"{reason.rstrip('.')}. The previous configuration is back in {self.live}"
        if reload:
            rc, out, err = self.run_command(["systemctl", "reload-or-restart", self.service])
            if rc == 0:
                what += f" and {self.service} was reloaded with it"
            else:
                output = "\n".join(part.strip() for part in (err, out) if part and part.strip())
                what += f", but reloading {self.service} with it failed: {output or f'exit status {rc}'}"
        what += f"; the change ({', '.join(differing)}) stays in the staged tree {self.stage} until it is fixed."
        details.setdefault("differences", differing)
        raise ProxyConfigError(what, reverted=True, **details)

    def _unchanged(self, dest, mode, data):
        if self.from_live and self._in_stage(dest):
            # The staged tree is about to be replaced by the live one: compare with that.
            dest = os.path.join(self.live, os.path.relpath(dest, self.stage))
        return _file_is_current(dest, mode, data)

    def _in_stage(self, dest):
        return dest.startswith(self.stage + os.sep)

    def _planned_stage(self, live, contents):
        """The staged tree as a real run would leave it (before pruning), computed without writing anything."""
        staged = dict(live) if self.from_live else read_tree(self.stage)
        if staged is None:
            return None
        for path, mode in self.directories:
            if self._in_stage(path):
                staged[os.path.relpath(path, self.stage)] = Entry("dir", mode, None, None, None)
        for spec, data in contents:
            if self._in_stage(spec.dest):
                rel = os.path.relpath(spec.dest, self.stage)
                staged[rel] = Entry("file", spec.mode, hashlib.sha256(data).hexdigest(), None, data)
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
