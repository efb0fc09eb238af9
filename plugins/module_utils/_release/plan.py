# -*- coding: utf-8 -*-  # noqa: UP009
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The plan of one request and the filesystem steps planned from the layout alone.

A plan is a list of steps plus the end state they lead to, so check mode can report without touching disk.
"""

from __future__ import annotations

import copy
import os
import shutil

from ansible_collections.pyops.deploy.plugins.module_utils._release.layout import (
    ReleaseError,
    create_empty_file,
    format_time,
    random_suffix,
    replace_symlink,
    replace_with_symlink,
)
from ansible_collections.pyops.deploy.plugins.module_utils._release.records import save_state


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
        # Set when a request changes nothing but must still show in the audit log (a no-op rollback).
        self.audit_noop = None
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


def plan_mkdir(plan, path, manage_existing=True):
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


def plan_nested_dirs(plan, base, relative, manage_existing=True):
    """Create each missing component of ``base/relative`` one by one, so none is silently a file."""
    current = base
    for part in relative.split("/"):
        current = os.path.join(current, part)
        plan_mkdir(plan, current, manage_existing)


def plan_shared_dir(layout, plan, shared_path):
    target = os.path.join(layout.shared, shared_path)
    layout.ensure_inside(target, layout.shared, "shared path")
    plan_nested_dirs(plan, layout.shared, shared_path)


def plan_shared_file(layout, plan, shared_path):
    target = os.path.join(layout.shared, shared_path)
    layout.ensure_inside(target, layout.shared, "shared path")
    parent = os.path.dirname(shared_path)
    if parent:
        plan_nested_dirs(plan, layout.shared, parent)
    if os.path.lexists(target):
        if os.path.isdir(target):
            raise ReleaseError(f"shared file {target} is a directory")
        return
    plan.attribute_new_files.append(target)
    plan.add(f"create empty shared file {target}", lambda: create_empty_file(target))


def plan_shared_link(layout, plan, release, shared_path, force):
    """Plan the link ``releases/<id>/<p> -> shared/<p>``; return a description of a blocking entry."""
    release_dir = layout.release_dir(release)
    link_path = os.path.join(release_dir, shared_path)
    link_dir = os.path.dirname(link_path)
    layout.ensure_inside(link_dir, release_dir, "link location")
    link_target = os.path.relpath(os.path.join(layout.shared, shared_path), link_dir)
    parent = os.path.dirname(shared_path)
    if parent:
        # Directories shipped with the release code keep whatever permissions the code gave them.
        plan_nested_dirs(plan, release_dir, parent, manage_existing=False)
    if os.path.islink(link_path):
        if os.readlink(link_path) != link_target:
            plan.add(
                f"repoint link {link_path} -> {link_target}",
                lambda: replace_symlink(link_target, link_path),
            )
        return None
    if os.path.lexists(link_path):
        if not force:
            return shared_path
        plan.add(
            f"replace {link_path} with link -> {link_target}",
            lambda: replace_with_symlink(link_target, link_path),
        )
        return None
    plan.add(f"link {link_path} -> {link_target}", lambda: os.symlink(link_target, link_path))
    return None


def plan_removal(layout, plan, victims, save_description="forget removed releases"):
    # The records are written first: if that fails (a full disk), no release is gone yet.
    for victim in victims:
        plan.state["releases"].pop(victim, None)
        plan.present.remove(victim)
    add_state_save(layout, plan, save_description)
    trash = {}
    for victim in victims:
        path = layout.release_dir(victim)
        # Renaming first makes a release vanish at once; a half-deleted tree is never listed.
        trash[victim] = os.path.join(layout.releases, f".removing-{victim}-{random_suffix()}")
        plan.add(f"move {path} out of the way", lambda p=path, t=trash[victim]: os.rename(p, t))
    for victim in victims:
        plan.add(f"delete release {victim}", lambda t=trash[victim]: shutil.rmtree(t))


def add_state_save(layout, plan, description):
    if not plan.state_changed() or any(getattr(step[1], "_saves_state", False) for step in plan.steps):
        return

    what = description[len("record ") :] if description.startswith("record ") else f"the records ({description})"

    def save():
        save_state(layout, plan.state, what)

    save._saves_state = True
    plan.add(description, save)
