# -*- coding: utf-8 -*-  # noqa: UP009
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The deploy lock (.deploy.lock): reading it, deciding whether it is stale, and taking and giving it back."""

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
