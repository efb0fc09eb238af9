# -*- coding: utf-8 -*-  # noqa: UP009
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The state machine: every state is planned as a list of steps plus the end state, then run (or only reported)."""

from __future__ import annotations

import os
import socket
import time

from ansible_collections.pyops.deploy.plugins.module_utils._release import unpack
from ansible_collections.pyops.deploy.plugins.module_utils._release.audit import (
    append_audit_entry,
    default_audit_user,
    read_audit_tail,
)
from ansible_collections.pyops.deploy.plugins.module_utils._release.layout import (
    DEFAULT_HISTORY,
    DEFAULT_KEEP,
    DEFAULT_LOCK_TTL,
    MARKABLE_STATUSES,
    STATES,
    AppLayout,
    ReleaseError,
    dedupe,
    directory_view,
    format_time,
    validate_history,
    validate_keep,
    validate_lock_ttl,
    validate_release_id,
    validate_release_ids,
    validate_shared_paths,
)
from ansible_collections.pyops.deploy.plugins.module_utils._release.lock import (
    create_lock_file,
    describe_lock_holder,
    describe_run,
    heartbeat_due,
    lock_holds,
    lock_staleness,
    pid_alive,
    read_lock,
    refresh_heartbeat,
    remove_lock_file,
    take_over_lock,
)
from ansible_collections.pyops.deploy.plugins.module_utils._release.plan import Plan, add_state_save, plan_removal
from ansible_collections.pyops.deploy.plugins.module_utils._release.preparing import plan_prepare
from ansible_collections.pyops.deploy.plugins.module_utils._release.records import (
    empty_state,
    load_state,
    ordered_releases,
    prepared_not_serving,
    release_views,
    rollback_target,
)
from ansible_collections.pyops.deploy.plugins.module_utils._release.switching import (
    check_switch_target,
    plan_prune,
    plan_rollback,
    plan_switch,
    set_status,
)

BREAK_LOCK_HINT = (
    "wait for that run to finish, or break the lock with state=unlocked and force=true (deploy_break_lock) "
    "if it is dead"
)


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

    def prepare(self, release=None, shared_dirs=None, shared_files=None, force=False, **code):
        """``code``: src, content, sha256, code_group, release_file and exclude of ``unpack.code_spec``."""
        release = validate_release_id(release)
        dirs, files = validate_shared_paths(shared_dirs, shared_files)
        spec = unpack.code_spec(shared=dirs + files, **code)
        plan = self._start("prepared", release)
        plan_prepare(self.layout, plan, release, dirs, files, force, spec, self._now, self.check_mode, self.lock_ttl)
        return self._finish(plan)

    def switch(self, release=None, force=False):
        release = validate_release_id(release)
        plan = self._start("switched", release)
        check_switch_target(self.layout, plan, release, force)
        plan_switch(self.layout, plan, release, "switched", self._now)
        return self._finish(plan)

    def rollback(self, release=None, mark_failed=True, force=False):
        if release is not None:
            release = validate_release_id(release)
        plan = self._start("rolled_back", release)
        plan_rollback(self.layout, plan, release, mark_failed, force, self._now)
        return self._finish(plan)

    def prune(self, keep=DEFAULT_KEEP, protect=None):
        keep = validate_keep(keep)
        protect = validate_release_ids(protect, "protect")
        plan = self._start("pruned", None)
        self._require_known_current(plan, "prune")
        plan_prune(self.layout, plan, keep, protect)
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
        set_status(plan, release, "good", self._now)
        plan.record_for(release, self._now)["served"] = True
        plan_prune(self.layout, plan, keep, protect, f"record release {release} good and forget removed releases")
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
        plan_removal(self.layout, plan, victims)
        plan.extra["removed"] = victims
        plan.audit_details["removed"] = victims
        return self._finish(plan)

    def lock(self, pid=None, host=None):
        owner = self._require_lock_owner("locked")
        plan = self._start("locked", None, guard=False)
        held = plan.lock
        if lock_holds(held, owner, self.run_id):
            plan.lock = self._heartbeat(held)
            return self._finish(plan)
        new_lock = {
            "owner": owner,
            "run_id": self.run_id,
            "host": host or self.hostname,
            "pid": pid,
            "time": format_time(self._now),
            "heartbeat": format_time(self._now),
        }
        if not os.path.isdir(self.layout.root):
            plan.add(f"create app root {self.layout.root}", lambda: os.makedirs(self.layout.root))
        if held is None:
            plan.add(
                f"take deploy lock as {describe_run(owner, self.run_id)}",
                lambda: create_lock_file(self.layout, new_lock),
            )
        else:
            reason = lock_staleness(held, self.lock_ttl, self._now, self.hostname, self.alive)
            if reason is None:
                raise ReleaseError(
                    f"deploy lock on {self.layout.root} is held by {describe_lock_holder(held)}; {BREAK_LOCK_HINT}"
                )
            plan.add(
                f"take over stale deploy lock of {describe_lock_holder(held)} ({reason})",
                lambda: take_over_lock(self.layout, held, new_lock),
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
        if not lock_holds(held, self.lock_owner, self.run_id):
            if not force:
                raise ReleaseError(
                    f"deploy lock on {self.layout.root} is held by {describe_lock_holder(held)}, "
                    f"not by {describe_run(self.lock_owner, self.run_id)}; refusing to release it without "
                    "force=true"
                )
            plan.audit_details["broken_lock"] = held
        plan.add(f"release deploy lock of {describe_lock_holder(held)}", lambda: remove_lock_file(self.layout, held))
        plan.lock = None
        return self._finish(plan)

    def mark(self, release=None, status=None):
        release = validate_release_id(release)
        if status not in MARKABLE_STATUSES:
            raise ReleaseError("status must be one of {}, got {!r}".format(", ".join(MARKABLE_STATUSES), status))
        plan = self._start("marked", release)
        self.layout.require_release_dir(release)
        set_status(plan, release, status, self._now)
        add_state_save(self.layout, plan, f"mark release {release} {status}")
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
                "prepared_not_serving": [],
                "serving": None,
                "lock": None,
                "last_deploys": [],
                "directories": {"releases": None, "shared": None},
                "changed": False,
            }
        snapshot = self._read_snapshot()
        current = snapshot["current"]
        releases = ordered_releases(snapshot["present"], snapshot["state"])
        return {
            "exists": True,
            "current": current,
            "previous_good": rollback_target(releases, snapshot["state"], current),
            "releases": release_views(self.layout, releases, current),
            "prepared_not_serving": prepared_not_serving(releases, current),
            # Only a service tells which release runs; pyops.deploy.release_info fills it in from one.
            "serving": None,
            "lock": self._lock_view(snapshot["lock"]),
            "last_deploys": read_audit_tail(self.layout, history),
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
        if guard and self._check_lock_guard(snapshot["lock"]):
            snapshot["lock"] = self._heartbeat(snapshot["lock"])
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
        """Changing states refuse to run while another run's live lock is held; True if this run holds it."""
        if held is None:
            return False
        if lock_holds(held, self.lock_owner, self.run_id):
            return True
        reason = lock_staleness(held, self.lock_ttl, self._now, self.hostname, self.alive)
        if reason is None:
            raise ReleaseError(
                f"deploy lock on {self.layout.root} is held by {describe_lock_holder(held)}; {BREAK_LOCK_HINT}"
            )
        return False

    def _heartbeat(self, held):
        """Refresh the heartbeat of the lock this run holds; not a change, never in check mode."""
        if self.check_mode or not heartbeat_due(held, self.lock_ttl, self._now):
            return held
        fresh = refresh_heartbeat(self.layout, held, format_time(self._now))
        if fresh is not None:
            return fresh
        now_held = read_lock(self.layout)
        if not lock_holds(now_held, self.lock_owner, self.run_id):
            holder = describe_lock_holder(now_held) if now_held else "nobody"
            raise ReleaseError(
                f"deploy lock on {self.layout.root} was taken from {describe_run(self.lock_owner, self.run_id)} "
                f"while it worked; it is now held by {holder}"
            )
        return now_held

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
        elif plan.audit_noop is not None and not self.check_mode:
            self._audit(plan, current, "nothing to do", {"msg": plan.audit_noop})
        releases = ordered_releases(present, state)
        release_for_path = plan.release or current
        result = {
            "changed": changed,
            "previous": plan.previous,
            "current": current,
            "releases": release_views(self.layout, releases, current),
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
        for path in dedupe(plan.attribute_dirs):
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

    # ---- audit log ----------------------------------------------------------------------------

    def _audit(self, plan, current, result, extra_details=None):
        details = dict(plan.audit_details, **(extra_details or {}))
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
            "details": details,
        }
        try:
            append_audit_entry(self.layout, entry)
        except OSError as exc:
            raise ReleaseError(
                f"could not record the {plan.action} audit line in {self.layout.audit_file}: "
                f"{exc.strerror or exc}; current still points at {current or 'nothing'}"
            ) from exc
