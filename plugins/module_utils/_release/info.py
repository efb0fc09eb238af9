# -*- coding: utf-8 -*-  # noqa: UP009
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Read-only views behind ``pyops.deploy.release_info``: the app root's state and the release a service runs."""

from __future__ import annotations

import os

from ansible_collections.pyops.deploy.plugins.module_utils._release.layout import (
    DEFAULT_HISTORY,
    DEFAULT_LOCK_TTL,
    AppLayout,
)
from ansible_collections.pyops.deploy.plugins.module_utils._release.manager import ReleaseManager


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


def release_info(path, history=DEFAULT_HISTORY, lock_ttl=DEFAULT_LOCK_TTL, **environment):
    """Read-only view of an app root, as returned by ``pyops.deploy.release_info``."""
    manager = ReleaseManager(path, check_mode=True, lock_ttl=lock_ttl, audit_user="-", **environment)
    return manager.info(history)
