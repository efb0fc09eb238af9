# -*- coding: utf-8 -*-  # noqa: UP009
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The deploy lock (.deploy.lock): reading it, deciding whether it is stale, and taking and giving it back.

The lock file is one JSON object::

    {"owner": "alice@ctl", "run_id": "7f3c...", "host": "ctl", "pid": 4242,
     "time": "2024-05-01T08:00:00Z", "heartbeat": "2024-05-01T08:03:00Z"}

The holder is the pair (owner, run_id): owner names the human, run_id the playbook run. Every call of
the holder refreshes ``heartbeat`` (at most once per HEARTBEAT_INTERVAL), and the lock is stale once
``heartbeat`` (or ``time`` in a lock without one) is older than lock_ttl.
"""

from __future__ import annotations

import contextlib
import json
import os

from ansible_collections.pyops.deploy.plugins.module_utils._release.layout import (
    LOCK_FILE_MODE,
    O_NOFOLLOW,
    ReleaseError,
    format_time,
    parse_time,
    random_suffix,
)
from ansible_collections.pyops.deploy.plugins.module_utils._release.records import fsync_directory

# A heartbeat is rewritten at most this often (and at most every tenth of lock_ttl), so a run of
# quick tasks does not rewrite the lock file on every one.
HEARTBEAT_INTERVAL = 60


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


def lock_holds(lock, owner, run_id):
    """Whether the run (``owner``, ``run_id``) holds ``lock``.

    A run without run_id, or a lock without one (taken by an older version of this module), is
    matched by owner alone, as before run ids were recorded.
    """
    if lock is None or owner is None or lock.get("owner") != owner:
        return False
    return run_id is None or lock.get("run_id") is None or lock.get("run_id") == run_id


def last_seen(lock):
    return lock.get("heartbeat") or lock.get("time")


def lock_staleness(lock, ttl, now, hostname, alive):
    """Return why ``lock`` is stale, or None while its holder may still be working."""
    seen = parse_time(last_seen(lock))
    if seen is None or now - seen > ttl:
        return f"not seen for more than lock_ttl ({ttl}s)"
    pid = lock.get("pid")
    if lock.get("host") == hostname and isinstance(pid, int) and not isinstance(pid, bool) and not alive(pid):
        return f"process {pid} on {hostname} is gone"
    return None


def describe_lock_holder(lock):
    if lock.get("corrupt"):
        return f"an unreadable lock file (written {lock.get('time')})"
    details = [f"run {lock['run_id']}"] if lock.get("run_id") is not None else []
    details.append(f"since {lock.get('time')}")
    details.append(f"last seen {last_seen(lock)}")
    details.extend(f"{key} {lock[key]}" for key in ("host", "pid") if lock.get(key) is not None)
    return f"{lock.get('owner')} ({', '.join(details)})"


def describe_run(owner, run_id):
    return f"{owner} (run {run_id})" if run_id is not None else str(owner)


def heartbeat_due(lock, ttl, now):
    seen = parse_time(last_seen(lock))
    return seen is None or now - seen >= max(1, min(HEARTBEAT_INTERVAL, ttl // 10))


def refresh_heartbeat(layout, expected, heartbeat):
    """Rewrite the lock with a new ``heartbeat`` atomically; return the new lock, or None if it changed."""
    if expected.get("corrupt"):
        return None
    fresh = dict(expected, heartbeat=heartbeat)
    tmp = f"{layout.lock_file}.tmp-{random_suffix()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | O_NOFOLLOW, LOCK_FILE_MODE)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(json.dumps(fresh, sort_keys=True) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        # Another run may have broken and retaken the lock since it was read: never overwrite that.
        if read_lock(layout) != expected:
            os.unlink(tmp)
            return None
        os.replace(tmp, layout.lock_file)
    except BaseException:
        if os.path.lexists(tmp):
            os.unlink(tmp)
        raise
    fsync_directory(layout.root)
    return fresh


def create_lock_file(layout, lock):
    """Create the lock file holding ``lock``; fail naming the holder if somebody created it first."""
    try:
        fd = os.open(layout.lock_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL | O_NOFOLLOW, LOCK_FILE_MODE)
    except FileExistsError:
        holder = read_lock(layout) or {"owner": "unknown", "time": None}
        raise ReleaseError(f"deploy lock on {layout.root} was just taken by {describe_lock_holder(holder)}") from None
    with os.fdopen(fd, "w") as handle:
        handle.write(json.dumps(lock, sort_keys=True) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    fsync_directory(layout.root)


def take_over_lock(layout, stale, lock):
    """Swap a stale lock for ours without stealing a lock someone else took in the meantime."""
    aside = f"{layout.lock_file}.stale-{random_suffix()}"
    try:
        os.rename(layout.lock_file, aside)
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
                os.link(aside, layout.lock_file)
            os.unlink(aside)
            raise ReleaseError(f"deploy lock on {layout.root} changed while taking it over; retry")
        os.unlink(aside)
    create_lock_file(layout, lock)


def remove_lock_file(layout, expected):
    """Remove the lock file if it still holds ``expected``."""
    current = read_lock(layout)
    if current is None:
        return
    if current != expected:
        raise ReleaseError(f"deploy lock on {layout.root} changed while releasing it; retry")
    os.unlink(layout.lock_file)
