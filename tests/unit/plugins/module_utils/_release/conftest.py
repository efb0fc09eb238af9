# -*- coding: utf-8 -*-  # noqa: UP009
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Fixtures shared by the tests of the ``_release`` package."""

from __future__ import annotations

import pytest

from ansible_collections.pyops.deploy.plugins.module_utils._release.manager import ReleaseManager
from ansible_collections.pyops.deploy.tests.unit.plugins.module_utils._release.helpers import Clock


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def root(tmp_path):
    return tmp_path / "app"


@pytest.fixture
def make(root, clock):
    """A manager factory with a fixed clock and host, so lock and audit contents are predictable."""

    def make(check_mode=False, **kwargs):
        kwargs.setdefault("audit_user", "tester")
        kwargs.setdefault("hostname", "web1")
        kwargs.setdefault("alive", lambda pid: True)
        return ReleaseManager(str(root), check_mode=check_mode, clock=clock, **kwargs)

    return make
