# -*- coding: utf-8 -*-  # noqa: UP009
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Release switching logic behind ``pyops.deploy.release`` and ``pyops.deploy.release_info``.

Plain Python on purpose (no AnsibleModule), so every rule here is unit tested directly.
Runs on the managed host, hence Python 3.8 compatible and stdlib only.

Layout under the app root ``<path>``::

    releases/<id>/         one directory per release
    shared/                state that outlives releases, linked into each release
    current -> releases/<id>
    .releases.json         status record of every release (the single source of ordering)
    .deploy.lock           deploy lock, JSON
    deploy-audit.jsonl     append-only audit log, one JSON object per line

Every operation is planned first (a list of steps plus the predicted end state) and only then
executed, so check mode runs exactly the same decisions as a real run and can report them.
"""

from __future__ import annotations

import calendar
import collections
import contextlib
import copy
import getpass
import json
import os
import re
import shutil
import socket
import stat
import time

RELEASE_ID_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}"
_RELEASE_ID_RE = re.compile(RELEASE_ID_PATTERN)

RELEASES_DIR = "releases"
SHARED_DIR = "shared"
CURRENT_LINK = "current"
STATE_FILE = ".releases.json"
LOCK_FILE = ".deploy.lock"
AUDIT_FILE = "deploy-audit.jsonl"
STATE_FORMAT = 1

STATUSES = ("prepared", "good", "failed")
MARKABLE_STATUSES = ("good", "failed")
# A release directory without a record (made by hand or by an older tool) is listed with this status.
UNTRACKED_STATUS = "unknown"
STATES = ("prepared", "switched", "rolled_back", "pruned", "absent", "locked", "unlocked", "marked", "finalized")

DEFAULT_KEEP = 5
DEFAULT_LOCK_TTL = 3600
DEFAULT_HISTORY = 10
# Shared files are often secrets (.env, credentials); an empty placeholder must not be world readable.
SHARED_FILE_MODE = 0o600
AUDIT_FILE_MODE = 0o640
LOCK_FILE_MODE = 0o644
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


class ReleaseError(Exception):
    """Bad input or an unsafe on-disk situation; the message is meant for the user."""


# --------------------------------------------------------------------------------------------
# Input validation
# --------------------------------------------------------------------------------------------


def validate_app_root(path):
    if not isinstance(path, str) or not path:
        raise ReleaseError("path is required and must be a non-empty string")
    if "\x00" in path:
        raise ReleaseError("path must not contain NUL bytes")
    if not os.path.isabs(path):
        raise ReleaseError(f"path must be absolute, got {path!r}")
    normalized = os.path.normpath(path)
    if normalized in ("/", "//"):
        raise ReleaseError("refusing to use / as the app root")
    return normalized


def validate_release_id(release, what="release"):
    if not isinstance(release, str) or not _RELEASE_ID_RE.fullmatch(release):
        raise ReleaseError(
            f"{what} id {release!r} is invalid: it must match ^{RELEASE_ID_PATTERN}$ (letters, digits, '.', '_' "
            "and '-', starting with a letter or digit, at most 128 characters, no '/', not '.' or '..')"
        )
    return release


def validate_release_ids(releases, what):
    return [validate_release_id(r, what) for r in (releases or [])]


def validate_keep(keep):
    if isinstance(keep, bool) or not isinstance(keep, int) or keep < 1:
        raise ReleaseError(f"keep must be an integer >= 1, got {keep!r}")
    return keep


def validate_lock_ttl(ttl):
    if isinstance(ttl, bool) or not isinstance(ttl, int) or ttl < 1:
        raise ReleaseError(f"lock_ttl must be an integer >= 1 (seconds), got {ttl!r}")
    return ttl


def validate_history(history):
    if isinstance(history, bool) or not isinstance(history, int) or history < 0:
        raise ReleaseError(f"history must be an integer >= 0, got {history!r}")
    return history


def normalize_shared_path(path, what):
    if not isinstance(path, str) or not path.strip():
        raise ReleaseError(f"{what} entries must be non-empty strings, got {path!r}")
    if "\x00" in path:
        raise ReleaseError(f"{what} entry {path!r} must not contain NUL bytes")
    if os.path.isabs(path):
        raise ReleaseError(f"{what} entry {path!r} must be relative to shared/, not absolute")
    if ".." in path.split("/"):
        raise ReleaseError(f"{what} entry {path!r} must not contain '..'")
    normalized = os.path.normpath(path)
    if normalized in (".", ""):
        raise ReleaseError(f"{what} entry {path!r} does not name anything below shared/")
    return normalized


def _dedupe(items):
    seen = set()
    unique = []
    for item in items:
        if item not in seen:
            seen.add(item)
            unique.append(item)
    return unique


def validate_shared_paths(shared_dirs, shared_files):
    """Normalize both lists and reject overlaps, which would make one link write through another."""
    dirs = _dedupe(normalize_shared_path(p, "shared_dirs") for p in (shared_dirs or []))
    files = _dedupe(normalize_shared_path(p, "shared_files") for p in (shared_files or []))
    both = set(dirs) & set(files)
    if both:
        raise ReleaseError("{} listed in both shared_dirs and shared_files".format(", ".join(sorted(both))))
    everything = dirs + files
    for outer in everything:
        for inner in everything:
            if inner.startswith(outer + "/"):
                raise ReleaseError(
                    f"shared paths {outer!r} and {inner!r} overlap: a shared path must not be inside another one"
                )
    return dirs, files


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------


def format_time(epoch):
    return time.strftime(_TIME_FORMAT, time.gmtime(epoch))


def parse_time(value):
    try:
        return calendar.timegm(time.strptime(value, _TIME_FORMAT))
    except (TypeError, ValueError):
        return None


def is_inside(child, parent):
    if parent == os.sep:
        return child.startswith(os.sep)
    parent = parent.rstrip(os.sep)
    return child == parent or child.startswith(parent + os.sep)


def pid_alive(pid):
    """Whether ``pid`` runs on this host; any doubt counts as alive so a lock is never wrongly broken."""
    if pid <= 0:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def default_audit_user():
    # os.getlogin() names the account that logged in even under become; it needs a terminal though.
    try:
        return os.getlogin()
    except OSError:
        pass
    if os.environ.get("SUDO_USER"):
        return os.environ["SUDO_USER"]
    try:
        return getpass.getuser()
    except (KeyError, OSError, ImportError):  # no passwd entry, or no pwd module at all
        return "unknown"


def _random_suffix():
    return os.urandom(6).hex()


def _write_json_atomically(path, data):
    tmp = f"{path}.tmp-{_random_suffix()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_NOFOLLOW, 0o644)
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(data, handle, indent=2, sort_keys=True)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.lexists(tmp):
            os.unlink(tmp)
        raise


def _replace_symlink(link_target, link_path):
    """Point ``link_path`` at ``link_target`` without a moment where ``link_path`` is missing."""
    tmp = os.path.join(os.path.dirname(link_path), f".{os.path.basename(link_path)}.tmp-{_random_suffix()}")
    os.symlink(link_target, tmp)
    try:
        os.replace(tmp, link_path)
    except BaseException:
        os.unlink(tmp)
        raise


def _replace_with_symlink(link_target, link_path):
    if os.path.isdir(link_path) and not os.path.islink(link_path):
        shutil.rmtree(link_path)
    else:
        os.unlink(link_path)
    os.symlink(link_target, link_path)


# --------------------------------------------------------------------------------------------
# Layout and the records file
# --------------------------------------------------------------------------------------------


class AppLayout:
    """Paths of one app root plus the checks that keep every resolved path inside it."""

    def __init__(self, path):
        self.root = validate_app_root(path)
        self.releases = os.path.join(self.root, RELEASES_DIR)
        self.shared = os.path.join(self.root, SHARED_DIR)
        self.current = os.path.join(self.root, CURRENT_LINK)
        self.state_file = os.path.join(self.root, STATE_FILE)
        self.lock_file = os.path.join(self.root, LOCK_FILE)
        self.audit_file = os.path.join(self.root, AUDIT_FILE)

    def release_dir(self, release):
        return os.path.join(self.releases, release)

    @staticmethod
    def link_target(release):
        # Relative so the whole app root can be moved or mounted elsewhere without breaking current.
        return f"{RELEASES_DIR}/{release}"

    def exists(self):
        if not os.path.lexists(self.root):
            return False
        if not os.path.isdir(self.root):
            raise ReleaseError(f"path {self.root} exists but is not a directory")
        return True

    def real_root(self):
        return os.path.realpath(self.root)

    def ensure_inside(self, path, base, what):
        real_base = os.path.realpath(base)
        real = os.path.realpath(path)
        if not is_inside(real, real_base):
            raise ReleaseError(f"{what} {path} resolves to {real}, outside of {base}; refusing to follow it")
        return real

    def check_top_level(self):
        """Refuse symlink tricks on the fixed entries below the root before anything reads or writes them."""
        real_root = self.real_root()
        for path, what in ((self.releases, "releases directory"), (self.shared, "shared directory")):
            if not os.path.lexists(path):
                continue
            real = os.path.realpath(path)
            if real == real_root or not is_inside(real, real_root):
                raise ReleaseError(f"{what} {path} resolves to {real}, outside of {self.root}")
            if not os.path.isdir(path):
                raise ReleaseError(f"{what} {path} exists but is not a directory")
        for path in (self.state_file, self.lock_file, self.audit_file):
            if os.path.islink(path):
                raise ReleaseError(f"{path} is a symlink; refusing to use it")
        if os.path.lexists(self.current) and not os.path.islink(self.current):
            raise ReleaseError(
                f"{self.current} exists and is not a symlink; move it away so current can be switched atomically"
            )

    def present_releases(self):
        """Ids of real release directories; anything else under releases/ is ignored, never followed."""
        if not os.path.isdir(self.releases):
            return []
        found = []
        for name in os.listdir(self.releases):
            path = os.path.join(self.releases, name)
            if _RELEASE_ID_RE.fullmatch(name) and os.path.isdir(path) and not os.path.islink(path):
                found.append(name)
        return found

    def require_release_dir(self, release):
        path = self.release_dir(release)
        if os.path.islink(path):
            raise ReleaseError(f"release {release} ({path}) is a symlink; refusing to use it")
        if not os.path.isdir(path):
            raise ReleaseError(f"release {release} does not exist ({path})")
        return path

    def read_current(self):
        """Return ``(release id or None, link text or None)``; id is None when current points elsewhere."""
        if not os.path.lexists(self.current):
            return None, None
        if not os.path.islink(self.current):
            raise ReleaseError(
                f"{self.current} exists and is not a symlink; move it away so current can be switched atomically"
            )
        text = os.readlink(self.current)
        target = os.path.normpath(os.path.join(self.root, text))
        name = os.path.basename(target)
        if os.path.dirname(target) == self.releases and _RELEASE_ID_RE.fullmatch(name):
            return name, text
        return None, text


def empty_state():
    return {"format": STATE_FORMAT, "next_seq": 1, "releases": {}, "last_switch": None}


def load_state(layout):
    if not os.path.lexists(layout.state_file):
        return empty_state()
    try:
        with open(layout.state_file) as handle:
            data = json.load(handle)
    except ValueError as exc:
        raise ReleaseError(
            f"release records {layout.state_file} are not valid JSON ({exc}); fix or remove it"
        ) from None
    if not isinstance(data, dict) or not isinstance(data.get("releases"), dict):
        raise ReleaseError(f"release records {layout.state_file} have an unexpected layout; fix or remove it")
    for release, record in data["releases"].items():
        if not isinstance(record, dict) or record.get("status") not in STATUSES:
            raise ReleaseError(f"release records {layout.state_file}: entry {release!r} is malformed")
    state = empty_state()
    state.update(data)
    known_seqs = [r.get("seq", 0) for r in state["releases"].values()]
    state["next_seq"] = max([state.get("next_seq") or 1] + [s + 1 for s in known_seqs if isinstance(s, int)])
    return state


# --------------------------------------------------------------------------------------------
# Release listing, ordering and rollback target
# --------------------------------------------------------------------------------------------


class Release:
    __slots__ = ("activated", "created", "id", "seq", "status")

    def __init__(self, release, record):
        self.id = release
        record = record or {}
        self.status = record.get("status", UNTRACKED_STATUS)
        self.created = record.get("created")
        # Untracked directories predate the records, so they sort before every tracked release.
        self.seq = record.get("seq", 0) if isinstance(record.get("seq", 0), int) else 0
        self.activated = record.get("activated")

    def sort_key(self):
        return (self.seq, self.id)

    def as_dict(self, current):
        return {"id": self.id, "status": self.status, "created": self.created, "is_current": self.id == current}


def ordered_releases(present, state):
    """Oldest first: creation sequence from the records, release id as tie breaker. Never mtime."""
    records = state["releases"]
    return sorted((Release(r, records.get(r)) for r in present), key=Release.sort_key)


def is_rollback_candidate(release):
    return release.status == "good" or (release.status == "prepared" and bool(release.activated))


def find_rollback_target(releases, current):
    """Newest good (or once-current prepared) release older than ``current``; ``releases`` oldest first."""
    if current is None:
        return None
    ids = [r.id for r in releases]
    older = releases[: ids.index(current)] if current in ids else list(releases)
    for release in reversed(older):
        if release.id != current and is_rollback_candidate(release):
            return release.id
    return None


def select_prune_victims(releases, current, keep, protect):
    """Ids to remove, oldest first. ``releases`` is ordered oldest first."""
    kept = set(protect)
    if current is not None:
        kept.add(current)
    rollback_target = find_rollback_target(releases, current)
    if rollback_target is not None:
        kept.add(rollback_target)
    counted = 0
    for release in reversed(releases):
        if release.status == "failed":
            continue
        if counted < keep:
            kept.add(release.id)
            counted += 1
    return [r.id for r in releases if r.id not in kept]


# --------------------------------------------------------------------------------------------
# Lock
# --------------------------------------------------------------------------------------------


def read_lock(layout):
    """The raw lock content, ``None`` when unlocked; an unreadable lock is reported, never ignored."""
    try:
        with open(layout.lock_file) as handle:
            raw = handle.read()
    except FileNotFoundError:
        return None
    try:
        data = json.loads(raw)
    except ValueError:
        data = None
    if isinstance(data, dict):
        return data
    # A crash between creating and writing the lock leaves it empty; its age still lets it go stale.
    mtime = os.lstat(layout.lock_file).st_mtime
    return {"owner": None, "host": None, "pid": None, "time": format_time(mtime), "run_id": None, "corrupt": True}


def lock_staleness(lock, ttl, now, hostname, alive):
    """Return why ``lock`` is stale, or None while its holder may still be working."""
    started = parse_time(lock.get("time"))
    if started is None or now - started > ttl:
        return f"older than lock_ttl ({ttl}s)"
    pid = lock.get("pid")
    if lock.get("host") == hostname and isinstance(pid, int) and not isinstance(pid, bool) and not alive(pid):
        return f"process {pid} on {hostname} is gone"
    return None


def describe_lock_holder(lock):
    if lock.get("corrupt"):
        return f"an unreadable lock file (written {lock.get('time')})"
    details = [f"{key} {lock[key]}" for key in ("host", "pid", "run_id") if lock.get(key) is not None]
    details.append(f"since {lock.get('time')}")
    return f"{lock.get('owner')} ({', '.join(details)})"


# --------------------------------------------------------------------------------------------
# Plans
# --------------------------------------------------------------------------------------------


class Plan:
    """Steps to run plus the end state they lead to, so check mode can report without touching disk."""

    def __init__(self, action, snapshot):
        self.action = action
        self.steps = []
        self.present = list(snapshot["present"])
        self.state = copy.deepcopy(snapshot["state"])
        self.original_state = snapshot["state"]
        self.current = snapshot["current"]
        self.current_text = snapshot["current_text"]
        self.lock = snapshot["lock"]
        self.release = None
        self.extra = {}
        self.audit_details = {}
        self.attribute_dirs = []
        self.attribute_new_files = []
        self.planned_dirs = set()
        self.before = None
        self.previous = snapshot["current"]

    def add(self, description, func):
        self.steps.append((description, func))

    def state_changed(self):
        return self.state != self.original_state

    def record_for(self, release, now):
        """The record of ``release``, adopting an untracked directory without moving it in the order."""
        records = self.state["releases"]
        if release not in records:
            records[release] = {"seq": 0, "created": None, "status": "prepared", "adopted": format_time(now)}
        return records[release]


class ReleaseManager:
    """All operations on one app root.

    ``clock``, ``hostname`` and ``alive`` are injectable for tests. ``apply_attributes(path, is_dir)``
    is called for the directories a ``prepared`` run manages (and shared files it created) and returns
    whether it changed (or, in check mode, would change) ownership or permissions.
    """

    def __init__(
        self,
        path,
        check_mode=False,
        audit_user=None,
        source=None,
        run_id=None,
        lock_owner=None,
        lock_ttl=DEFAULT_LOCK_TTL,
        apply_attributes=None,
        clock=time.time,
        hostname=None,
        alive=pid_alive,
    ):
        self.layout = AppLayout(path)
        self.check_mode = check_mode
        self.audit_user = audit_user or default_audit_user()
        self.source = source
        self.run_id = run_id
        self.lock_owner = lock_owner
        self.lock_ttl = validate_lock_ttl(lock_ttl)
        self.apply_attributes = apply_attributes
        self.clock = clock
        self.hostname = hostname or socket.gethostname()
        self.alive = alive
        self._now = None

    # ---- public entry points ---------------------------------------------------------------

    def run(self, state, take_lock=False, release_lock=False, **options):
        """Run ``state``; ``take_lock`` takes the deploy lock first, ``release_lock`` releases it after.

        Each saves a round trip where every second counts (a rollback, the end of a deploy batch). A
        lock this call took is given back if the change then fails, so a refused change leaves the app
        root as it was; with ``release_lock`` a failed change keeps the lock for the caller to handle.
        """
        if (take_lock or release_lock) and state in ("locked", "unlocked"):
            raise ReleaseError(f"take_lock and release_lock are for the changing states, not state={state}")
        if take_lock and release_lock:
            raise ReleaseError("take_lock and release_lock together would hold the lock for one step only; use one")
        if release_lock:
            result = self._dispatch(state, options)
            return self._merge_lock_step(result, self.unlock(), before=False)
        if not take_lock:
            return self._dispatch(state, options)
        locking = self.lock()
        try:
            result = self._dispatch(state, options)
        except Exception:
            if locking["changed"] and not self.check_mode:
                self.unlock()
            raise
        return self._merge_lock_step(result, locking, before=True)

    @staticmethod
    def _merge_lock_step(result, step, before):
        """Fold a lock or unlock ``step`` that ran ``before`` (or after) the change into its result."""
        result["changed"] = result["changed"] or step["changed"]
        result["actions"] = step["actions"] + result["actions"] if before else result["actions"] + step["actions"]
        result["lock"] = step["lock"]
        if before:
            result["diff"]["before"] = step["diff"]["before"]
        result["diff"]["after"]["lock"] = step["diff"]["after"]["lock"]
        if "stale_lock_replaced" in step:
            result["stale_lock_replaced"] = step["stale_lock_replaced"]
        return result

    def _dispatch(self, state, options):
        handlers = {
            "prepared": self.prepare,
            "switched": self.switch,
            "rolled_back": self.rollback,
            "pruned": self.prune,
            "absent": self.remove,
            "locked": self.lock,
            "unlocked": self.unlock,
            "marked": self.mark,
            "finalized": self.finalize,
        }
        if state not in handlers:
            raise ReleaseError("state must be one of {}, got {!r}".format(", ".join(STATES), state))
        return handlers[state](**options)

    def prepare(self, release=None, shared_dirs=None, shared_files=None, force=False):
        release = validate_release_id(release)
        dirs, files = validate_shared_paths(shared_dirs, shared_files)
        plan = self._start("prepared", release)
        self._plan_prepare(plan, release, dirs, files, force)
        return self._finish(plan)

    def switch(self, release=None, force=False):
        release = validate_release_id(release)
        plan = self._start("switched", release)
        self._check_switch_target(release, plan, force)
        self._plan_switch(plan, release, "switched")
        return self._finish(plan)

    def rollback(self, release=None, mark_failed=True, force=False):
        if release is not None:
            release = validate_release_id(release)
        plan = self._start("rolled_back", release)
        self._plan_rollback(plan, release, mark_failed, force)
        return self._finish(plan)

    def prune(self, keep=DEFAULT_KEEP, protect=None):
        keep = validate_keep(keep)
        protect = validate_release_ids(protect, "protect")
        plan = self._start("pruned", None)
        self._require_known_current(plan, "prune")
        self._plan_prune(plan, keep, protect)
        return self._finish(plan)

    def finalize(self, release=None, keep=DEFAULT_KEEP, protect=None):
        """The end of a deploy: the current release passed its checks, so record it good and prune."""
        release = validate_release_id(release)
        keep = validate_keep(keep)
        protect = validate_release_ids(protect, "protect")
        plan = self._start("finalized", release)
        self.layout.require_release_dir(release)
        if plan.current != release:
            raise ReleaseError(
                f"release {release} is not the current release ({plan.current or 'none'}); switch to it before "
                "finalizing it"
            )
        self._set_status(plan, release, "good")
        self._plan_prune(plan, keep, protect, f"record release {release} good and forget removed releases")
        return self._finish(plan)

    def remove(self, release=None, protect=None):
        release = validate_release_id(release)
        protect = validate_release_ids(protect, "protect")
        plan = self._start("absent", release)
        self._require_known_current(plan, "remove a release")
        if release == plan.current:
            raise ReleaseError(f"release {release} is the current release; switch away from it before removing it")
        if release in protect:
            raise ReleaseError(f"release {release} is listed in protect; refusing to remove it")
        path = self.layout.release_dir(release)
        victims = []
        if os.path.islink(path):
            raise ReleaseError(f"release {release} ({path}) is a symlink; refusing to remove it")
        if release in plan.present:
            victims = [release]
        self._plan_removal(plan, victims)
        plan.extra["removed"] = victims
        plan.audit_details["removed"] = victims
        return self._finish(plan)

    def lock(self, pid=None, host=None):
        owner = self._require_lock_owner("locked")
        plan = self._start("locked", None, guard=False)
        held = plan.lock
        if held is not None and held.get("owner") == owner:
            return self._finish(plan)
        new_lock = {
            "owner": owner,
            "host": host or self.hostname,
            "pid": pid,
            "time": format_time(self._now),
            "run_id": self.run_id,
        }
        if not os.path.isdir(self.layout.root):
            plan.add(f"create app root {self.layout.root}", lambda: os.makedirs(self.layout.root))
        if held is None:
            plan.add(f"take deploy lock as {owner}", lambda: self._create_lock_file(new_lock))
        else:
            reason = lock_staleness(held, self.lock_ttl, self._now, self.hostname, self.alive)
            if reason is None:
                raise ReleaseError(
                    f"deploy lock on {self.layout.root} is held by {describe_lock_holder(held)}; wait for it, "
                    "or release it with state=unlocked and force=true if that deploy is dead"
                )
            plan.add(
                f"take over stale deploy lock of {describe_lock_holder(held)} ({reason})",
                lambda: self._take_over_lock(held, new_lock),
            )
            plan.extra["stale_lock_replaced"] = dict(held, stale_reason=reason)
            plan.audit_details["stale_lock_replaced"] = dict(held, stale_reason=reason)
        plan.lock = new_lock
        return self._finish(plan)

    def unlock(self, force=False):
        plan = self._start("unlocked", None, guard=False)
        held = plan.lock
        if held is None:
            return self._finish(plan)
        if self.lock_owner is None and not force:
            raise ReleaseError("lock_owner is required to release the deploy lock (or force=true to break it)")
        if held.get("owner") != self.lock_owner:
            if not force:
                raise ReleaseError(
                    f"deploy lock on {self.layout.root} is held by {describe_lock_holder(held)}, "
                    f"not by {self.lock_owner}; refusing to release it without force=true"
                )
            plan.audit_details["broken_lock"] = held
        plan.add(f"release deploy lock of {describe_lock_holder(held)}", lambda: self._remove_lock_file(held))
        plan.lock = None
        return self._finish(plan)

    def mark(self, release=None, status=None):
        release = validate_release_id(release)
        if status not in MARKABLE_STATUSES:
            raise ReleaseError("status must be one of {}, got {!r}".format(", ".join(MARKABLE_STATUSES), status))
        plan = self._start("marked", release)
        self.layout.require_release_dir(release)
        self._set_status(plan, release, status)
        self._add_state_save(plan, f"mark release {release} {status}")
        return self._finish(plan)

    def info(self, history=DEFAULT_HISTORY):
        history = validate_history(history)
        self._now = self.clock()
        if not self.layout.exists():
            return {
                "exists": False,
                "current": None,
                "previous_good": None,
                "releases": [],
                "lock": None,
                "last_deploys": [],
                "directories": {"releases": None, "shared": None},
                "changed": False,
            }
        snapshot = self._read_snapshot()
        releases = ordered_releases(snapshot["present"], snapshot["state"])
        return {
            "exists": True,
            "current": snapshot["current"],
            "previous_good": find_rollback_target(releases, snapshot["current"]),
            "releases": [r.as_dict(snapshot["current"]) for r in releases],
            "lock": self._lock_view(snapshot["lock"]),
            "last_deploys": self._read_audit_tail(history),
            "directories": {
                "releases": directory_view(self.layout.releases),
                "shared": directory_view(self.layout.shared),
            },
            "changed": False,
        }

    # ---- planning ----------------------------------------------------------------------------

    def _start(self, action, release, guard=True):
        self._now = self.clock()
        snapshot = self._read_snapshot()
        if guard:
            self._check_lock_guard(snapshot["lock"])
        plan = Plan(action, snapshot)
        plan.release = release
        plan.before = self._diff_view(snapshot["present"], snapshot["state"], snapshot["current"], snapshot["lock"])
        return plan

    def _read_snapshot(self):
        if not self.layout.exists():
            return {"present": [], "state": empty_state(), "current": None, "current_text": None, "lock": None}
        self.layout.check_top_level()
        current, current_text = self.layout.read_current()
        return {
            "present": self.layout.present_releases(),
            "state": load_state(self.layout),
            "current": current,
            "current_text": current_text,
            "lock": read_lock(self.layout),
        }

    def _check_lock_guard(self, held):
        """Changing states refuse to run while somebody else's live deploy holds the lock."""
        if held is None or (held.get("owner") is not None and held.get("owner") == self.lock_owner):
            return
        reason = lock_staleness(held, self.lock_ttl, self._now, self.hostname, self.alive)
        if reason is None:
            raise ReleaseError(
                f"deploy lock on {self.layout.root} is held by {describe_lock_holder(held)}; pass the holder's "
                "lock_owner, wait, or release it with state=unlocked"
            )

    def _require_lock_owner(self, state):
        if not self.lock_owner:
            raise ReleaseError(f"lock_owner is required for state={state}")
        return self.lock_owner

    def _require_known_current(self, plan, doing):
        # Without knowing which release is live, removing anything could remove the live code.
        if plan.current_text is not None and plan.current is None:
            raise ReleaseError(
                f"{self.layout.current} points to {plan.current_text}, which is not a release under "
                f"{self.layout.releases}; refusing to {doing}"
            )

    def _set_status(self, plan, release, status):
        record = plan.record_for(release, self._now)
        if record.get("status") != status:
            record["status"] = status
            record["status_changed"] = format_time(self._now)
        plan.audit_details["status"] = status

    def _plan_prune(self, plan, keep, protect, save_description="forget removed releases"):
        releases = ordered_releases(plan.present, plan.state)
        victims = select_prune_victims(releases, plan.current, keep, protect)
        orphans = sorted(set(plan.state["releases"]) - set(plan.present))
        for orphan in orphans:
            # A record whose directory vanished would resurrect an old status if the id is deployed again.
            del plan.state["releases"][orphan]
        self._plan_removal(plan, victims, save_description)
        plan.extra["removed"] = victims
        plan.audit_details.update({"removed": victims, "keep": keep, "protect": protect})

    def _plan_prepare(self, plan, release, dirs, files, force):
        layout = self.layout
        release_dir = layout.release_dir(release)
        if os.path.islink(release_dir):
            raise ReleaseError(f"release {release} ({release_dir}) is a symlink; refusing to use it")
        if os.path.lexists(release_dir) and not os.path.isdir(release_dir):
            raise ReleaseError(f"release {release} ({release_dir}) exists but is not a directory")

        if not os.path.isdir(layout.root):
            # The root's ownership is left alone: it is often a shared parent such as /srv/<app>.
            plan.add(f"create app root {layout.root}", lambda: os.makedirs(layout.root))
        self._plan_mkdir(plan, layout.releases)
        self._plan_mkdir(plan, release_dir)
        self._plan_mkdir(plan, layout.shared)

        conflicts = []
        for shared_path in dirs:
            self._plan_shared_dir(plan, shared_path)
        for shared_path in files:
            self._plan_shared_file(plan, shared_path)
        for shared_path in dirs + files:
            conflict = self._plan_shared_link(plan, release, shared_path, force)
            if conflict:
                conflicts.append(conflict)
        if conflicts:
            raise ReleaseError(
                "release {} already contains {} where shared links belong; remove them from the release or "
                "set force=true to replace them with the links".format(release, ", ".join(conflicts))
            )

        record = plan.state["releases"].get(release)
        if record is None or release not in plan.present:
            # A record without a directory belongs to an earlier deploy of the same id: start afresh.
            plan.state["releases"][release] = {
                "seq": plan.state["next_seq"],
                "created": format_time(self._now),
                "status": "prepared",
            }
            plan.state["next_seq"] += 1
        if release not in plan.present:
            plan.present.append(release)
        plan.audit_details.update({"shared_dirs": dirs, "shared_files": files})
        self._add_state_save(plan, f"record release {release} as prepared")

    def _plan_mkdir(self, plan, path, manage_existing=True):
        """Plan ``mkdir path``; ``manage_existing`` also puts an existing directory under owner/group/mode."""
        if os.path.isdir(path) or path in plan.planned_dirs:
            if manage_existing:
                plan.attribute_dirs.append(path)
            return
        if os.path.lexists(path):
            raise ReleaseError(f"{path} exists but is not a directory")
        plan.attribute_dirs.append(path)
        plan.planned_dirs.add(path)
        plan.add(f"create directory {path}", lambda: os.mkdir(path))

    def _plan_nested_dirs(self, plan, base, relative, manage_existing=True):
        """Create each missing component of ``base/relative`` one by one, so none is silently a file."""
        current = base
        for part in relative.split("/"):
            current = os.path.join(current, part)
            self._plan_mkdir(plan, current, manage_existing)

    def _plan_shared_dir(self, plan, shared_path):
        target = os.path.join(self.layout.shared, shared_path)
        self.layout.ensure_inside(target, self.layout.shared, "shared path")
        self._plan_nested_dirs(plan, self.layout.shared, shared_path)

    def _plan_shared_file(self, plan, shared_path):
        target = os.path.join(self.layout.shared, shared_path)
        self.layout.ensure_inside(target, self.layout.shared, "shared path")
        parent = os.path.dirname(shared_path)
        if parent:
            self._plan_nested_dirs(plan, self.layout.shared, parent)
        if os.path.lexists(target):
            if os.path.isdir(target):
                raise ReleaseError(f"shared file {target} is a directory")
            return
        plan.attribute_new_files.append(target)
        plan.add(f"create empty shared file {target}", lambda: self._create_empty_file(target))

    def _plan_shared_link(self, plan, release, shared_path, force):
        """Plan the link ``releases/<id>/<p> -> shared/<p>``; return a description of a blocking entry."""
        release_dir = self.layout.release_dir(release)
        link_path = os.path.join(release_dir, shared_path)
        link_dir = os.path.dirname(link_path)
        self.layout.ensure_inside(link_dir, release_dir, "link location")
        link_target = os.path.relpath(os.path.join(self.layout.shared, shared_path), link_dir)
        parent = os.path.dirname(shared_path)
        if parent:
            # Directories shipped with the release code keep whatever permissions the code gave them.
            self._plan_nested_dirs(plan, release_dir, parent, manage_existing=False)
        if os.path.islink(link_path):
            if os.readlink(link_path) != link_target:
                plan.add(
                    f"repoint link {link_path} -> {link_target}",
                    lambda: _replace_symlink(link_target, link_path),
                )
            return None
        if os.path.lexists(link_path):
            if not force:
                return shared_path
            plan.add(
                f"replace {link_path} with link -> {link_target}",
                lambda: _replace_with_symlink(link_target, link_path),
            )
            return None
        plan.add(f"link {link_path} -> {link_target}", lambda: os.symlink(link_target, link_path))
        return None

    def _check_switch_target(self, release, plan, force):
        self.layout.require_release_dir(release)
        record = plan.state["releases"].get(release)
        if record is not None and record.get("status") == "failed" and not force:
            raise ReleaseError(f"release {release} is marked failed; set force=true to switch to it anyway")

    def _plan_switch(self, plan, release, how):
        link_target = self.layout.link_target(release)
        if plan.current_text == link_target:
            return
        current_link = self.layout.current
        plan.add(
            f"point {current_link} at {link_target}",
            lambda: _replace_symlink(link_target, current_link),
        )
        if plan.current != release:
            now = format_time(self._now)
            plan.record_for(release, self._now)["activated"] = now
            plan.state["last_switch"] = {"release": release, "action": how, "from": plan.current, "time": now}
        plan.current = release
        plan.current_text = link_target
        self._add_state_save(plan, f"record the switch to {release}")

    def _plan_rollback(self, plan, release, mark_failed, force):
        current = plan.current
        last = plan.state.get("last_switch") or {}
        previous_rollback_from = (
            last.get("from") if last.get("action") == "rolled_back" and last.get("release") == current else None
        )
        if release is not None:
            self._check_switch_target(release, plan, force)
            target = release
        else:
            if current is None:
                raise ReleaseError(f"there is no current release under {self.layout.root} to roll back from")
            if previous_rollback_from is not None:
                # Already rolled back to this release: repeating the task must not walk further back.
                plan.extra["rolled_back_from"] = previous_rollback_from
                return
            releases = ordered_releases(plan.present, plan.state)
            target = find_rollback_target(releases, current)
            if target is None:
                raise ReleaseError(
                    f"no release older than {current} is good or was current before; nothing to roll back to "
                    "(pass release to pick one)"
                )
        if target == current:
            plan.extra["rolled_back_from"] = previous_rollback_from
            self._plan_switch(plan, target, "rolled_back")
            return
        self._plan_switch(plan, target, "rolled_back")
        if mark_failed and current is not None and current in plan.present:
            record = plan.record_for(current, self._now)
            if record.get("status") != "failed":
                record["status"] = "failed"
                record["status_changed"] = format_time(self._now)
        plan.extra["rolled_back_from"] = current
        plan.audit_details.update({"rolled_back_from": current, "marked_failed": bool(mark_failed and current)})
        self._add_state_save(plan, f"record the rollback from {current}")

    def _plan_removal(self, plan, victims, save_description="forget removed releases"):
        trash = {}
        for victim in victims:
            path = self.layout.release_dir(victim)
            # Renaming first makes a release vanish at once; a half-deleted tree is never listed.
            trash[victim] = os.path.join(self.layout.releases, f".removing-{victim}-{_random_suffix()}")
            plan.add(f"move {path} out of the way", lambda p=path, t=trash[victim]: os.rename(p, t))
            plan.state["releases"].pop(victim, None)
            plan.present.remove(victim)
        self._add_state_save(plan, save_description)
        for victim in victims:
            plan.add(f"delete release {victim}", lambda t=trash[victim]: shutil.rmtree(t))

    def _add_state_save(self, plan, description):
        if not plan.state_changed() or any(getattr(step[1], "_saves_state", False) for step in plan.steps):
            return

        def save():
            _write_json_atomically(self.layout.state_file, plan.state)

        save._saves_state = True
        plan.add(description, save)

    # ---- execution ---------------------------------------------------------------------------

    def _finish(self, plan):
        if not self.check_mode:
            self._run_steps(plan)
        attributes_changed = self._apply_attributes(plan)
        changed = bool(plan.steps) or attributes_changed
        if self.check_mode:
            present, state, current, lock = plan.present, plan.state, plan.current, plan.lock
        else:
            snapshot = self._read_snapshot()
            present, state, current, lock = (
                snapshot["present"],
                snapshot["state"],
                snapshot["current"],
                snapshot["lock"],
            )
        if changed and not self.check_mode:
            self._audit(plan, current, "ok")
        releases = ordered_releases(present, state)
        release_for_path = plan.release or current
        result = {
            "changed": changed,
            "previous": plan.previous,
            "current": current,
            "releases": [r.as_dict(current) for r in releases],
            "release_path": self.layout.release_dir(release_for_path) if release_for_path else None,
            "lock": self._lock_view(lock),
            "actions": [step[0] for step in plan.steps],
            "diff": {"before": plan.before, "after": self._diff_view(present, state, current, lock)},
        }
        result.update(plan.extra)
        return result

    def _run_steps(self, plan):
        for description, func in plan.steps:
            try:
                func()
            except OSError as exc:
                message = f"failed to {description}: {exc}"
                self._audit_failure(plan, message)
                raise ReleaseError(message) from exc
            except ReleaseError as exc:
                self._audit_failure(plan, str(exc))
                raise

    def _audit_failure(self, plan, message):
        try:
            current = self.layout.read_current()[0]
            self._audit(plan, current, f"failed: {message}")
        except (OSError, ReleaseError):
            pass  # the original error is what the user needs to see

    def _apply_attributes(self, plan):
        if self.apply_attributes is None:
            return False
        changed = False
        for path in _dedupe(plan.attribute_dirs):
            if os.path.isdir(path):
                changed = bool(self.apply_attributes(path, True)) or changed
        for path in plan.attribute_new_files:
            if os.path.lexists(path):
                changed = bool(self.apply_attributes(path, False)) or changed
        return changed

    def _diff_view(self, present, state, current, lock):
        return {
            "current": current,
            "releases": {r.id: r.status for r in ordered_releases(present, state)},
            "lock": lock.get("owner") if lock else None,
        }

    def _lock_view(self, lock):
        if lock is None:
            return None
        view = dict(lock)
        reason = lock_staleness(lock, self.lock_ttl, self._now, self.hostname, self.alive)
        view["stale"] = reason is not None
        view["stale_reason"] = reason
        return view

    # ---- filesystem primitives with their own safety ------------------------------------------

    @staticmethod
    def _create_empty_file(path):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_NOFOLLOW, SHARED_FILE_MODE))

    def _create_lock_file(self, lock):
        try:
            fd = os.open(self.layout.lock_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_NOFOLLOW, LOCK_FILE_MODE)
        except FileExistsError:
            holder = read_lock(self.layout) or {"owner": "unknown", "time": None}
            raise ReleaseError(
                f"deploy lock on {self.layout.root} was just taken by {describe_lock_holder(holder)}"
            ) from None
        with os.fdopen(fd, "w") as handle:
            handle.write(json.dumps(lock, sort_keys=True) + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    def _take_over_lock(self, stale, lock):
        """Swap a stale lock for ours without stealing a lock someone else took in the meantime."""
        aside = f"{self.layout.lock_file}.stale-{_random_suffix()}"
        try:
            os.rename(self.layout.lock_file, aside)
        except FileNotFoundError:
            aside = None
        if aside is not None:
            with open(aside) as handle:
                moved = handle.read()
            try:
                moved_lock = json.loads(moved)
            except ValueError:
                moved_lock = None
            if not stale.get("corrupt") and moved_lock != stale:
                with contextlib.suppress(OSError):
                    os.link(aside, self.layout.lock_file)
                os.unlink(aside)
                raise ReleaseError(f"deploy lock on {self.layout.root} changed while taking it over; retry")
            os.unlink(aside)
        self._create_lock_file(lock)

    def _remove_lock_file(self, expected):
        current = read_lock(self.layout)
        if current is None:
            return
        if current != expected:
            raise ReleaseError(f"deploy lock on {self.layout.root} changed while releasing it; retry")
        os.unlink(self.layout.lock_file)

    # ---- audit log ----------------------------------------------------------------------------

    def _audit(self, plan, current, result):
        entry = {
            "time": format_time(self._now),
            "user": self.audit_user,
            "host": self.hostname,
            "action": plan.action,
            "release": plan.release,
            "previous": plan.previous,
            "current": current,
            "source": self.source,
            "run_id": self.run_id,
            "lock_owner": self.lock_owner,
            "result": result,
            "details": plan.audit_details,
        }
        line = (json.dumps(entry, sort_keys=True) + "\n").encode("utf-8")
        fd = os.open(self.layout.audit_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT | _O_NOFOLLOW, AUDIT_FILE_MODE)
        try:
            # One write call per entry: O_APPEND keeps concurrent lines from interleaving.
            os.write(fd, line)
        finally:
            os.close(fd)

    def _read_audit_tail(self, count):
        if count == 0 or not os.path.isfile(self.layout.audit_file):
            return []
        entries = collections.deque(maxlen=count)
        with open(self.layout.audit_file, encoding="utf-8", errors="replace") as handle:
            for line in handle:
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue  # a torn line from a crash must not hide the rest of the history
                if isinstance(entry, dict):
                    entries.append(entry)
        return list(entries)


def parse_systemctl_show(text):
    """``systemctl show -p MainPID -p ExecMainStartTimestampMonotonic`` output as (pid, start in seconds)."""
    props = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
    try:
        return int(props.get("MainPID") or 0), int(props.get("ExecMainStartTimestampMonotonic") or 0) / 1e6
    except ValueError:
        return 0, 0.0


def running_release(path, main_pid, start_monotonic, now, now_monotonic):
    """The release a service runs that resolved ``<path>/current`` when its main process started.

    That is current's release if the process started after the link last changed, else None: then the
    process may still run the release current pointed at before. Comparing times needs no ptrace
    access to the process, which reading /proc/<pid>/cwd does (root lacks it in containers and under
    some hardened kernels). ``start_monotonic`` and ``now_monotonic`` are CLOCK_MONOTONIC seconds.
    """
    layout = AppLayout(path)
    if main_pid <= 0 or start_monotonic <= 0 or not os.path.islink(layout.current):
        return None
    started = now - (now_monotonic - start_monotonic)
    if started <= os.lstat(layout.current).st_mtime:
        return None
    return layout.read_current()[0]


def directory_view(path):
    """Type, permissions and numeric ownership of ``path`` (not followed if a symlink), None if missing."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return None
    return {
        "path": path,
        "is_dir": stat.S_ISDIR(info.st_mode),
        "mode": f"{stat.S_IMODE(info.st_mode):04o}",
        "uid": info.st_uid,
        "gid": info.st_gid,
    }


def release_info(path, history=DEFAULT_HISTORY, lock_ttl=DEFAULT_LOCK_TTL, **environment):
    """Read-only view of an app root, as returned by ``pyops.deploy.release_info``."""
    manager = ReleaseManager(path, check_mode=True, lock_ttl=lock_ttl, audit_user="-", **environment)
    return manager.info(history)


__all__ = [
    "DEFAULT_HISTORY",
    "DEFAULT_KEEP",
    "DEFAULT_LOCK_TTL",
    "MARKABLE_STATUSES",
    "RELEASE_ID_PATTERN",
    "STATES",
    "AppLayout",
    "ReleaseError",
    "ReleaseManager",
    "parse_systemctl_show",
    "running_release",
    "release_info",
]
