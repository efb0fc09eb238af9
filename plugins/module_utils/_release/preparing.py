# -*- coding: utf-8 -*-  # noqa: UP009
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Planning ``state=prepared``: the layout, the release directory, its code, shared paths and its record.

``now`` is the time of the request; ``check_mode`` verifies the code instead of unpacking it.
"""

from __future__ import annotations

import os

from ansible_collections.pyops.deploy.plugins.module_utils._release import unpack
from ansible_collections.pyops.deploy.plugins.module_utils._release.layout import ReleaseError, format_time
from ansible_collections.pyops.deploy.plugins.module_utils._release.plan import (
    add_state_save,
    plan_mkdir,
    plan_shared_dir,
    plan_shared_file,
    plan_shared_link,
)


def plan_prepare(layout, plan, release, dirs, files, force, spec, now, check_mode, stale_after):
    release_dir = layout.release_dir(release)
    if os.path.islink(release_dir):
        raise ReleaseError(f"release {release} ({release_dir}) is a symlink; refusing to use it")
    if os.path.lexists(release_dir) and not os.path.isdir(release_dir):
        raise ReleaseError(f"release {release} ({release_dir}) exists but is not a directory")

    if not os.path.isdir(layout.root):
        # The root's ownership is left alone: it is often a shared parent such as /srv/<app>.
        plan.add(f"create app root {layout.root}", lambda: os.makedirs(layout.root))
    plan_mkdir(plan, layout.releases)
    for leftover in unpack.leftover_unpacks(layout.releases):
        plan.add(f"remove {leftover}, left by an interrupted unpack", lambda p=leftover: unpack.remove_leftover(p))
    keep = spec.src if spec is not None else None
    for leftover in unpack.stale_incoming(layout.releases, now, stale_after, keep=keep):
        plan.add(f"remove {leftover}, a tarball left by a run that did not unpack it", lambda p=leftover: os.unlink(p))
    unpacking = spec is not None and not os.path.lexists(release_dir)
    if unpacking:
        # The unpack builds the release beside it and renames it into place, links included.
        plan.attribute_dirs.append(release_dir)
    else:
        plan_mkdir(plan, release_dir)
    plan_mkdir(plan, layout.shared)

    conflicts = []
    for shared_path in dirs:
        plan_shared_dir(layout, plan, shared_path)
    for shared_path in files:
        plan_shared_file(layout, plan, shared_path)
    if spec is not None:
        plan_code(layout, plan, release, spec, dirs + files, unpacking, check_mode)
    for shared_path in [] if unpacking else dirs + files:
        conflict = plan_shared_link(layout, plan, release, shared_path, force)
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
            "created": format_time(now),
            "status": "prepared",
        }
        plan.state["next_seq"] += 1
    if release not in plan.present:
        plan.present.append(release)
    plan.audit_details.update({"shared_dirs": dirs, "shared_files": files})
    add_state_save(layout, plan, f"record release {release} as prepared")


def plan_code(layout, plan, release, spec, shared_paths, unpacking, check_mode):
    """Unpack the code into a new release, or check that an existing one holds the same code."""
    release_dir = layout.release_dir(release)
    plan.extra["code"] = {"sha256": spec.sha256, "unpacked": unpacking}
    plan.audit_details["sha256"] = spec.sha256
    if not unpacking:
        unpack.check_existing_code(release, release_dir, spec)
        if unpack.src_present(spec):
            plan.add(f"remove {spec.src}, release {release} holds its code already", lambda: os.unlink(spec.src))
        return
    if check_mode:
        try:
            unpack.verify_code(spec)
        except ReleaseError as exc:
            raise ReleaseError(f"Could not unpack the code into {release_dir}: {exc}") from None
    links = unpack.shared_links(layout.shared, release_dir, shared_paths)
    plan.add(
        f"unpack the code (sha256 {spec.sha256[:12]}) from {spec.describe()} into {release_dir}",
        lambda: unpack.unpack_release(layout.releases, release, spec, links),
    )
