# -*- coding: utf-8 -*-  # noqa: UP009
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Filesystem steps of a plan (``_release.plan``): shared directories and files and their links in a release."""

from __future__ import annotations

import os

import pytest

from ansible_collections.pyops.deploy.plugins.module_utils._release.layout import ReleaseError
from ansible_collections.pyops.deploy.tests.unit.plugins.module_utils._release.helpers import tree

# --------------------------------------------------------------------------------------------
# shared directories, files and their links
# --------------------------------------------------------------------------------------------


def test_prepare_keeps_existing_shared_content(make, root):
    (root / "shared").mkdir(parents=True)
    (root / "shared" / ".env").write_text("SECRET=1\n")

    make().prepare("r1", shared_files=[".env"])

    assert (root / "releases" / "r1" / ".env").read_text() == "SECRET=1\n"


def test_prepare_refuses_to_replace_real_entries_without_force(make, root):
    (root / "releases" / "r1" / "log").mkdir(parents=True)
    (root / "releases" / "r1" / "log" / "app.log").write_text("x")
    (root / "releases" / "r1" / ".env").write_text("DEBUG=1")
    before = tree(root)

    with pytest.raises(ReleaseError, match=r"already contains log, \.env.*force=true"):
        make().prepare("r1", shared_dirs=["log"], shared_files=[".env"])

    assert tree(root) == before


def test_prepare_with_force_replaces_real_entries_with_links(make, root):
    (root / "releases" / "r1" / "log").mkdir(parents=True)
    (root / "releases" / "r1" / "log" / "app.log").write_text("x")
    (root / "releases" / "r1" / ".env").write_text("DEBUG=1")

    result = make().prepare("r1", shared_dirs=["log"], shared_files=[".env"], force=True)

    assert result["changed"] is True
    assert os.readlink(root / "releases" / "r1" / "log") == "../../shared/log"
    assert os.readlink(root / "releases" / "r1" / ".env") == "../../shared/.env"
    assert make().prepare("r1", shared_dirs=["log"], shared_files=[".env"], force=True)["changed"] is False


def test_prepare_repoints_a_link_with_the_wrong_target(make, root):
    make().prepare("r1", shared_dirs=["log"])
    link = root / "releases" / "r1" / "log"
    link.unlink()
    link.symlink_to("/tmp")

    result = make().prepare("r1", shared_dirs=["log"])

    assert result["changed"] is True
    assert os.readlink(link) == "../../shared/log"
    assert not [n for n in os.listdir(link.parent) if ".tmp-" in n]


def test_prepare_rejects_a_shared_file_that_is_a_directory(make, root):
    (root / "shared" / ".env").mkdir(parents=True)
    with pytest.raises(ReleaseError, match="is a directory"):
        make().prepare("r1", shared_files=[".env"])


def test_prepare_rejects_a_shared_dir_that_is_a_file(make, root):
    (root / "shared").mkdir(parents=True)
    (root / "shared" / "log").write_text("")
    with pytest.raises(ReleaseError, match="not a directory"):
        make().prepare("r1", shared_dirs=["log"])


def test_prepare_rejects_a_shared_path_escaping_through_a_symlink(make, root, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (root / "shared").mkdir(parents=True)
    (root / "shared" / "evil").symlink_to(outside)
    before = tree(root)

    with pytest.raises(ReleaseError, match="outside of"):
        make().prepare("r1", shared_dirs=["evil/uploads"])

    assert tree(root) == before
    assert os.listdir(outside) == []


def test_prepare_rejects_a_link_location_escaping_the_release(make, root, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (root / "releases" / "r1").mkdir(parents=True)
    (root / "releases" / "r1" / "config").symlink_to(outside)

    with pytest.raises(ReleaseError, match="link location"):
        make().prepare("r1", shared_files=["config/.env"])

    assert os.listdir(outside) == []
