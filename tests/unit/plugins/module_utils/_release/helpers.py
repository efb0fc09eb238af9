# -*- coding: utf-8 -*-  # noqa: UP009
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Helpers shared by the tests of the ``_release`` package (the fixtures are in conftest.py)."""

from __future__ import annotations

import json
import os
import stat

from ansible_collections.pyops.deploy.plugins.module_utils._release.layout import AUDIT_FILE, STATE_FILE

START = 1_714_550_400  # 2024-05-01T08:00:00Z


class Clock:
    def __init__(self, now=START):
        self.now = now

    def __call__(self):
        return self.now

    def advance(self, seconds):
        self.now += seconds


def tree(path):
    """Everything below ``path`` that a change could touch: kinds, link targets, contents, modes."""
    path = str(path)
    if not os.path.lexists(path):
        return None
    found = {}
    for dirpath, dirnames, filenames in os.walk(path):
        for name in dirnames + filenames:
            full = os.path.join(dirpath, name)
            key = os.path.relpath(full, path)
            info = os.lstat(full)
            if stat.S_ISLNK(info.st_mode):
                found[key] = ("link", os.readlink(full))
            elif stat.S_ISDIR(info.st_mode):
                found[key] = ("dir", stat.S_IMODE(info.st_mode))
            else:
                with open(full, "rb") as handle:
                    found[key] = ("file", handle.read(), stat.S_IMODE(info.st_mode))
    return found


def audit_lines(root):
    path = root / AUDIT_FILE
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def records(root):
    return json.loads((root / STATE_FILE).read_text())["releases"]


def deploy(make, clock, *releases):
    """Prepare and switch each release in turn, like consecutive deploys."""
    for release in releases:
        clock.advance(60)
        make().prepare(release)
        make().switch(release)


def statuses(result):
    return {r["id"]: r["status"] for r in result["releases"]}
