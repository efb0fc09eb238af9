# -*- coding: utf-8 -*-  # noqa: UP009
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Planning a switch, a rollback, a status mark and a prune: choosing targets and keeping the records.

``now`` is the time of the request, written into the records it changes.
"""

from __future__ import annotations

import contextlib

from ansible_collections.pyops.deploy.plugins.module_utils._release.layout import (
    ReleaseError,
    format_time,
    replace_symlink,
)
from ansible_collections.pyops.deploy.plugins.module_utils._release.plan import add_state_save, plan_removal
from ansible_collections.pyops.deploy.plugins.module_utils._release.records import (
    failed_before_traffic,
    find_rollback_target,
    ordered_releases,
    reached_by_rollback,
    recorded_predecessor,
    rollback_target,
    save_state,
    select_prune_victims,
)


def check_switch_target(layout, plan, release, force):
    layout.require_release_dir(release)
    record = plan.state["releases"].get(release)
    if record is not None and record.get("status") == "failed" and not force:
        raise ReleaseError(f"release {release} is marked failed; set force=true to switch to it anyway")


def plan_switch(layout, plan, release, how, now):
    """Plan the switch: the records first, then current, so a full disk leaves both as they were.

    If repointing current fails after the records were written, the records before the switch are
    written back, so they never claim a switch that did not happen.
    """
    link_target = layout.link_target(release)
    if plan.current_text == link_target:
        return
    current_link = layout.current
    if plan.current != release:
        when = format_time(now)
        record = plan.record_for(release, now)
        record.update(
            {
                "activated": when,
                "activated_seq": plan.state["next_seq"],
                "activated_by": how,
                "served_from": plan.current,
                "served": True,
            }
        )
        plan.state["next_seq"] += 1
        plan.state["last_switch"] = {"release": release, "action": how, "from": plan.current, "time": when}
    add_state_save(layout, plan, f"record the switch to {release}")
    original = plan.original_state
    restore = plan.state_changed()

    def repoint():
        try:
            replace_symlink(link_target, current_link)
        except OSError:
            if restore:
                with contextlib.suppress(OSError, ReleaseError):
                    save_state(layout, original)
            raise

    plan.add(f"point {current_link} at {link_target}", repoint)
    plan.current = release
    plan.current_text = link_target


def plan_rollback(layout, plan, release, mark_failed, force, now):
    """Plan a rollback; a rollback with nothing to do changes nothing but is still audited.

    Without ``release`` the target is the release that served right before current (recorded at the
    switch), or, when none is recorded, the newest good release older than current. Nothing is done
    when current was itself reached by a rollback, or when the newest release failed before it took
    traffic while current is good. Only the release left is marked failed.
    """
    current = plan.current
    plan.extra["rolled_back_from"] = None
    if release is not None:
        check_switch_target(layout, plan, release, force)
        if release == current:
            return rollback_noop(plan, f"release {release} is already current; nothing to roll back")
        target = release
    else:
        target = plain_rollback_target(layout, plan, force)
        if target is None:
            return None
    plan_switch(layout, plan, target, "rolled_back", now)
    marked = bool(mark_failed and current is not None and current in plan.present)
    if marked:
        record = plan.record_for(current, now)
        if record.get("status") != "failed":
            record["status"] = "failed"
            record["status_changed"] = format_time(now)
    plan.extra["rolled_back_from"] = current
    plan.extra["msg"] = f"rolled back from {current or 'nothing'} to {target}" + (
        f"; {current} is marked failed" if marked else ""
    )
    plan.audit_details.update({"rolled_back_from": current, "marked_failed": marked})
    add_state_save(layout, plan, f"record the rollback from {current}")
    return None


def plain_rollback_target(layout, plan, force):
    """The target of a rollback without a named release; None after planning a no-op."""
    current = plan.current
    if current is None:
        raise ReleaseError(f"there is no current release under {layout.root} to roll back from")
    releases = ordered_releases(plan.present, plan.state)
    came_from = reached_by_rollback(plan.state, current)
    if came_from is not None:
        return rollback_noop(
            plan,
            f"{current} is current because of a rollback from {came_from}; repeating the rollback does nothing "
            "(name a release to go further back)",
        )
    failed = failed_before_traffic(releases, current)
    if failed is not None:
        return rollback_noop(
            plan,
            f"release {failed} failed before it took traffic; {current} still serves; nothing to roll back "
            "(name a release to go further back)",
        )
    predecessor = recorded_predecessor(releases, plan.state, current)
    if predecessor is not None:
        if predecessor.status == "failed" and not force:
            raise ReleaseError(
                f"release {predecessor.id}, which served before {current}, is marked failed; set force=true "
                "to roll back to it anyway, or name the release to roll back to"
            )
        return predecessor.id
    target = find_rollback_target(releases, current)
    if target is None:
        raise ReleaseError(
            f"no release older than {current} is good or was current before; nothing to roll back to "
            "(pass release to pick one)"
        )
    return target


def rollback_noop(plan, message):
    plan.extra["msg"] = message
    plan.audit_noop = message
    return None


def set_status(plan, release, status, now):
    record = plan.record_for(release, now)
    if record.get("status") != status:
        record["status"] = status
        record["status_changed"] = format_time(now)
    plan.audit_details["status"] = status


def plan_prune(layout, plan, keep, protect, save_description="forget removed releases"):
    releases = ordered_releases(plan.present, plan.state)
    target = rollback_target(releases, plan.state, plan.current)
    victims = select_prune_victims(releases, plan.current, keep, protect, target)
    orphans = sorted(set(plan.state["releases"]) - set(plan.present))
    for orphan in orphans:
        # A record whose directory vanished would resurrect an old status if the id is deployed again.
        del plan.state["releases"][orphan]
    plan_removal(layout, plan, victims, save_description)
    plan.extra["removed"] = victims
    plan.audit_details.update({"removed": victims, "keep": keep, "protect": protect})
