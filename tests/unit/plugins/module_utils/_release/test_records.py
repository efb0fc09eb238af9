# -*- coding: utf-8 -*-  # noqa: UP009
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Release records, order, rollback target and prune victims (``_release.records``)."""

from __future__ import annotations

import json
import os

import pytest

from ansible_collections.pyops.deploy.plugins.module_utils._release.info import release_info
from ansible_collections.pyops.deploy.plugins.module_utils._release.layout import STATE_FILE, ReleaseError
from ansible_collections.pyops.deploy.plugins.module_utils._release.records import UNPACKED_MARKER
from ansible_collections.pyops.deploy.tests.unit.plugins.module_utils._release.helpers import (
    START,
    audit_lines,
    deploy,
    records,
)


def test_rollback_target_may_be_a_prepared_release_that_was_current(make, root, clock):
    deploy(make, clock, "r1", "r2")
    assert make().rollback()["current"] == "r1"


def test_rollback_skips_prepared_releases_that_were_never_current(make, root, clock):
    deploy(make, clock, "r1")
    make().prepare("r2")
    deploy(make, clock, "r3")
    assert make().rollback()["current"] == "r1"


def test_rollback_refuses_a_failed_predecessor_unless_forced(make, root, clock):
    deploy(make, clock, "r1", "r2", "r3")
    make().mark("r2", "failed")
    with pytest.raises(ReleaseError, match="release r2, which served before r3, is marked failed; set force=true"):
        make().rollback()
    assert make().rollback(force=True)["current"] == "r2"


def test_order_follows_creation_sequence_not_id_or_mtime(make, root, clock):
    # "zeta" is deployed first, "alpha" second: string order and creation order disagree.
    deploy(make, clock, "zeta", "alpha")
    os.utime(root / "releases" / "zeta", (START + 10_000, START + 10_000))
    os.utime(root / "releases" / "alpha", (START - 10_000, START - 10_000))

    info = release_info(str(root), clock=clock, hostname="web1")

    assert [r["id"] for r in info["releases"]] == ["zeta", "alpha"]
    assert info["previous_good"] == "zeta"
    assert make().rollback()["current"] == "zeta"


def test_untracked_releases_sort_first_by_id(make, root, clock):
    (root / "releases" / "b").mkdir(parents=True)
    (root / "releases" / "a").mkdir()
    make().prepare("0-new")

    info = release_info(str(root), clock=clock, hostname="web1")

    assert [(r["id"], r["status"]) for r in info["releases"]] == [
        ("a", "unknown"),
        ("b", "unknown"),
        ("0-new", "prepared"),
    ]


def test_prune_keeps_the_newest_releases(make, root, clock):
    deploy(make, clock, "r1", "r2", "r3", "r4", "r5", "r6")

    result = make().prune(keep=3)

    assert result["changed"] is True
    assert result["removed"] == ["r1", "r2", "r3"]
    assert sorted(os.listdir(root / "releases")) == ["r4", "r5", "r6"]
    assert set(records(root)) == {"r4", "r5", "r6"}
    assert audit_lines(root)[-1]["details"]["removed"] == ["r1", "r2", "r3"]


def test_prune_always_keeps_current_and_rollback_target(make, root, clock):
    deploy(make, clock, "r1", "r2")
    make().mark("r1", "good")
    deploy(make, clock, "r3", "r4")
    make().rollback(release="r2", mark_failed=False)
    make().prepare("r5")
    make().prepare("r6")

    result = make().prune(keep=2)

    # Current r2 (reached by a rollback, so its rollback target is r1, good); served and newest by
    # activation: r2 and r4. r5 and r6 never served: removed, never counted.
    assert result["removed"] == ["r3", "r5", "r6"]
    assert sorted(os.listdir(root / "releases")) == ["r1", "r2", "r4"]


def test_prune_does_not_count_failed_releases_and_removes_them(make, root, clock):
    deploy(make, clock, "r1", "r2", "r3", "r4")
    make().mark("r3", "failed")

    result = make().prune(keep=2)

    assert result["removed"] == ["r1", "r3"]
    assert sorted(os.listdir(root / "releases")) == ["r2", "r4"]


def test_prune_keeps_a_failed_current_release(make, root, clock):
    deploy(make, clock, "r1", "r2", "r3")
    make().mark("r3", "failed")

    result = make().prune(keep=1)

    assert "r3" not in result["removed"]
    assert result["removed"] == ["r1"]


def test_prune_keeps_protected_releases(make, root, clock):
    deploy(make, clock, "r1", "r2", "r3", "r4")
    make().mark("r1", "failed")

    result = make().prune(keep=1, protect=["r1", "does-not-exist"])

    assert result["removed"] == ["r2"]
    assert sorted(os.listdir(root / "releases")) == ["r1", "r3", "r4"]


def test_prune_counts_and_removes_untracked_releases(make, root, clock):
    (root / "releases" / "legacy").mkdir(parents=True)
    deploy(make, clock, "r1", "r2", "r3")

    assert make().prune(keep=4)["removed"] == []
    assert make().prune(keep=3)["removed"] == ["legacy"]


def test_corrupt_records_are_reported_not_reset(make, root, clock):
    deploy(make, clock, "r1")
    (root / STATE_FILE).write_text("{nope")
    with pytest.raises(ReleaseError, match="not valid JSON"):
        make().prepare("r2")


@pytest.mark.parametrize(
    "content",
    [[], {"releases": []}, {"releases": {"r1": {"status": "great"}}}, {"releases": {"r1": "good"}}],
)
def test_malformed_records_are_reported(make, root, content):
    root.mkdir()
    (root / STATE_FILE).write_text(json.dumps(content))
    with pytest.raises(ReleaseError, match="release records"):
        make().prune()


def test_prune_after_failures_keeps_served_releases_and_removes_never_live_ones(make, root, clock):
    for release in ("r1", "r2", "r3"):
        deploy(make, clock, release)
        make().finalize(release, keep=10)
    for release in ("r4", "r5"):
        clock.advance(60)
        make().prepare(release)
        make().mark(release, "failed")
    make().prepare("r6")  # prepared, never switched to

    result = make().prune(keep=3)

    # Before, r6 counted as one of the newest three and good r1 was removed.
    assert result["removed"] == ["r4", "r5", "r6"]
    assert sorted(os.listdir(root / "releases")) == ["r1", "r2", "r3"]


def test_prune_counts_served_releases_by_activation_not_creation(make, root, clock):
    deploy(make, clock, "r1", "r2", "r3")
    clock.advance(60)
    make().switch("r1")  # r1 served last
    deploy(make, clock, "r4")

    # current r4, its rollback target r1; r3 served after r2.
    assert make().prune(keep=3)["removed"] == ["r2"]


def test_prune_keeps_the_rollback_target_even_beyond_keep(make, root, clock):
    deploy(make, clock, "r1", "r2", "r3")
    make().switch("r1")
    deploy(make, clock, "r4")

    assert make().prune(keep=1)["removed"] == ["r2", "r3"]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("a" * 64 + "\n", "a" * 64),
        ("ABCDEF0123456789" * 4, "abcdef0123456789" * 4),
        ("a" * 63, None),
        ("g" * 64, None),
        ("a" * 64 + "b", None),
    ],
)
def test_releases_carry_the_digest_of_their_unpacked_code(make, root, clock, content, expected):
    deploy(make, clock, "r1")
    (root / "releases" / "r1" / UNPACKED_MARKER).write_text(content)

    assert release_info(str(root), clock=clock)["releases"][0]["sha256"] == expected
    assert make().prune()["releases"][0]["sha256"] == expected


def test_a_marker_that_is_a_symlink_or_a_directory_gives_no_digest(make, root, clock, tmp_path):
    deploy(make, clock, "r1", "r2")
    (tmp_path / "elsewhere").write_text("a" * 64)
    (root / "releases" / "r1" / UNPACKED_MARKER).symlink_to(tmp_path / "elsewhere")
    (root / "releases" / "r2" / UNPACKED_MARKER).mkdir()

    assert [r["sha256"] for r in release_info(str(root), clock=clock)["releases"]] == [None, None]


def test_records_written_before_served_existed_still_work(make, root, clock):
    deploy(make, clock, "r1", "r2", "r3")
    state = json.loads((root / STATE_FILE).read_text())
    for record in state["releases"].values():
        for key in ("served", "served_from", "activated_by", "activated_seq"):
            record.pop(key, None)
    (root / STATE_FILE).write_text(json.dumps(state))

    assert release_info(str(root), clock=clock)["previous_good"] == "r2"
    assert make().rollback()["current"] == "r2"
    assert make().rollback()["changed"] is False  # last_switch says r2 was reached by a rollback
