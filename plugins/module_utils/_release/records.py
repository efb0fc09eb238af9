# -*- coding: utf-8 -*-  # noqa: UP009
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The release records file (.releases.json) and the rules built on it: order, rollback target, prune victims."""

from __future__ import annotations

import json
import os
import re
import stat

from ansible_collections.pyops.deploy.plugins.module_utils._release.layout import (
    O_NOFOLLOW,
    STATE_FORMAT,
    STATUSES,
    UNTRACKED_STATUS,
    ReleaseError,
    write_json_atomically,
)

# Written by the unpack into each release it unpacked: the sha256 of the artifact, 64 hex digits.
UNPACKED_MARKER = ".pyops-unpacked"
SHA256_RE = re.compile(r"[0-9a-fA-F]{64}")


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


def fsync_directory(path):
    """Make a rename or a new entry in ``path`` durable; the file's own fsync does not cover its name."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def save_state(layout, state, what="the release records"):
    """Replace the records atomically (temp file, fsync, rename, fsync of the directory).

    A failure (a full disk, say) leaves the old records in place and no temp file behind, and is
    reported as a ReleaseError naming what could not be recorded and where current still points.
    """
    try:
        write_json_atomically(layout.state_file, state)
        fsync_directory(layout.root)
    except OSError as exc:
        try:
            current = layout.read_current()[1] or "nothing"
        except (OSError, ReleaseError):
            current = "an unreadable link"
        reason = exc.strerror or str(exc)
        raise ReleaseError(
            f"could not record {what} in {layout.state_file}: {reason}; current still points at {current}"
        ) from exc


def read_unpacked_digest(layout, release):
    """The sha256 the unpack wrote to ``releases/<id>/.pyops-unpacked``, or None.

    Opened without following a symlink, and only a regular file holding exactly 64 hex digits counts.
    """
    path = os.path.join(layout.release_dir(release), UNPACKED_MARKER)
    try:
        fd = os.open(path, os.O_RDONLY | O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        raw = os.read(fd, 256)
    except OSError:
        return None
    finally:
        os.close(fd)
    try:
        text = raw.decode("ascii").strip()
    except UnicodeDecodeError:
        return None
    return text.lower() if SHA256_RE.fullmatch(text) else None


# --------------------------------------------------------------------------------------------
# Release listing, ordering, rollback target and prune victims
#
# A record (one entry of "releases" in .releases.json) holds:
#   seq, created     creation order and time (prepared)
#   status           prepared, good or failed
#   served           true once the release was current: set by every switch to it and by finalize
#   activated        time of the last switch to it; activated_seq orders switches (same counter as seq)
#   activated_by     "switched" or "rolled_back": the kind of that last switch
#   served_from      the release that was current right before that last switch (null if none)
# Records written before served/activated_by/served_from existed are read as: served when activated
# or good; reached by a rollback when last_switch says so.
# --------------------------------------------------------------------------------------------


class Release:
    __slots__ = (
        "activated",
        "activated_by",
        "activated_seq",
        "created",
        "id",
        "seq",
        "served",
        "served_from",
        "status",
        "tracked",
    )

    def __init__(self, release, record):
        self.id = release
        self.tracked = record is not None
        record = record or {}
        self.status = record.get("status", UNTRACKED_STATUS)
        self.created = record.get("created")
        # Untracked directories predate the records, so they sort before every tracked release.
        self.seq = _int(record.get("seq"))
        self.activated = record.get("activated")
        self.activated_seq = _int(record.get("activated_seq"))
        self.activated_by = record.get("activated_by")
        self.served_from = record.get("served_from")
        self.served = bool(record.get("served") or self.activated or self.status == "good")

    def sort_key(self):
        return (self.seq, self.id)

    def activation_key(self):
        return (self.activated_seq, self.activated or "", self.seq, self.id)

    def as_dict(self, current, sha256=None):
        return {
            "id": self.id,
            "status": self.status,
            "created": self.created,
            "is_current": self.id == current,
            "served": self.served or self.id == current,
            "activated": self.activated,
            "served_from": self.served_from,
            "sha256": sha256,
        }


def _int(value):
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def release_views(layout, releases, current):
    """``releases`` as returned to the user, each with the digest of its unpacked code."""
    return [r.as_dict(current, read_unpacked_digest(layout, r.id)) for r in releases]


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


def reached_by_rollback(state, current):
    """The release ``current`` was rolled back from, if a rollback made it current; else None."""
    record = state["releases"].get(current) or {}
    if record.get("activated_by") is not None:
        return record.get("served_from") if record["activated_by"] == "rolled_back" else None
    last = state.get("last_switch") or {}
    if last.get("action") == "rolled_back" and last.get("release") == current:
        return last.get("from")
    return None


def recorded_predecessor(releases, state, current):
    """The release that served right before ``current`` (recorded at the switch), if it still exists."""
    record = state["releases"].get(current) or {}
    predecessor = record.get("served_from")
    by_id = {r.id: r for r in releases}
    if predecessor is None or predecessor == current or predecessor not in by_id:
        return None
    return by_id[predecessor]


def failed_before_traffic(releases, current):
    """The newest release when it is failed and never served while ``current`` is good; else None."""
    by_id = {r.id: r for r in releases}
    if not releases or current not in by_id or by_id[current].status != "good":
        return None
    newest = releases[-1]
    if newest.id != current and newest.status == "failed" and not newest.served:
        return newest.id
    return None


def rollback_target(releases, state, current):
    """The release a plain rollback (no release named, no force) leads to, for prune and release_info.

    The recorded predecessor of ``current`` unless it is failed; when none is recorded, or ``current``
    was itself reached by a rollback, the newest good (or once-current) release older than ``current``.
    """
    if current is None:
        return None
    if reached_by_rollback(state, current) is None:
        predecessor = recorded_predecessor(releases, state, current)
        if predecessor is not None:
            return predecessor.id if predecessor.status != "failed" else find_rollback_target(releases, current)
    return find_rollback_target(releases, current)


def select_prune_victims(releases, current, keep, protect, target=None):
    """Ids to remove, oldest first. ``releases`` is ordered oldest first.

    Kept: ``current``, the rollback ``target``, ``protect``, then releases that served and are not
    failed, newest activation first, up to ``keep`` (untracked directories count as served, oldest).
    Releases that never served (prepared or failed, never current) never count and are removed.
    """
    kept = set(protect)
    kept.update(r for r in (current, target) if r is not None)
    served = [r for r in releases if r.status != "failed" and (r.served or not r.tracked or r.id == current)]
    for release in sorted(served, key=Release.activation_key, reverse=True)[:keep]:
        kept.add(release.id)
    return [r.id for r in releases if r.id not in kept]


def prepared_not_serving(releases, current):
    """Releases created after ``current`` (all, without one) that never served, oldest first."""
    ids = [r.id for r in releases]
    newer = releases[ids.index(current) + 1 :] if current in ids else list(releases)
    return [r.id for r in newer if r.tracked and not r.served and r.id != current]
