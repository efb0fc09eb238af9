# -*- coding: utf-8 -*-  # noqa: UP009
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Planning ``state=prepared`` (``_release.preparing``): layout, release directory, record, attributes."""

from __future__ import annotations

import os
import shutil
import stat

import pytest

from ansible_collections.pyops.deploy.plugins.module_utils._release.layout import ReleaseError
from ansible_collections.pyops.deploy.tests.unit.plugins.module_utils._release.helpers import (
    audit_lines,
    records,
    statuses,
    tree,
)

# --------------------------------------------------------------------------------------------
# prepared
# --------------------------------------------------------------------------------------------


def test_prepare_creates_layout_links_record_and_audit(make, root):
    result = make(source="git:v1").prepare("r1", shared_dirs=["log", "public/uploads"], shared_files=[".env"])

    assert result["changed"] is True
    assert result["release_path"] == str(root / "releases" / "r1")
    assert (root / "releases" / "r1").is_dir()
    assert os.readlink(root / "releases" / "r1" / "log") == "../../shared/log"
    assert os.readlink(root / "releases" / "r1" / "public" / "uploads") == "../../../shared/public/uploads"
    assert os.readlink(root / "releases" / "r1" / ".env") == "../../shared/.env"
    assert (root / "releases" / "r1" / "public" / "uploads").resolve() == (root / "shared/public/uploads").resolve()
    assert (root / "shared" / "log").is_dir()
    assert stat.S_IMODE(os.stat(root / "shared" / ".env").st_mode) == 0o600
    assert result["releases"] == [
        {
            "id": "r1",
            "status": "prepared",
            "created": "2024-05-01T08:00:00Z",
            "is_current": False,
            "served": False,
            "activated": None,
            "served_from": None,
            "sha256": None,
        }
    ]
    assert records(root)["r1"]["seq"] == 1
    [entry] = audit_lines(root)
    assert entry["action"] == "prepared"
    assert entry["release"] == "r1"
    assert entry["source"] == "git:v1"
    assert entry["user"] == "tester"
    assert entry["host"] == "web1"
    assert entry["result"] == "ok"
    assert entry["time"] == "2024-05-01T08:00:00Z"


def test_prepare_twice_changes_nothing_the_second_time(make, root, clock):
    options = {"shared_dirs": ["log"], "shared_files": ["config/.env"]}
    make().prepare("r1", **options)
    before = tree(root)
    clock.advance(30)

    result = make().prepare("r1", **options)

    assert result["changed"] is False
    assert result["actions"] == []
    assert tree(root) == before
    assert len(audit_lines(root)) == 1


def test_prepare_check_mode_changes_nothing_and_predicts_the_run(make, root):
    options = {"shared_dirs": ["log"], "shared_files": [".env"]}
    predicted = make(check_mode=True).prepare("r1", **options)
    assert tree(root) is None

    real = make().prepare("r1", **options)

    assert predicted["changed"] is True
    for key in ("current", "releases", "release_path", "actions", "diff"):
        assert predicted[key] == real[key], key


def test_prepare_rejects_a_release_that_is_a_symlink(make, root, tmp_path):
    (tmp_path / "elsewhere").mkdir()
    (root / "releases").mkdir(parents=True)
    (root / "releases" / "r1").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(ReleaseError, match="is a symlink"):
        make().prepare("r1")


def test_prepare_rejects_a_release_that_is_a_file(make, root):
    (root / "releases").mkdir(parents=True)
    (root / "releases" / "r1").write_text("")
    with pytest.raises(ReleaseError, match="not a directory"):
        make().prepare("r1")


def test_prepare_adopts_an_untracked_directory_as_newest(make, root, clock):
    make().prepare("b1")
    (root / "releases" / "a0").mkdir()

    result = make().prepare("a0")

    assert result["changed"] is True
    assert [r["id"] for r in result["releases"]] == ["b1", "a0"]
    assert records(root)["a0"]["seq"] == 2


def test_prepare_forgets_a_stale_record_of_a_removed_directory(make, root, clock):
    make().prepare("r1")
    make().mark("r1", "failed")
    shutil.rmtree(root / "releases" / "r1")
    make().prepare("r2")
    clock.advance(10)

    result = make().prepare("r1")

    assert statuses(result) == {"r2": "prepared", "r1": "prepared"}
    assert [r["id"] for r in result["releases"]] == ["r2", "r1"]


def test_prepare_applies_attributes_to_managed_dirs_and_new_files(make, root):
    (root / "releases" / "r1" / "public").mkdir(parents=True)
    calls = []

    def apply(path, is_dir):
        calls.append((os.path.relpath(path, str(root)), is_dir))
        return False

    result = make(apply_attributes=apply).prepare("r1", shared_dirs=["public/media", "log"], shared_files=[".env"])

    assert result["changed"] is True
    assert sorted(calls) == sorted(
        [
            ("releases", True),
            ("releases/r1", True),
            ("shared", True),
            ("shared/public", True),
            ("shared/public/media", True),
            ("shared/log", True),
            ("shared/.env", False),
        ]
    )


def test_prepare_reports_a_change_made_only_by_attributes(make, root):
    make().prepare("r1")
    before = tree(root)

    result = make(check_mode=True, apply_attributes=lambda path, is_dir: path.endswith("r1")).prepare("r1")

    assert result["changed"] is True
    assert result["actions"] == []
    assert tree(root) == before
    assert len(audit_lines(root)) == 1
