# -*- coding: utf-8 -*-  # noqa: UP009
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Input validation and the app root's layout checks (``_release.layout``)."""

from __future__ import annotations

import os

import pytest

from ansible_collections.pyops.deploy.plugins.module_utils._release.info import release_info
from ansible_collections.pyops.deploy.plugins.module_utils._release.layout import (
    AUDIT_FILE,
    LOCK_FILE,
    STATE_FILE,
    ReleaseError,
    validate_app_root,
    validate_release_id,
    validate_shared_paths,
)
from ansible_collections.pyops.deploy.plugins.module_utils._release.manager import ReleaseManager
from ansible_collections.pyops.deploy.tests.unit.plugins.module_utils._release.helpers import tree


@pytest.mark.parametrize("path", ["app", "./app", "", "/", "//", "/srv/a\x00b", None, 42])
def test_bad_app_root_is_rejected(path):
    with pytest.raises(ReleaseError):
        validate_app_root(path)


def test_relative_path_error_names_the_path(tmp_path):
    with pytest.raises(ReleaseError, match="path must be absolute, got 'srv/app'"):
        ReleaseManager("srv/app", audit_user="t")


def test_app_root_is_normalized():
    assert validate_app_root("/srv//app/") == "/srv/app"


@pytest.mark.parametrize(
    "release",
    ["a/b", "../x", "..", ".", "", ".hidden", "-x", "_x", "a" * 129, "x\n", "a b", "a\x00", "é", None, 7],
)
def test_bad_release_id_is_rejected(release):
    with pytest.raises(ReleaseError, match="invalid"):
        validate_release_id(release)


@pytest.mark.parametrize("release", ["20240501T120000Z", "v1.2.3", "abc_DEF-1", "a" * 128, "0"])
def test_good_release_id_is_accepted(release):
    assert validate_release_id(release) == release


@pytest.mark.parametrize("release", ["../evil", "a/b", ".."])
def test_bad_release_id_changes_nothing(make, root, release):
    root.mkdir()
    before = tree(root)
    for call in (
        lambda: make().prepare(release),
        lambda: make().switch(release),
        lambda: make().remove(release),
        lambda: make().mark(release, "good"),
        lambda: make().rollback(release),
        lambda: make().prune(protect=[release]),
    ):
        with pytest.raises(ReleaseError, match="invalid"):
            call()
    assert tree(root) == before


@pytest.mark.parametrize(
    ("dirs", "files", "message"),
    [
        (["/etc"], [], "must be relative"),
        (["../x"], [], r"must not contain '\.\.'"),
        (["a/../../b"], [], r"must not contain '\.\.'"),
        ([""], [], "non-empty"),
        (["."], [], "does not name anything"),
        (["./"], [], "does not name anything"),
        ([None], [], "non-empty"),
        (["a"], ["a"], "listed in both"),
        (["a"], ["a/b"], "overlap"),
        (["a", "a-b", "a/b"], [], "overlap"),
        ([], ["x\x00y"], "NUL"),
    ],
)
def test_bad_shared_paths_are_rejected(dirs, files, message):
    with pytest.raises(ReleaseError, match=message):
        validate_shared_paths(dirs, files)


def test_shared_paths_are_normalized_and_deduplicated():
    assert validate_shared_paths(["a//b/", "a/b", "log"], ["./.env"]) == (["a/b", "log"], [".env"])


@pytest.mark.parametrize("keep", [0, -1, True, "3", None])
def test_bad_keep_is_rejected(make, keep):
    with pytest.raises(ReleaseError, match="keep must be an integer >= 1"):
        make().prune(keep=keep)


@pytest.mark.parametrize("ttl", [0, -5, "60", None])
def test_bad_lock_ttl_is_rejected(make, ttl):
    with pytest.raises(ReleaseError, match="lock_ttl"):
        make(lock_ttl=ttl)


def test_bad_history_is_rejected(root):
    with pytest.raises(ReleaseError, match="history"):
        release_info(str(root), history=-1)


def test_unknown_state_is_rejected(make):
    with pytest.raises(ReleaseError, match="state must be one of"):
        make().run("deployed")


def test_path_that_is_a_file_is_rejected(make, root):
    root.write_text("")
    with pytest.raises(ReleaseError, match="not a directory"):
        make().prepare("r1")


@pytest.mark.parametrize("entry", ["releases", "shared"])
def test_top_level_symlink_escaping_the_root_is_rejected(make, root, tmp_path, entry):
    outside = tmp_path / "outside"
    (outside / "r1").mkdir(parents=True)
    root.mkdir()
    (root / entry).symlink_to(outside)

    for call in (
        lambda: make().prepare("r2"),
        lambda: make().switch("r1"),
        lambda: make().prune(),
        lambda: release_info(str(root)),
    ):
        with pytest.raises(ReleaseError, match="outside of"):
            call()
    assert sorted(os.listdir(outside)) == ["r1"]


def test_releases_symlink_inside_the_root_is_accepted(make, root):
    (root / "data" / "releases").mkdir(parents=True)
    (root / "releases").symlink_to("data/releases")

    make().prepare("r1")

    assert (root / "data" / "releases" / "r1").is_dir()


@pytest.mark.parametrize("name", [STATE_FILE, LOCK_FILE, AUDIT_FILE])
def test_symlinked_bookkeeping_files_are_refused(make, root, tmp_path, name):
    root.mkdir()
    target = tmp_path / "target"
    target.write_text("{}")
    (root / name).symlink_to(target)
    with pytest.raises(ReleaseError, match="is a symlink"):
        make().prepare("r1")
    assert target.read_text() == "{}"
