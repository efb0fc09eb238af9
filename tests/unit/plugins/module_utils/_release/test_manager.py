# -*- coding: utf-8 -*-  # noqa: UP009
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""``ReleaseManager`` (``_release.manager``): removing a release, finalizing, check mode across every state."""

from __future__ import annotations

import os

import pytest

from ansible_collections.pyops.deploy.plugins.module_utils._release.layout import ReleaseError
from ansible_collections.pyops.deploy.tests.unit.plugins.module_utils._release.helpers import (
    audit_lines,
    deploy,
    records,
    statuses,
    tree,
)

# --------------------------------------------------------------------------------------------
# absent
# --------------------------------------------------------------------------------------------


def test_absent_removes_the_release_and_its_record(make, root, clock):
    deploy(make, clock, "r1", "r2")

    result = make().remove("r1")

    assert result["changed"] is True
    assert result["removed"] == ["r1"]
    assert os.listdir(root / "releases") == ["r2"]
    assert set(records(root)) == {"r2"}
    assert make().remove("r1")["changed"] is False


def test_absent_refuses_the_current_release(make, root, clock):
    deploy(make, clock, "r1")
    with pytest.raises(ReleaseError, match="is the current release"):
        make().remove("r1")
    assert (root / "releases" / "r1").is_dir()


def test_absent_refuses_a_protected_release(make, root, clock):
    deploy(make, clock, "r1", "r2")
    with pytest.raises(ReleaseError, match="protect"):
        make().remove("r1", protect=["r1"])


def test_absent_refuses_a_symlinked_release(make, root, clock, tmp_path):
    deploy(make, clock, "r1")
    (tmp_path / "keep").mkdir()
    (root / "releases" / "r0").symlink_to(tmp_path / "keep")
    with pytest.raises(ReleaseError, match="symlink"):
        make().remove("r0")
    assert (tmp_path / "keep").is_dir()


def test_absent_check_mode_changes_nothing(make, root, clock):
    deploy(make, clock, "r1", "r2")
    before = tree(root)
    result = make(check_mode=True).remove("r1")
    assert result["changed"] is True
    assert result["removed"] == ["r1"]
    assert tree(root) == before


# --------------------------------------------------------------------------------------------
# finalized
# --------------------------------------------------------------------------------------------


def test_finalize_marks_the_current_release_good_and_prunes(make, root, clock):
    deploy(make, clock, "r1", "r2", "r3")
    make().mark("r2", "good")

    result = make().finalize("r3", keep=2)

    assert result["changed"] is True
    assert statuses(result) == {"r2": "good", "r3": "good"}
    assert result["removed"] == ["r1"]
    assert sorted(os.listdir(root / "releases")) == ["r2", "r3"]
    assert audit_lines(root)[-1]["action"] == "finalized"
    assert audit_lines(root)[-1]["details"]["status"] == "good"
    assert make().finalize("r3", keep=2)["changed"] is False


def test_finalize_counts_the_release_it_marks_good(make, root, clock):
    deploy(make, clock, "r1", "r2", "r3", "r4")
    for release in ("r1", "r2", "r3"):
        make().mark(release, "good")
    make().mark("r4", "failed")

    # Still failed, r4 would not count and keep=2 would keep r2 and r3; good, it counts instead of r2.
    result = make().finalize("r4", keep=2)

    assert statuses(result) == {"r3": "good", "r4": "good"}
    assert result["removed"] == ["r1", "r2"]


def test_finalize_refuses_a_release_that_is_not_current(make, root, clock):
    deploy(make, clock, "r1", "r2")
    before = tree(root)

    with pytest.raises(ReleaseError, match="release r1 is not the current release \\(r2\\)"):
        make().finalize("r1")

    assert tree(root) == before


def test_finalize_check_mode_changes_nothing_and_predicts_the_run(make, root, clock):
    deploy(make, clock, "r1", "r2")
    before = tree(root)

    predicted = make(check_mode=True).finalize("r2", keep=1)

    assert tree(root) == before
    assert predicted["changed"] is True
    assert predicted["removed"] == []  # r1 is the rollback target of r2
    assert statuses(predicted) == {"r1": "prepared", "r2": "good"}


# --------------------------------------------------------------------------------------------
# check mode across every state
# --------------------------------------------------------------------------------------------


def _scenario(make, clock):
    deploy(make, clock, "r1", "r2", "r3")
    make().prepare("r4", shared_dirs=["log"])
    make().mark("r1", "good")


@pytest.mark.parametrize(
    ("state", "options", "manager_options"),
    [
        ("prepared", {"release": "r5", "shared_dirs": ["log"], "shared_files": [".env"]}, {}),
        ("switched", {"release": "r4"}, {}),
        ("rolled_back", {}, {}),
        ("pruned", {"keep": 1}, {}),
        ("absent", {"release": "r1"}, {}),
        ("marked", {"release": "r4", "status": "failed"}, {}),
        ("locked", {"pid": 1}, {"lock_owner": "alice"}),
    ],
)
def test_check_mode_is_a_faithful_no_op(make, root, clock, state, options, manager_options):
    _scenario(make, clock)
    before = tree(root)

    predicted = make(check_mode=True, **manager_options).run(state, **options)

    assert tree(root) == before
    assert predicted["changed"] is True
    real = make(**manager_options).run(state, **options)
    assert real["changed"] is True
    for key in ("previous", "current", "releases", "release_path", "diff", "actions"):
        assert predicted[key] == real[key], key
    assert predicted["lock"] == real["lock"]
    again = make(check_mode=True, **manager_options).run(state, **options)
    assert again["changed"] is False
    assert make(**manager_options).run(state, **options)["changed"] is False
