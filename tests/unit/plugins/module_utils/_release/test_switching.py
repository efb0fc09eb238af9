# -*- coding: utf-8 -*-  # noqa: UP009
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Switch, rollback, mark and prune planning (``_release.switching``), and a full disk while recording."""

from __future__ import annotations

import errno
import json
import os
import shutil

import pytest

from ansible_collections.pyops.deploy.plugins.module_utils._release import records as records_module
from ansible_collections.pyops.deploy.plugins.module_utils._release import switching as switching_module
from ansible_collections.pyops.deploy.plugins.module_utils._release.layout import ReleaseError
from ansible_collections.pyops.deploy.tests.unit.plugins.module_utils._release.helpers import (
    audit_lines,
    deploy,
    records,
    statuses,
    tree,
)

# --------------------------------------------------------------------------------------------
# switched
# --------------------------------------------------------------------------------------------


def test_switch_points_current_at_the_release(make, root):
    make().prepare("r1")

    result = make().switch("r1")

    assert result["changed"] is True
    assert result["previous"] is None
    assert result["current"] == "r1"
    assert os.readlink(root / "current") == "releases/r1"
    assert records(root)["r1"]["activated"] == "2024-05-01T08:00:00Z"
    assert not [n for n in os.listdir(root) if n.startswith(".current.tmp-")]
    assert audit_lines(root)[-1]["action"] == "switched"
    assert audit_lines(root)[-1]["current"] == "r1"


def test_switch_twice_changes_nothing_the_second_time(make, root, clock):
    deploy(make, clock, "r1", "r2")
    before = tree(root)

    result = make().switch("r2")

    assert result["changed"] is False
    assert result["previous"] == result["current"] == "r2"
    assert tree(root) == before


def test_switch_replaces_current_atomically_and_never_removes_it(make, root, clock, monkeypatch):
    deploy(make, clock, "r1")
    make().prepare("r2")
    current = str(root / "current")
    replaced = []
    real_replace = os.replace

    def refuse_removal(path, *args, **kwargs):
        raise AssertionError(f"{path} removed")

    def spy_replace(src, dst):
        replaced.append((os.path.basename(src), dst))
        assert os.path.lexists(dst)
        return real_replace(src, dst)

    monkeypatch.setattr(os, "unlink", refuse_removal)
    monkeypatch.setattr(os, "remove", refuse_removal)
    monkeypatch.setattr(shutil, "rmtree", refuse_removal)
    monkeypatch.setattr(os, "replace", spy_replace)

    make().switch("r2")

    link_swaps = [(src, dst) for src, dst in replaced if dst == current]
    assert len(link_swaps) == 1
    assert link_swaps[0][0].startswith(".current.tmp-")


def test_switch_to_a_missing_release_fails(make, root, clock):
    deploy(make, clock, "r1")
    before = tree(root)
    with pytest.raises(ReleaseError, match="release r9 does not exist"):
        make().switch("r9")
    assert tree(root) == before


def test_switch_on_a_missing_root_fails(make):
    with pytest.raises(ReleaseError, match="does not exist"):
        make().switch("r1")


@pytest.mark.parametrize("kind", ["dir", "file"])
def test_switch_refuses_a_current_that_is_not_a_symlink(make, root, kind):
    make().prepare("r1")
    if kind == "dir":
        (root / "current").mkdir()
    else:
        (root / "current").write_text("")
    before = tree(root)

    with pytest.raises(ReleaseError, match="not a symlink"):
        make().switch("r1")

    assert tree(root) == before


def test_switch_to_a_failed_release_needs_force(make, root, clock):
    deploy(make, clock, "r1")
    make().prepare("r2")
    make().mark("r2", "failed")

    with pytest.raises(ReleaseError, match="marked failed"):
        make().switch("r2")
    assert os.readlink(root / "current") == "releases/r1"

    assert make().switch("r2", force=True)["current"] == "r2"


def test_switch_rewrites_an_absolute_current_link_as_relative(make, root):
    make().prepare("r1")
    (root / "current").symlink_to(root / "releases" / "r1")

    result = make().switch("r1")

    assert result["changed"] is True
    assert result["previous"] == "r1"
    assert os.readlink(root / "current") == "releases/r1"


def test_switch_repairs_a_current_pointing_outside_releases(make, root, tmp_path):
    make().prepare("r1")
    (root / "current").symlink_to(tmp_path)

    result = make().switch("r1")

    assert result["previous"] is None
    assert result["current"] == "r1"


def test_switch_check_mode_changes_nothing(make, root, clock):
    deploy(make, clock, "r1")
    make().prepare("r2")
    before = tree(root)

    result = make(check_mode=True).switch("r2")

    assert result["changed"] is True
    assert result["current"] == "r2"
    assert tree(root) == before


def test_switch_diff_shows_current_before_and_after(make, root, clock):
    deploy(make, clock, "r1")
    make().prepare("r2")

    diff = make().switch("r2")["diff"]

    assert diff == {
        "before": {"current": "r1", "releases": {"r1": "prepared", "r2": "prepared"}, "lock": None},
        "after": {"current": "r2", "releases": {"r1": "prepared", "r2": "prepared"}, "lock": None},
    }


# --------------------------------------------------------------------------------------------
# rolled_back
# --------------------------------------------------------------------------------------------


def test_rollback_goes_to_the_previous_good_release_and_marks_the_current_failed(make, root, clock):
    deploy(make, clock, "r1", "r2")
    make().mark("r1", "good")

    result = make().rollback()

    assert result["changed"] is True
    assert result["previous"] == "r2"
    assert result["current"] == "r1"
    assert result["rolled_back_from"] == "r2"
    assert statuses(result) == {"r1": "good", "r2": "failed"}
    assert os.readlink(root / "current") == "releases/r1"
    last = audit_lines(root)[-1]
    assert last["action"] == "rolled_back"
    assert last["details"]["rolled_back_from"] == "r2"


def test_rollback_twice_does_not_walk_further_back(make, root, clock):
    deploy(make, clock, "r1", "r2", "r3")
    make().mark("r1", "good")
    make().mark("r2", "good")
    make().rollback()
    before = tree(root)
    before.pop("deploy-audit.jsonl")

    result = make().rollback()

    assert result["changed"] is False
    assert result["current"] == "r2"
    assert result["rolled_back_from"] is None
    assert result["msg"] == (
        "r2 is current because of a rollback from r3; repeating the rollback does nothing "
        "(name a release to go further back)"
    )
    after = tree(root)
    assert after.pop("deploy-audit.jsonl")
    assert after == before
    assert audit_lines(root)[-1]["result"] == "nothing to do"


def test_rollback_further_back_needs_an_explicit_release(make, root, clock):
    deploy(make, clock, "r1", "r2", "r3")
    make().mark("r1", "good")
    make().rollback()

    result = make().rollback(release="r1")

    assert result["current"] == "r1"
    assert statuses(result) == {"r1": "good", "r2": "failed", "r3": "failed"}


def test_rollback_without_mark_failed_keeps_the_status(make, root, clock):
    deploy(make, clock, "r1", "r2")

    result = make().rollback(mark_failed=False)

    assert statuses(result)["r2"] == "prepared"


def test_rollback_without_a_target_fails(make, root, clock):
    deploy(make, clock, "r1")
    make().prepare("r2")
    before = tree(root)
    with pytest.raises(ReleaseError, match="nothing to roll back to"):
        make().rollback()
    assert tree(root) == before


def test_rollback_without_current_fails(make, root):
    make().prepare("r1")
    with pytest.raises(ReleaseError, match="no current release"):
        make().rollback()


def test_rollback_to_an_explicit_release(make, root, clock):
    deploy(make, clock, "r1", "r2", "r3")
    result = make().rollback(release="r1", mark_failed=False)
    assert result["current"] == "r1"
    assert result["rolled_back_from"] == "r3"


def test_rollback_to_an_explicit_failed_release_needs_force(make, root, clock):
    deploy(make, clock, "r1", "r2")
    make().mark("r1", "failed")
    with pytest.raises(ReleaseError, match="marked failed"):
        make().rollback(release="r1")
    assert make().rollback(release="r1", force=True)["current"] == "r1"


def test_rollback_to_a_missing_release_fails(make, root, clock):
    deploy(make, clock, "r1")
    with pytest.raises(ReleaseError, match="does not exist"):
        make().rollback(release="r0")


def test_rollback_to_the_current_release_changes_nothing(make, root, clock):
    deploy(make, clock, "r1", "r2")
    result = make().rollback(release="r2")
    assert result["changed"] is False
    assert result["rolled_back_from"] is None


# --------------------------------------------------------------------------------------------
# pruned
# --------------------------------------------------------------------------------------------


def test_prune_twice_changes_nothing_the_second_time(make, root, clock):
    deploy(make, clock, "r1", "r2", "r3")
    make().prune(keep=2)
    before = tree(root)

    result = make().prune(keep=2)

    assert result["changed"] is False
    assert result["removed"] == []
    assert tree(root) == before


def test_prune_drops_records_of_vanished_releases(make, root, clock):
    deploy(make, clock, "r1", "r2")
    shutil.rmtree(root / "releases" / "r1")

    result = make().prune(keep=5)

    assert result["changed"] is True
    assert result["removed"] == []
    assert set(records(root)) == {"r2"}
    assert make().prune(keep=5)["changed"] is False


def test_prune_leaves_no_trash_behind(make, root, clock):
    deploy(make, clock, "r1", "r2", "r3")
    make().prune(keep=1)
    assert sorted(os.listdir(root / "releases")) == ["r2", "r3"]


def test_prune_check_mode_changes_nothing_and_predicts_the_run(make, root, clock):
    deploy(make, clock, "r1", "r2", "r3", "r4")
    before = tree(root)

    predicted = make(check_mode=True).prune(keep=2)

    assert tree(root) == before
    real = make().prune(keep=2)
    for key in ("changed", "current", "releases", "removed", "diff"):
        assert predicted[key] == real[key], key


def test_prune_refuses_when_current_points_outside_releases(make, root, clock, tmp_path):
    deploy(make, clock, "r1", "r2")
    (root / "current").unlink()
    (root / "current").symlink_to(tmp_path)
    with pytest.raises(ReleaseError, match="refusing to prune"):
        make().prune(keep=1)


def test_prune_without_a_root_changes_nothing(make, root):
    result = make().prune()
    assert result["changed"] is False
    assert tree(root) is None


# --------------------------------------------------------------------------------------------
# marked
# --------------------------------------------------------------------------------------------


def test_mark_records_the_status_once(make, root, clock):
    deploy(make, clock, "r1")

    result = make().mark("r1", "good")

    assert result["changed"] is True
    assert statuses(result) == {"r1": "good"}
    assert make().mark("r1", "good")["changed"] is False
    assert audit_lines(root)[-1]["details"] == {"status": "good"}


def test_mark_rejects_an_unknown_status(make, root, clock):
    deploy(make, clock, "r1")
    with pytest.raises(ReleaseError, match="status must be one of good, failed"):
        make().mark("r1", "prepared")


def test_mark_rejects_a_missing_release(make, root, clock):
    deploy(make, clock, "r1")
    with pytest.raises(ReleaseError, match="does not exist"):
        make().mark("r2", "good")


def test_mark_adopts_an_untracked_release_without_reordering(make, root, clock):
    (root / "releases" / "old").mkdir(parents=True)
    deploy(make, clock, "r1")

    result = make().mark("old", "good")

    assert [r["id"] for r in result["releases"]] == ["old", "r1"]
    assert statuses(result) == {"old": "good", "r1": "prepared"}
    assert result["releases"][0]["created"] is None


# --------------------------------------------------------------------------------------------
# rolled_back: the target is recorded, a rollback with nothing to do says so
# --------------------------------------------------------------------------------------------


def deploy_good(make, clock, *releases):
    """Consecutive deploys that each passed: prepared, switched and finalized."""
    for release in releases:
        deploy(make, clock, release)
        make().finalize(release, keep=10)


def test_rollback_after_a_failed_deploy_does_nothing_and_is_audited(make, root, clock):
    deploy_good(make, clock, "r1", "r2")
    make().prepare("r3")
    make().mark("r3", "failed")
    before = tree(root)
    message = (
        "release r3 failed before it took traffic; r2 still serves; nothing to roll back "
        "(name a release to go further back)"
    )

    predicted = make(check_mode=True).rollback()
    assert (predicted["changed"], predicted["rolled_back_from"], predicted["msg"]) == (False, None, message)
    assert tree(root) == before
    result = make().rollback()

    assert (result["changed"], result["current"], result["rolled_back_from"]) == (False, "r2", None)
    assert result["msg"] == message
    assert statuses(result) == {"r1": "good", "r2": "good", "r3": "failed"}
    after = tree(root)
    assert after.pop("deploy-audit.jsonl") != before.pop("deploy-audit.jsonl")
    assert after == before
    line = audit_lines(root)[-1]
    assert (line["action"], line["result"], line["current"]) == ("rolled_back", "nothing to do", "r2")
    assert line["details"]["msg"] == message


def test_rollback_goes_to_the_recorded_predecessor_not_the_newest_older_good_release(make, root, clock):
    deploy_good(make, clock, "r1", "r2")
    make().switch("r1")  # the operator went back by hand
    deploy(make, clock, "r3")  # r3 replaced r1, not r2

    result = make().rollback()

    assert (result["current"], result["rolled_back_from"]) == ("r1", "r3")
    assert result["msg"] == "rolled back from r3 to r1; r3 is marked failed"
    assert statuses(result) == {"r1": "good", "r2": "good", "r3": "failed"}
    assert records(root)["r1"]["served_from"] == "r3"
    assert records(root)["r1"]["activated_by"] == "rolled_back"


def test_a_named_rollback_then_a_plain_one_does_nothing(make, root, clock):
    deploy_good(make, clock, "r1", "r2", "r3")
    make().rollback(release="r1")
    before = tree(root)
    before.pop("deploy-audit.jsonl")

    result = make().rollback()

    assert (result["changed"], result["current"], result["rolled_back_from"]) == (False, "r1", None)
    assert "r1 is current because of a rollback from r3" in result["msg"]
    # Only the release the named rollback left is failed; r2 was never touched.
    assert statuses(result) == {"r1": "good", "r2": "good", "r3": "failed"}
    after = tree(root)
    after.pop("deploy-audit.jsonl")
    assert after == before


def test_a_deploy_after_a_rollback_rolls_back_to_the_release_it_replaced(make, root, clock):
    deploy_good(make, clock, "r1", "r2", "r3")
    make().rollback()  # r3 -> r2
    deploy(make, clock, "r4")

    assert make().rollback()["current"] == "r2"


def test_rollback_marks_only_the_release_it_leaves(make, root, clock):
    deploy_good(make, clock, "r1", "r2")
    deploy(make, clock, "r3")

    result = make().rollback()

    assert result["changed"] is True
    assert statuses(result) == {"r1": "good", "r2": "good", "r3": "failed"}


# --------------------------------------------------------------------------------------------
# switched
# --------------------------------------------------------------------------------------------


def test_switch_records_served_from_activation_and_served(make, root, clock):
    deploy(make, clock, "r1", "r2")
    record = records(root)["r2"]
    assert record["served_from"] == "r1"
    assert record["served"] is True
    assert record["activated_by"] == "switched"
    assert record["activated"] == "2024-05-01T08:02:00Z"
    assert records(root)["r1"]["served_from"] is None


# --------------------------------------------------------------------------------------------
# rolled_back: the target is recorded, a rollback with nothing to do says so
# --------------------------------------------------------------------------------------------


def test_rollback_to_the_current_release_says_so(make, root, clock):
    deploy(make, clock, "r1", "r2")
    result = make().rollback(release="r2")
    assert result["msg"] == "release r2 is already current; nothing to roll back"
    assert audit_lines(root)[-1]["result"] == "nothing to do"


# --------------------------------------------------------------------------------------------
# Durability: a full disk while recording
# --------------------------------------------------------------------------------------------


def enospc(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_a_full_disk_while_recording_a_switch_leaves_records_and_current(make, root, clock, monkeypatch):
    deploy(make, clock, "r1")
    make().prepare("r2")
    before = tree(root)
    before.pop("deploy-audit.jsonl")
    monkeypatch.setattr(json, "dump", enospc)  # fails inside the temp file, after it was created

    with pytest.raises(ReleaseError) as raised:
        make().switch("r2")

    assert str(raised.value) == (
        f"could not record the switch to r2 in {root / '.releases.json'}: No space left on device; "
        "current still points at releases/r1"
    )
    after = tree(root)
    after.pop("deploy-audit.jsonl")
    assert after == before  # no temp file left, records and current untouched


def test_a_full_disk_while_pruning_removes_nothing(make, root, clock, monkeypatch):
    deploy(make, clock, "r1", "r2", "r3", "r4")
    before = tree(root)
    before.pop("deploy-audit.jsonl")
    monkeypatch.setattr(records_module, "write_json_atomically", enospc)

    with pytest.raises(ReleaseError, match="could not record .* No space left on device; current still points"):
        make().prune(keep=1)

    after = tree(root)
    after.pop("deploy-audit.jsonl")
    assert after == before


def test_current_that_cannot_be_repointed_restores_the_records(make, root, clock, monkeypatch):
    deploy(make, clock, "r1")
    make().prepare("r2")
    before = tree(root)
    before.pop("deploy-audit.jsonl")
    monkeypatch.setattr(switching_module, "replace_symlink", enospc)

    with pytest.raises(ReleaseError, match="failed to point .* No space left on device"):
        make().switch("r2")

    after = tree(root)
    after.pop("deploy-audit.jsonl")
    assert after == before
    assert audit_lines(root)[-1]["result"].startswith("failed: ")
