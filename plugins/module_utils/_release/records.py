# -*- coding: utf-8 -*-  # noqa: UP009
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The release records file (.releases.json) and the rules built on it: order, rollback target, prune victims."""

from __future__ import annotations

import json
import os

from ansible_collections.pyops.deploy.plugins.module_utils._release.layout import (
    STATE_FORMAT,
    STATUSES,
    UNTRACKED_STATUS,
    ReleaseError,
    write_json_atomically,
)


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


def save_state(layout, state):
    write_json_atomically(layout.state_file, state)


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
