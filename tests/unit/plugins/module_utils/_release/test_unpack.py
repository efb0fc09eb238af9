# -*- coding: utf-8 -*-  # noqa: UP009
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The unpack of ``prepared`` (``_release.unpack``), on real trees, as root as a deploy runs it.

Each attack is built as a tarball an attacker could commit or upload, and the test checks what the
attacker would look at: the target outside the release is unchanged and the error names the member.
"""

from __future__ import annotations

import grp
import os
import stat
import tarfile

import pytest

from ansible_collections.pyops.deploy.plugins.module_utils._release import unpack
from ansible_collections.pyops.deploy.plugins.module_utils._release.layout import (
    DEFAULT_LOCK_TTL,
    AppLayout,
    ReleaseError,
)
from ansible_collections.pyops.deploy.tests.unit.plugins.module_utils._release.helpers import tree
from ansible_collections.pyops.deploy.tests.unit.plugins.module_utils._release.tarballs import (
    b64,
    code,
    member,
    sha256,
    tarball,
)

GROUP = "nogroup"
GID = grp.getgrnam(GROUP).gr_gid


def umask_dir_mode():
    mask = os.umask(0)
    os.umask(mask)
    return 0o777 & ~mask


pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the unpack sets ownership: run as root, as a deploy does")


@pytest.fixture
def prepare(make):
    """Prepare ``release`` with the code ``data`` inline, log shared, RELEASE as the release file."""

    def prepare(data, release="r1", check_mode=False, **options):
        options.setdefault("content", b64(data))
        options.setdefault("sha256", sha256(data))
        options.setdefault("code_group", GROUP)
        options.setdefault("release_file", "RELEASE")
        options.setdefault("exclude", ["log", "RELEASE"])
        options.setdefault("shared_dirs", ["log"])
        return make(check_mode=check_mode).prepare(release, **options)

    return prepare


def leftovers(root):
    return sorted(name for name in os.listdir(root / "releases") if name.startswith("."))


def owner(path):
    info = os.lstat(path)
    return info.st_uid, info.st_gid


# --------------------------------------------------------------------------------------------
# A new release
# --------------------------------------------------------------------------------------------


def test_unpack_puts_the_code_in_and_leaves_the_shared_paths_alone(prepare, root):
    data = code()
    result = prepare(data)

    release = root / "releases" / "r1"
    assert result["changed"] is True
    assert result["code"] == {"sha256": sha256(data), "unpacked": True}
    assert any(action.startswith("unpack the code (sha256 ") for action in result["actions"])
    assert (release / "app" / "__init__.py").read_text() == "VERSION = 1\n"
    # Anchored: the package's own log/ is code; the top-level log is the link, shared/log untouched.
    assert (release / "app" / "log" / "__init__.py").exists()
    assert os.readlink(release / "log") == "../../shared/log"
    assert os.listdir(root / "shared" / "log") == []
    # The release directory is made as prepare makes it, not with the tarball's private root entry.
    assert stat.S_IMODE(os.stat(release).st_mode) == umask_dir_mode()
    assert owner(release) == (0, 0)
    assert (release / "RELEASE").read_text() == "r1\n"
    assert stat.S_IMODE(os.stat(release / "RELEASE").st_mode) == 0o644
    assert (release / ".pyops-unpacked").read_text() == sha256(data) + "\n"
    assert stat.S_IMODE(os.stat(release / ".pyops-unpacked").st_mode) == 0o640
    for path in ("app", "app/__init__.py", "RELEASE", ".pyops-unpacked"):
        assert owner(release / path) == (0, GID), path
    assert leftovers(root) == []


def test_the_tarballs_modes_never_let_the_app_write_its_code(prepare, root):
    data = tarball(
        member("pkg/", "dir", mode=0o777),
        member("pkg/shared.py", mode=0o666),
        member("pkg/group.py", mode=0o664),
        member("pkg/run.sh", mode=0o775),
        member("pkg/setuid", mode=0o4755),
        member("pkg/private.txt", mode=0o600),
        member("tmp/", "dir", mode=0o1777),
    )
    prepare(data, release_file="", exclude=[])

    release = root / "releases" / "r1"
    modes = {
        path: stat.S_IMODE(os.lstat(release / path).st_mode)
        for path in ("pkg", "pkg/shared.py", "pkg/group.py", "pkg/run.sh", "pkg/setuid", "pkg/private.txt", "tmp")
    }
    assert modes == {
        "pkg": 0o755,
        "pkg/shared.py": 0o644,
        "pkg/group.py": 0o644,
        "pkg/run.sh": 0o755,
        "pkg/setuid": 0o755,
        "pkg/private.txt": 0o640,
        "tmp": 0o755,
    }
    assert {owner(release / path) for path in modes} == {(0, GID)}


def test_an_archive_without_dot_slash_and_without_directory_entries(prepare, root):
    """git archive names members without ./; a member's missing parents are made for it."""
    data = tarball(
        member("app/log/__init__.py", data=b"# the package's own log\n"),
        member("log/.gitkeep"),
        member("RELEASE", data=b"from the repository\n"),
        member("docs/index.md", data=b"# docs\n"),
    )
    prepare(data)

    release = root / "releases" / "r1"
    assert (release / "app" / "log" / "__init__.py").read_text() == "# the package's own log\n"
    assert os.path.islink(release / "log")
    assert (release / "RELEASE").read_text() == "r1\n"
    assert stat.S_IMODE(os.stat(release / "app").st_mode) == 0o755
    assert owner(release / "app") == (0, GID)


def test_an_empty_release_file_means_none_and_the_repositorys_file_stays(prepare, root):
    prepare(code(), release_file="", exclude=["log"])
    release = root / "releases" / "r1"
    assert (release / "RELEASE").read_text() == "from the repository\n"
    assert (release / "app" / "__init__.py").exists()


def test_a_release_file_in_a_directory_of_its_own(prepare, root):
    prepare(code(), release_file="meta/RELEASE_ID")
    assert (root / "releases" / "r1" / "meta" / "RELEASE_ID").read_text() == "r1\n"


def test_excluded_paths_and_shared_paths_are_left_out_in_both_member_forms(prepare, root):
    data = tarball(
        member("./media/x.png", data=b"png"),
        member("media/y.png", data=b"png"),
        member("cache/z", data=b"z"),
        member("./pkg/media/keep.py", data=b"kept"),
        member("./pkg/cache/keep.py", data=b"kept"),
    )
    prepare(data, shared_dirs=["media"], exclude=["cache"], release_file="")

    release = root / "releases" / "r1"
    assert os.path.islink(release / "media")
    assert os.listdir(root / "shared" / "media") == []
    assert not os.path.lexists(release / "cache")
    assert (release / "pkg" / "media" / "keep.py").read_text() == "kept"
    assert (release / "pkg" / "cache" / "keep.py").read_text() == "kept"


def test_nested_shared_paths_are_linked_inside_directories_of_the_code(prepare, root):
    data = tarball(member("public/", "dir"), member("public/index.html", data=b"<html>"))
    prepare(data, shared_dirs=["public/media"], shared_files=[".env"], release_file="", exclude=[])

    release = root / "releases" / "r1"
    assert os.readlink(release / "public" / "media") == "../../../shared/public/media"
    assert os.readlink(release / ".env") == "../../shared/.env"
    assert (release / "public" / "index.html").read_bytes() == b"<html>"


def test_a_hardlink_to_a_file_extracted_before_it_is_kept(prepare, root):
    data = tarball(member("a.py", data=b"same"), member("b.py", "hardlink", link="a.py"))
    prepare(data)
    release = root / "releases" / "r1"
    assert (release / "b.py").read_bytes() == b"same"
    assert os.stat(release / "a.py").st_ino == os.stat(release / "b.py").st_ino


def test_symlinks_inside_the_release_are_kept(prepare, root):
    data = tarball(
        member("pkg/", "dir"),
        member("pkg/real.py", data=b"x"),
        member("pkg/alias.py", "symlink", link="real.py"),
        member("top", "symlink", link="pkg/../pkg"),
    )
    prepare(data)
    release = root / "releases" / "r1"
    assert os.readlink(release / "pkg" / "alias.py") == "real.py"
    assert owner(release / "pkg" / "alias.py") == (0, GID)
    assert (release / "top" / "real.py").read_bytes() == b"x"


def test_src_is_unpacked_and_removed(prepare, root, tmp_path):
    data = code()
    src = tmp_path / "incoming.tar.gz"
    src.write_bytes(data)
    result = prepare(data, content=None, src=str(src))
    assert result["code"]["unpacked"] is True
    assert not src.exists()
    assert (root / "releases" / "r1" / "app" / "__init__.py").exists()


# --------------------------------------------------------------------------------------------
# Attacks: nothing outside the release changes, and the error names the member
# --------------------------------------------------------------------------------------------


@pytest.fixture
def sudoers(tmp_path):
    path = tmp_path / "etc" / "sudoers"
    path.parent.mkdir()
    path.write_text("root ALL=(ALL) ALL\n")
    path.chmod(0o440)
    return path


def assert_refused(prepare, root, data, sudoers, *words):
    with pytest.raises(ReleaseError) as exc:
        prepare(data)
    message = str(exc.value)
    assert message.startswith(f"Could not unpack the code into {root / 'releases' / 'r1'}: "), message
    for word in words:
        assert word in message, message
    assert sudoers.read_text() == "root ALL=(ALL) ALL\n"
    assert stat.S_IMODE(os.stat(sudoers).st_mode) == 0o440
    assert owner(sudoers) == (0, 0)
    assert not os.path.lexists(root / "releases" / "r1")
    assert leftovers(root) == []
    return message


@pytest.mark.parametrize("name", [".pyops-unpacked.tmp", ".pyops-unpacked", ".pyops-code.tar.gz"])
def test_a_link_named_like_the_modules_own_files_is_refused(prepare, root, sudoers, name):
    data = code(member(name, "symlink", link=str(sudoers)))
    assert_refused(prepare, root, data, sudoers, repr(name))


def test_a_relative_link_named_like_the_marker_is_refused_too(prepare, root, sudoers):
    data = code(member(".pyops-unpacked", "symlink", link="app/__init__.py"))
    assert_refused(prepare, root, data, sudoers, "'.pyops-unpacked'", ".pyops-* at the top")


def test_a_member_climbing_out_with_dot_dot_is_refused(prepare, root, sudoers):
    escape = os.path.relpath(sudoers, root / "releases" / "r1")
    data = code(member(escape, data=b"ALL ALL=(ALL) NOPASSWD: ALL\n"))
    assert_refused(prepare, root, data, sudoers, repr(escape), "'..'")


def test_an_absolute_member_is_refused(prepare, root, sudoers):
    data = code(member(str(sudoers), data=b"ALL ALL=(ALL) NOPASSWD: ALL\n"))
    assert_refused(prepare, root, data, sudoers, repr(str(sudoers)), "absolute")


def test_an_absolute_symlink_is_refused(prepare, root, sudoers):
    data = code(member("app/settings.py", "symlink", link=str(sudoers)))
    assert_refused(prepare, root, data, sudoers, "'app/settings.py'", "absolute")


def test_a_relative_symlink_climbing_out_is_refused(prepare, root, sudoers):
    data = code(member("app/deep/evil", "symlink", link="../../../../etc/sudoers"))
    assert_refused(prepare, root, data, sudoers, "'app/deep/evil'", "leaves the release")


def test_a_symlink_then_a_file_through_it_is_refused(prepare, root, sudoers):
    """The classic: a link to a directory outside, then a member written through the link."""
    data = code(
        member("etc", "symlink", link="app"),
        member("etc/sudoers", data=b"ALL ALL=(ALL) NOPASSWD: ALL\n"),
    )
    assert_refused(prepare, root, data, sudoers, "'etc/sudoers'", "goes through the symlink 'etc'")


def test_a_hardlink_to_a_file_outside_is_refused(prepare, root, sudoers):
    data = code(member("app/sudoers", "hardlink", link=str(sudoers)))
    assert_refused(prepare, root, data, sudoers, "'app/sudoers'", "hardlink")
    data = code(member("app/sudoers", "hardlink", link="../../../etc/sudoers"))
    assert_refused(prepare, root, data, sudoers, "'app/sudoers'", "hardlink")


def test_a_hardlink_to_a_later_or_excluded_member_is_refused(prepare, root, sudoers):
    data = tarball(member("b.py", "hardlink", link="a.py"), member("a.py", data=b"x"))
    assert_refused(prepare, root, data, sudoers, "'b.py'", "not a regular file extracted before it")
    data = tarball(member("log/x", data=b"x"), member("b.py", "hardlink", link="log/x"))
    assert_refused(prepare, root, data, sudoers, "'b.py'")


@pytest.mark.parametrize(
    ("kind", "what"), [("fifo", "a FIFO"), ("chr", "a character device"), ("blk", "a block device")]
)
def test_devices_and_fifos_are_refused(prepare, root, sudoers, kind, what):
    data = code(member("app/null", kind))
    assert_refused(prepare, root, data, sudoers, "'app/null'", what)


def test_the_release_file_in_the_archive_is_refused_unless_excluded(prepare, root, sudoers):
    data = code()
    with pytest.raises(ReleaseError, match="'./RELEASE' is the release file RELEASE"):
        prepare(data, exclude=["log"])
    assert not os.path.lexists(root / "releases" / "r1")


def test_a_member_that_appears_twice_is_refused(prepare, root, sudoers):
    data = tarball(member("a.py", data=b"1"), member("./a.py", data=b"2"))
    assert_refused(prepare, root, data, sudoers, "'./a.py'", "twice")


def test_a_tarball_that_is_not_gzip_fails_with_the_reason(prepare, root, sudoers):
    data = b"not a gzip stream\n"
    assert_refused(prepare, root, data, sudoers, "the archive is not in gzip format")


def test_a_truncated_tarball_fails_with_the_reason(prepare, root, sudoers):
    data = code()[:-40]
    message = assert_refused(prepare, root, data, sudoers)
    assert len(message) > len(f"Could not unpack the code into {root / 'releases' / 'r1'}: ")


def test_a_tarball_with_another_sha256_is_refused_before_anything_is_written(prepare, root, sudoers):
    data = code(member(os.path.relpath(sudoers, root / "releases" / "r1"), data=b"ALL ALL=(ALL) ALL\n"))
    with pytest.raises(ReleaseError, match=f"the sha256 of the inline content is {sha256(data)}, not the expected 0+$"):
        prepare(data, sha256="0" * 64)
    assert sudoers.read_text() == "root ALL=(ALL) ALL\n"
    assert not os.path.lexists(root / "releases" / "r1")


def test_a_src_that_is_a_symlink_is_refused(prepare, root, tmp_path):
    real = tmp_path / "real.tar.gz"
    real.write_bytes(code())
    src = tmp_path / "incoming.tar.gz"
    src.symlink_to(real)
    with pytest.raises(ReleaseError, match="cannot open src"):
        prepare(code(), content=None, src=str(src))
    assert real.exists()
    assert not os.path.lexists(root / "releases" / "r1")


# --------------------------------------------------------------------------------------------
# A release that exists, an interrupted unpack, check mode
# --------------------------------------------------------------------------------------------


def test_the_same_id_and_sha256_again_changes_nothing(prepare, root, tmp_path):
    data = code()
    prepare(data)
    (root / "releases" / "r1" / "app" / "__init__.py").write_text("edited on the host\n")
    before = tree(root)

    again = prepare(data)
    assert again["changed"] is False
    assert again["code"] == {"sha256": sha256(data), "unpacked": False}
    assert tree(root) == before
    # A copied tarball of the same code is only removed.
    src = tmp_path / "incoming.tar.gz"
    src.write_bytes(data)
    copied = prepare(data, content=None, src=str(src))
    assert copied["changed"] is True
    assert not src.exists()
    assert (root / "releases" / "r1" / "app" / "__init__.py").read_text() == "edited on the host\n"


def test_the_same_id_with_other_code_is_refused(prepare, root):
    first = code()
    prepare(first)
    other = code(member("app/new.py", data=b"new"))
    before = tree(root)
    with pytest.raises(ReleaseError) as exc:
        prepare(other)
    assert str(exc.value) == (
        f"release r1 already exists with other code (sha256 {sha256(first)[:12]} here, {sha256(other)[:12]} now): "
        "pick a new deploy_release, or leave deploy_release empty to name the release by its sha256"
    )
    assert tree(root) == before


def test_a_release_without_a_marker_is_refused(prepare, make, root):
    make().prepare("r1")
    with pytest.raises(ReleaseError, match=r"already exists with other code \(sha256 unknown here, [0-9a-f]{12} now\)"):
        prepare(code())


def test_an_interrupted_unpack_is_cleaned_and_the_unpack_succeeds(prepare, root):
    prepare(code(), release="r0")
    left = root / "releases" / ".unpacking-r1-0123456789ab"
    (left / "app").mkdir(parents=True)
    (left / "app" / "__init__.py").write_text("half")
    assert AppLayout(str(root)).present_releases() == ["r0"]

    result = prepare(code(), release="r1")
    assert f"remove {left}, left by an interrupted unpack" in result["actions"]
    assert leftovers(root) == []
    assert (root / "releases" / "r1" / "app" / "__init__.py").read_text() == "VERSION = 1\n"
    assert [r["id"] for r in result["releases"]] == ["r0", "r1"]


def test_tarballs_left_by_runs_that_did_not_unpack_them_are_removed_once_older_than_the_lock_ttl(prepare, root, clock):
    prepare(code(), release="r0")
    releases = root / "releases"
    old, young = releases / ".incoming-old.tar.gz", releases / ".incoming-young.tar.gz"
    for path, age in ((old, DEFAULT_LOCK_TTL + 1), (young, DEFAULT_LOCK_TTL - 1)):
        path.write_bytes(b"left")
        os.utime(path, (clock.now - age, clock.now - age))
    own = releases / ".incoming-own.tar.gz"
    data = code(member("app/v2.py"))
    own.write_bytes(data)
    os.utime(own, (clock.now - 5000, clock.now - 5000))

    checked = prepare(data, release="r1", content=None, src=str(own), check_mode=True)
    assert f"remove {old}, a tarball left by a run that did not unpack it" in checked["actions"]
    assert old.exists()

    result = prepare(data, release="r1", content=None, src=str(own))
    assert f"remove {old}, a tarball left by a run that did not unpack it" in result["actions"]
    assert not any(str(young) in action for action in result["actions"])
    assert sorted(path.name for path in releases.glob(".incoming-*")) == [young.name]
    assert (releases / "r1" / "app" / "v2.py").exists()


def test_check_mode_reports_the_unpack_and_touches_nothing(prepare, root):
    prepare(code(), release="r0")
    before = tree(root)
    result = prepare(code(member("app/v2.py")), release="r1", check_mode=True)
    assert result["changed"] is True
    assert any(a.startswith("unpack the code (sha256 ") for a in result["actions"])
    assert result["diff"]["after"]["releases"] == {"r0": "prepared", "r1": "prepared"}
    assert result["diff"]["before"]["releases"] == {"r0": "prepared"}
    assert tree(root) == before


def test_check_mode_verifies_what_it_can(prepare, root, tmp_path, sudoers):
    with pytest.raises(ReleaseError, match="not the expected"):
        prepare(code(), sha256="0" * 64, check_mode=True)
    with pytest.raises(ReleaseError, match="'app/evil' is a symlink to the absolute path"):
        prepare(code(member("app/evil", "symlink", link=str(sudoers))), check_mode=True)
    with pytest.raises(ReleaseError, match="the archive is not in gzip format"):
        prepare(b"plain text", check_mode=True)
    # A tarball not copied yet (the copy task did not run in check mode) is reported, not refused.
    result = prepare(code(), content=None, src=str(tmp_path / "not-copied.tar.gz"), check_mode=True)
    assert result["changed"] is True
    assert not os.path.lexists(root)


def test_the_unpack_options_are_validated(make):
    with pytest.raises(ReleaseError, match="need|give src or content"):
        make().prepare("r1", sha256="0" * 64)
    with pytest.raises(ReleaseError, match="64 hexadecimal"):
        make().prepare("r1", content=b64(code()), sha256="abc")
    with pytest.raises(ReleaseError, match="not valid base64"):
        make().prepare("r1", content="not base64!", sha256="0" * 64)
    with pytest.raises(ReleaseError, match="must not contain '..'"):
        make().prepare("r1", content=b64(code()), sha256="0" * 64, exclude=["../x"])
    with pytest.raises(ReleaseError, match="absolute"):
        make().prepare("r1", content=b64(code()), sha256="0" * 64, release_file="/etc/motd")
    with pytest.raises(ReleaseError, match="does not exist"):
        make().prepare("r1", content=b64(code()), sha256="0" * 64, code_group="no-such-group-here")


def test_scan_returns_members_in_order_without_the_root_entry():
    data = code()
    spec = unpack.code_spec(content=b64(data), sha256=sha256(data), exclude=["log", "RELEASE"], release_file="RELEASE")
    with unpack.open_code(spec) as handle, tarfile.open(fileobj=handle, mode="r:gz") as tar:
        planned = unpack.scan(tar.getmembers(), spec)
    assert [entry[1] for entry in planned] == ["app", "app/__init__.py", "app/log", "app/log/__init__.py"]


def test_a_src_that_is_a_fifo_is_refused_without_blocking(prepare, root, tmp_path):
    src = tmp_path / "incoming.tar.gz"
    os.mkfifo(src)
    with pytest.raises(ReleaseError, match="is not a regular file"):
        prepare(code(), content=None, src=str(src))
    assert not os.path.lexists(root / "releases" / "r1")
