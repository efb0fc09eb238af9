# -*- coding: utf-8 -*-  # noqa: UP009
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import json
import os
import shutil
import stat

import pytest

from ansible_collections.pyops.deploy.plugins.module_utils import _release as rel
from ansible_collections.pyops.deploy.plugins.module_utils._release import ReleaseError, ReleaseManager

START = 1_714_550_400  # 2024-05-01T08:00:00Z


class Clock:
    def __init__(self, now=START):
        self.now = now

    def __call__(self):
        return self.now

    def advance(self, seconds):
        self.now += seconds


def _raise_no_tty():
    raise OSError("no tty")


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
    path = root / rel.AUDIT_FILE
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def records(root):
    return json.loads((root / rel.STATE_FILE).read_text())["releases"]


def deploy(make, clock, *releases):
    """Prepare and switch each release in turn, like consecutive deploys."""
    for release in releases:
        clock.advance(60)
        make().prepare(release)
        make().switch(release)


def statuses(result):
    return {r["id"]: r["status"] for r in result["releases"]}


# --------------------------------------------------------------------------------------------
# Input validation
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["app", "./app", "", "/", "//", "/srv/a\x00b", None, 42])
def test_bad_app_root_is_rejected(path):
    with pytest.raises(ReleaseError):
        rel.validate_app_root(path)


def test_relative_path_error_names_the_path(tmp_path):
    with pytest.raises(ReleaseError, match="path must be absolute, got 'srv/app'"):
        ReleaseManager("srv/app", audit_user="t")


def test_app_root_is_normalized():
    assert rel.validate_app_root("/srv//app/") == "/srv/app"


@pytest.mark.parametrize(
    "release",
    ["a/b", "../x", "..", ".", "", ".hidden", "-x", "_x", "a" * 129, "x\n", "a b", "a\x00", "é", None, 7],
)
def test_bad_release_id_is_rejected(release):
    with pytest.raises(ReleaseError, match="invalid"):
        rel.validate_release_id(release)


@pytest.mark.parametrize("release", ["20240501T120000Z", "v1.2.3", "abc_DEF-1", "a" * 128, "0"])
def test_good_release_id_is_accepted(release):
    assert rel.validate_release_id(release) == release


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
        rel.validate_shared_paths(dirs, files)


def test_shared_paths_are_normalized_and_deduplicated():
    assert rel.validate_shared_paths(["a//b/", "a/b", "log"], ["./.env"]) == (["a/b", "log"], [".env"])


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
        rel.release_info(str(root), history=-1)


def test_unknown_state_is_rejected(make):
    with pytest.raises(ReleaseError, match="state must be one of"):
        make().run("deployed")


def test_path_that_is_a_file_is_rejected(make, root):
    root.write_text("")
    with pytest.raises(ReleaseError, match="not a directory"):
        make().prepare("r1")


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
        {"id": "r1", "status": "prepared", "created": "2024-05-01T08:00:00Z", "is_current": False}
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
        lambda: rel.release_info(str(root)),
    ):
        with pytest.raises(ReleaseError, match="outside of"):
            call()
    assert sorted(os.listdir(outside)) == ["r1"]


def test_releases_symlink_inside_the_root_is_accepted(make, root):
    (root / "data" / "releases").mkdir(parents=True)
    (root / "releases").symlink_to("data/releases")

    make().prepare("r1")

    assert (root / "data" / "releases" / "r1").is_dir()


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


def test_prepare_audits_a_change_made_only_by_attributes(make, root):
    make().prepare("r1")

    def chmod(path, is_dir):
        if stat.S_IMODE(os.stat(path).st_mode) == 0o750:
            return False
        os.chmod(path, 0o750)
        return True

    assert make(apply_attributes=chmod).prepare("r1")["changed"] is True
    assert stat.S_IMODE(os.stat(root / "releases" / "r1").st_mode) == 0o750
    assert make(apply_attributes=chmod).prepare("r1")["changed"] is False
    assert [e["action"] for e in audit_lines(root)] == ["prepared", "prepared"]


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

    monkeypatch.setattr(rel.os, "unlink", refuse_removal)
    monkeypatch.setattr(rel.os, "remove", refuse_removal)
    monkeypatch.setattr(rel.shutil, "rmtree", refuse_removal)
    monkeypatch.setattr(rel.os, "replace", spy_replace)

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


def test_failed_step_is_audited_and_reported(make, root, clock, monkeypatch):
    deploy(make, clock, "r1")
    make().prepare("r2")

    def broken_symlink(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(rel.os, "symlink", broken_symlink)

    with pytest.raises(ReleaseError, match="failed to point .* No space left"):
        make().switch("r2")

    assert os.readlink(root / "current") == "releases/r1"
    last = audit_lines(root)[-1]
    assert last["result"].startswith("failed: ")
    assert last["current"] == "r1"


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

    result = make().rollback()

    assert result["changed"] is False
    assert result["current"] == "r2"
    assert result["rolled_back_from"] == "r3"
    assert tree(root) == before


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


def test_rollback_target_may_be_a_prepared_release_that_was_current(make, root, clock):
    deploy(make, clock, "r1", "r2")
    assert make().rollback()["current"] == "r1"


def test_rollback_skips_prepared_releases_that_were_never_current(make, root, clock):
    deploy(make, clock, "r1")
    make().prepare("r2")
    deploy(make, clock, "r3")
    assert make().rollback()["current"] == "r1"


def test_rollback_never_targets_failed_releases(make, root, clock):
    deploy(make, clock, "r1", "r2", "r3")
    make().mark("r2", "failed")
    assert make().rollback()["current"] == "r1"


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


def test_order_follows_creation_sequence_not_id_or_mtime(make, root, clock):
    # "zeta" is deployed first, "alpha" second: string order and creation order disagree.
    deploy(make, clock, "zeta", "alpha")
    os.utime(root / "releases" / "zeta", (START + 10_000, START + 10_000))
    os.utime(root / "releases" / "alpha", (START - 10_000, START - 10_000))

    info = rel.release_info(str(root), clock=clock, hostname="web1")

    assert [r["id"] for r in info["releases"]] == ["zeta", "alpha"]
    assert info["previous_good"] == "zeta"
    assert make().rollback()["current"] == "zeta"


def test_untracked_releases_sort_first_by_id(make, root, clock):
    (root / "releases" / "b").mkdir(parents=True)
    (root / "releases" / "a").mkdir()
    make().prepare("0-new")

    info = rel.release_info(str(root), clock=clock, hostname="web1")

    assert [(r["id"], r["status"]) for r in info["releases"]] == [
        ("a", "unknown"),
        ("b", "unknown"),
        ("0-new", "prepared"),
    ]


# --------------------------------------------------------------------------------------------
# pruned
# --------------------------------------------------------------------------------------------


def test_prune_keeps_the_newest_releases(make, root, clock):
    deploy(make, clock, "r1", "r2", "r3", "r4", "r5", "r6")

    result = make().prune(keep=3)

    assert result["changed"] is True
    assert result["removed"] == ["r1", "r2", "r3"]
    assert sorted(os.listdir(root / "releases")) == ["r4", "r5", "r6"]
    assert set(records(root)) == {"r4", "r5", "r6"}
    assert audit_lines(root)[-1]["details"]["removed"] == ["r1", "r2", "r3"]


def test_prune_twice_changes_nothing_the_second_time(make, root, clock):
    deploy(make, clock, "r1", "r2", "r3")
    make().prune(keep=2)
    before = tree(root)

    result = make().prune(keep=2)

    assert result["changed"] is False
    assert result["removed"] == []
    assert tree(root) == before


def test_prune_always_keeps_current_and_rollback_target(make, root, clock):
    deploy(make, clock, "r1", "r2")
    make().mark("r1", "good")
    deploy(make, clock, "r3", "r4")
    make().rollback(release="r2", mark_failed=False)
    make().prepare("r5")
    make().prepare("r6")

    result = make().prune(keep=2)

    # Newest two: r6 and r5; current r2; rollback target of r2 is r1 (good).
    assert result["removed"] == ["r3", "r4"]
    assert sorted(os.listdir(root / "releases")) == ["r1", "r2", "r5", "r6"]


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
# locked / unlocked
# --------------------------------------------------------------------------------------------


def read_lock_file(root):
    return json.loads((root / rel.LOCK_FILE).read_text())


def test_lock_writes_holder_details(make, root):
    result = make(lock_owner="alice", run_id="run-1").lock(pid=4242, host="ctl")

    assert result["changed"] is True
    assert read_lock_file(root) == {
        "owner": "alice",
        "host": "ctl",
        "pid": 4242,
        "time": "2024-05-01T08:00:00Z",
        "run_id": "run-1",
    }
    assert result["lock"]["owner"] == "alice"
    assert result["lock"]["stale"] is False
    assert audit_lines(root)[-1]["action"] == "locked"


def test_lock_defaults_host_to_this_host(make, root):
    make(lock_owner="alice").lock()
    assert read_lock_file(root)["host"] == "web1"
    assert read_lock_file(root)["pid"] is None


def test_lock_is_reentrant_and_refreshes_nothing(make, root, clock):
    make(lock_owner="alice").lock(pid=1)
    before = tree(root)
    clock.advance(7200)

    result = make(lock_owner="alice").lock(pid=2)

    assert result["changed"] is False
    assert tree(root) == before


def test_lock_held_by_another_owner_fails_naming_the_holder(make, root, clock):
    make(lock_owner="alice", run_id="run-1").lock(pid=77, host="ctl")
    before = tree(root)
    clock.advance(60)

    with pytest.raises(
        ReleaseError, match=r"held by alice \(host ctl, pid 77, run_id run-1, since 2024-05-01T08:00:00Z\)"
    ):
        make(lock_owner="bob").lock()

    assert tree(root) == before


def test_stale_lock_by_ttl_is_taken_over(make, root, clock):
    make(lock_owner="alice").lock(pid=77, host="ctl")
    clock.advance(3601)

    result = make(lock_owner="bob").lock()

    assert result["changed"] is True
    assert read_lock_file(root)["owner"] == "bob"
    assert result["stale_lock_replaced"]["owner"] == "alice"
    assert "lock_ttl" in result["stale_lock_replaced"]["stale_reason"]
    assert not [n for n in os.listdir(root) if ".stale-" in n]
    assert audit_lines(root)[-1]["details"]["stale_lock_replaced"]["owner"] == "alice"


def test_lock_ttl_is_configurable(make, root, clock):
    make(lock_owner="alice").lock()
    clock.advance(120)
    with pytest.raises(ReleaseError, match="held by alice"):
        make(lock_owner="bob").lock()
    assert make(lock_owner="bob", lock_ttl=60).lock()["changed"] is True


def test_stale_lock_by_dead_pid_on_this_host_is_taken_over(make, root, clock):
    make(lock_owner="alice").lock(pid=4242)
    clock.advance(5)

    result = make(lock_owner="bob", alive=lambda pid: pid != 4242).lock()

    assert read_lock_file(root)["owner"] == "bob"
    assert result["stale_lock_replaced"]["stale_reason"] == "process 4242 on web1 is gone"


def test_dead_pid_on_another_host_does_not_make_a_lock_stale(make, root, clock):
    make(lock_owner="alice").lock(pid=4242, host="controller")
    with pytest.raises(ReleaseError, match="held by alice"):
        make(lock_owner="bob", alive=lambda pid: False).lock()


def test_lock_without_pid_goes_stale_only_by_ttl(make, root, clock):
    make(lock_owner="alice").lock()
    with pytest.raises(ReleaseError, match="held by alice"):
        make(lock_owner="bob", alive=lambda pid: False).lock()


def test_real_pid_check_uses_os_kill():
    assert rel.pid_alive(os.getpid()) is True
    assert rel.pid_alive(0) is True
    assert rel.pid_alive(2**22 + 12345) is False


def test_unreadable_lock_blocks_until_it_is_old(make, root, clock):
    root.mkdir()
    (root / rel.LOCK_FILE).write_text("")
    os.utime(root / rel.LOCK_FILE, (START - 60, START - 60))
    with pytest.raises(ReleaseError, match="unreadable lock file"):
        make(lock_owner="bob").lock()

    clock.advance(3600)
    assert make(lock_owner="bob").lock()["changed"] is True
    assert read_lock_file(root)["owner"] == "bob"


def test_lock_creation_race_is_reported(make, root):
    root.mkdir()
    manager = make(lock_owner="bob")
    manager._now = START
    (root / rel.LOCK_FILE).write_text(json.dumps({"owner": "alice", "time": "2024-05-01T08:00:00Z"}))
    with pytest.raises(ReleaseError, match="just taken by alice"):
        manager._create_lock_file({"owner": "bob"})


def test_takeover_race_restores_the_new_holder(make, root):
    root.mkdir()
    fresh = {"owner": "carol", "host": "x", "pid": None, "time": "2024-05-01T08:00:00Z", "run_id": None}
    (root / rel.LOCK_FILE).write_text(json.dumps(fresh))
    stale = dict(fresh, owner="alice")

    with pytest.raises(ReleaseError, match="changed while taking it over"):
        make(lock_owner="bob")._take_over_lock(stale, {"owner": "bob"})

    assert read_lock_file(root) == fresh
    assert not [n for n in os.listdir(root) if ".stale-" in n]


def test_lock_creates_a_missing_root(make, root):
    make(lock_owner="alice").lock()
    assert (root / rel.LOCK_FILE).is_file()


def test_lock_requires_an_owner(make, root):
    with pytest.raises(ReleaseError, match="lock_owner is required"):
        make().lock()


def test_lock_check_mode_changes_nothing(make, root):
    root.mkdir()
    result = make(check_mode=True, lock_owner="alice").lock()
    assert result["changed"] is True
    assert result["lock"]["owner"] == "alice"
    assert tree(root) == {}


def test_take_lock_rolls_back_and_keeps_the_lock(make, root, clock):
    deploy(make, clock, "r1", "r2")
    make().mark("r1", "good")

    result = make(lock_owner="alice").run("rolled_back", take_lock=True)

    assert result["changed"] is True
    assert result["current"] == "r1"
    assert read_lock_file(root)["owner"] == "alice"
    assert result["lock"]["owner"] == "alice"
    assert result["actions"][0] == "take deploy lock as alice"
    assert result["diff"]["before"]["lock"] is None
    assert result["diff"]["after"] == {"current": "r1", "releases": {"r1": "good", "r2": "failed"}, "lock": "alice"}
    assert [line["action"] for line in audit_lines(root)[-2:]] == ["locked", "rolled_back"]


def test_take_lock_refuses_another_owners_live_lock_and_changes_nothing(make, root, clock):
    deploy(make, clock, "r1", "r2")
    make(lock_owner="bob").lock()
    before = tree(root)

    with pytest.raises(ReleaseError, match="held by bob"):
        make(lock_owner="alice").run("rolled_back", take_lock=True)

    assert tree(root) == before


def test_take_lock_gives_the_lock_back_when_the_change_is_refused(make, root, clock):
    deploy(make, clock, "r1")
    make().prepare("r2")

    with pytest.raises(ReleaseError, match="nothing to roll back to"):
        make(lock_owner="alice").run("rolled_back", take_lock=True)

    assert not (root / rel.LOCK_FILE).exists()
    assert os.readlink(root / "current") == "releases/r1"


def test_take_lock_keeps_a_lock_the_owner_already_held_when_the_change_is_refused(make, root, clock):
    deploy(make, clock, "r1")
    make(lock_owner="alice").lock()

    with pytest.raises(ReleaseError, match="nothing to roll back to"):
        make(lock_owner="alice").run("rolled_back", take_lock=True)

    assert read_lock_file(root)["owner"] == "alice"


def test_take_lock_in_check_mode_reports_both_changes_and_writes_nothing(make, root, clock):
    deploy(make, clock, "r1", "r2")
    before = tree(root)

    result = make(check_mode=True, lock_owner="alice").run("rolled_back", take_lock=True)

    assert result["changed"] is True
    assert result["current"] == "r1"
    assert result["diff"]["after"]["lock"] == "alice"
    assert tree(root) == before


def test_take_lock_is_not_for_the_lock_states(make, root):
    with pytest.raises(ReleaseError, match="take_lock and release_lock are for the changing states"):
        make(lock_owner="alice").run("locked", take_lock=True)


def test_release_lock_finalizes_and_gives_the_lock_back(make, root, clock):
    deploy(make, clock, "r1")
    make(lock_owner="alice").lock()

    result = make(lock_owner="alice").run("finalized", release_lock=True, release="r1")

    assert result["changed"] is True
    assert result["lock"] is None
    assert not (root / rel.LOCK_FILE).exists()
    assert result["actions"][-1].startswith("release deploy lock of alice ")
    assert result["diff"]["before"]["lock"] == "alice"
    assert result["diff"]["after"] == {"current": "r1", "releases": {"r1": "good"}, "lock": None}
    assert [line["action"] for line in audit_lines(root)[-2:]] == ["finalized", "unlocked"]


def test_release_lock_keeps_the_lock_when_the_change_fails(make, root, clock):
    deploy(make, clock, "r1", "r2")
    make(lock_owner="alice").lock()

    with pytest.raises(ReleaseError, match="not the current release"):
        make(lock_owner="alice").run("finalized", release_lock=True, release="r1")

    assert read_lock_file(root)["owner"] == "alice"


def test_release_lock_in_check_mode_predicts_both_and_writes_nothing(make, root, clock):
    deploy(make, clock, "r1")
    make(lock_owner="alice").lock()
    before = tree(root)

    result = make(check_mode=True, lock_owner="alice").run("finalized", release_lock=True, release="r1")

    assert tree(root) == before
    assert result["changed"] is True
    assert result["diff"]["after"] == {"current": "r1", "releases": {"r1": "good"}, "lock": None}


def test_take_lock_and_release_lock_together_are_refused(make, root, clock):
    deploy(make, clock, "r1")
    with pytest.raises(ReleaseError, match="take_lock and release_lock together"):
        make(lock_owner="alice").run("finalized", take_lock=True, release_lock=True, release="r1")


def test_unlock_by_the_holder(make, root):
    make(lock_owner="alice").lock()

    result = make(lock_owner="alice").unlock()

    assert result["changed"] is True
    assert result["lock"] is None
    assert not (root / rel.LOCK_FILE).exists()
    assert audit_lines(root)[-1]["action"] == "unlocked"


def test_unlock_without_a_lock_changes_nothing(make, root):
    root.mkdir()
    result = make(lock_owner="alice").unlock()
    assert result["changed"] is False
    assert tree(root) == {}


def test_unlock_by_another_owner_is_refused(make, root):
    make(lock_owner="alice").lock()
    with pytest.raises(ReleaseError, match="held by alice.*not by bob"):
        make(lock_owner="bob").unlock()
    assert read_lock_file(root)["owner"] == "alice"


def test_unlock_without_owner_is_refused(make, root):
    make(lock_owner="alice").lock()
    with pytest.raises(ReleaseError, match="lock_owner is required"):
        make().unlock()


def test_forced_unlock_breaks_a_foreign_lock_and_audits_it(make, root):
    make(lock_owner="alice").lock()

    assert make(lock_owner="bob").unlock(force=True)["changed"] is True

    assert not (root / rel.LOCK_FILE).exists()
    assert audit_lines(root)[-1]["details"]["broken_lock"]["owner"] == "alice"


def test_unlock_check_mode_changes_nothing(make, root):
    make(lock_owner="alice").lock()
    before = tree(root)
    result = make(check_mode=True, lock_owner="alice").unlock()
    assert result["changed"] is True
    assert result["lock"] is None
    assert tree(root) == before


def test_a_foreign_lock_blocks_changing_states(make, root, clock):
    deploy(make, clock, "r1", "r2")
    make(lock_owner="alice").lock()
    before = tree(root)

    for call in (
        lambda m: m.prepare("r3"),
        lambda m: m.switch("r1"),
        lambda m: m.rollback(),
        lambda m: m.prune(keep=1),
        lambda m: m.remove("r1"),
        lambda m: m.mark("r1", "good"),
    ):
        with pytest.raises(ReleaseError, match="held by alice"):
            call(make(lock_owner="bob"))
        with pytest.raises(ReleaseError, match="held by alice"):
            call(make())
    assert tree(root) == before

    assert make(lock_owner="alice").switch("r1")["current"] == "r1"


def test_a_stale_lock_does_not_block(make, root, clock):
    deploy(make, clock, "r1", "r2")
    make(lock_owner="alice").lock()
    clock.advance(4000)
    assert make(lock_owner="bob").switch("r1")["changed"] is True


# --------------------------------------------------------------------------------------------
# records, audit, info
# --------------------------------------------------------------------------------------------


def test_corrupt_records_are_reported_not_reset(make, root, clock):
    deploy(make, clock, "r1")
    (root / rel.STATE_FILE).write_text("{nope")
    with pytest.raises(ReleaseError, match="not valid JSON"):
        make().prepare("r2")


@pytest.mark.parametrize(
    "content",
    [[], {"releases": []}, {"releases": {"r1": {"status": "great"}}}, {"releases": {"r1": "good"}}],
)
def test_malformed_records_are_reported(make, root, content):
    root.mkdir()
    (root / rel.STATE_FILE).write_text(json.dumps(content))
    with pytest.raises(ReleaseError, match="release records"):
        make().prune()


@pytest.mark.parametrize("name", [rel.STATE_FILE, rel.LOCK_FILE, rel.AUDIT_FILE])
def test_symlinked_bookkeeping_files_are_refused(make, root, tmp_path, name):
    root.mkdir()
    target = tmp_path / "target"
    target.write_text("{}")
    (root / name).symlink_to(target)
    with pytest.raises(ReleaseError, match="is a symlink"):
        make().prepare("r1")
    assert target.read_text() == "{}"


def test_audit_log_is_appended(make, root, clock):
    root.mkdir()
    (root / rel.AUDIT_FILE).write_text('{"action": "older"}\n')
    deploy(make, clock, "r1")
    assert [e["action"] for e in audit_lines(root)] == ["older", "prepared", "switched"]


def test_new_audit_log_is_not_world_readable(make, root):
    old_umask = os.umask(0o022)
    try:
        make().prepare("r1")
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(os.stat(root / rel.AUDIT_FILE).st_mode) == 0o640


def test_audit_records_previous_and_new_current(make, root, clock):
    deploy(make, clock, "r1", "r2")
    last = audit_lines(root)[-1]
    assert (last["previous"], last["current"], last["release"]) == ("r1", "r2", "r2")


def test_audit_user_defaults_to_the_login_user(monkeypatch, root, clock):
    monkeypatch.setattr(rel.os, "getlogin", _raise_no_tty)
    monkeypatch.setenv("SUDO_USER", "deployer")
    assert ReleaseManager(str(root), clock=clock).audit_user == "deployer"
    monkeypatch.setattr(rel.os, "getlogin", lambda: "alice")
    assert ReleaseManager(str(root), clock=clock).audit_user == "alice"


def test_audit_user_falls_back_to_the_process_user(monkeypatch):
    monkeypatch.setattr(rel.os, "getlogin", _raise_no_tty)
    monkeypatch.delenv("SUDO_USER", raising=False)
    monkeypatch.setattr(rel.getpass, "getuser", lambda: "svc")
    assert rel.default_audit_user() == "svc"


def test_info_on_a_missing_root(root):
    info = rel.release_info(str(root))
    assert info == {
        "exists": False,
        "current": None,
        "previous_good": None,
        "releases": [],
        "lock": None,
        "last_deploys": [],
        "directories": {"releases": None, "shared": None},
        "changed": False,
    }


def test_info_reports_the_directories_a_caller_may_have_to_fix(make, root, clock):
    deploy(make, clock, "r1")
    os.chmod(root / "releases", 0o750)
    (root / "shared").rmdir()
    (root / "shared").symlink_to(root / "releases")

    directories = rel.release_info(str(root), clock=clock)["directories"]

    assert directories["releases"] == {
        "path": str(root / "releases"),
        "is_dir": True,
        "mode": "0750",
        "uid": os.getuid(),
        "gid": os.getgid(),
    }
    # A symlink is reported as one, not as the directory it points at.
    assert directories["shared"]["is_dir"] is False
    (root / "shared").unlink()
    assert rel.release_info(str(root), clock=clock)["directories"]["shared"] is None


def test_info_reports_everything_and_changes_nothing(make, root, clock):
    deploy(make, clock, "r1", "r2", "r3")
    make().mark("r1", "good")
    make(lock_owner="alice").lock(pid=99)
    with open(root / rel.AUDIT_FILE, "a") as handle:
        handle.write("{torn\n")
    before = tree(root)
    clock.advance(10)

    info = rel.release_info(str(root), history=2, clock=clock, hostname="web1", alive=lambda pid: False)

    assert tree(root) == before
    assert info["exists"] is True
    assert info["current"] == "r3"
    assert info["previous_good"] == "r2"
    assert [r["is_current"] for r in info["releases"]] == [False, False, True]
    assert info["lock"]["owner"] == "alice"
    assert info["lock"]["stale"] is True
    assert info["lock"]["stale_reason"] == "process 99 on web1 is gone"
    assert [e["action"] for e in info["last_deploys"]] == ["marked", "locked"]
    assert rel.release_info(str(root), history=0)["last_deploys"] == []


def test_previous_good_with_a_dangling_current(make, root, clock):
    deploy(make, clock, "r1", "r2")
    shutil.rmtree(root / "releases" / "r2")
    info = rel.release_info(str(root), clock=clock)
    assert info["current"] == "r2"
    assert info["previous_good"] == "r1"
    assert make().rollback()["current"] == "r1"


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


# --------------------------------------------------------------------------------------------
# running_release (release_info's service option)
# --------------------------------------------------------------------------------------------


def test_systemctl_show_is_parsed():
    assert rel.parse_systemctl_show("MainPID=42\nExecMainStartTimestampMonotonic=5000000\n") == (42, 5.0)
    assert rel.parse_systemctl_show("MainPID=0\nExecMainStartTimestampMonotonic=0\n") == (0, 0.0)
    assert rel.parse_systemctl_show("MainPID=\n") == (0, 0.0)
    assert rel.parse_systemctl_show("garbage") == (0, 0.0)


def _current_changed_at(root, epoch):
    os.utime(root / "current", (epoch, epoch), follow_symlinks=False)


def test_a_server_started_after_the_switch_runs_current(make, root, clock):
    deploy(make, clock, "r1", "r2")
    _current_changed_at(root, 1000)

    # Started at 1010 by the wall clock: now 1100, monotonic now 500, started at monotonic 410.
    assert rel.running_release(str(root), 42, 410, 1100, 500) == "r2"


def test_a_server_started_before_the_switch_may_run_an_older_release(make, root, clock):
    deploy(make, clock, "r1", "r2")
    _current_changed_at(root, 1050)

    assert rel.running_release(str(root), 42, 410, 1100, 500) is None


def test_a_stopped_server_or_a_missing_current_runs_nothing(make, root, clock):
    root.mkdir()
    assert rel.running_release(str(root), 42, 410, 1100, 500) is None
    deploy(make, clock, "r1")
    assert rel.running_release(str(root), 0, 0, 1100, 500) is None
