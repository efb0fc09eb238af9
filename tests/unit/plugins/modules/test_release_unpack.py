# -*- coding: utf-8 -*-  # noqa: UP009
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""``pyops.deploy.release`` with ``state=prepared`` unpacking the code, driven through AnsibleModule.

The tarballs are made as the deploy makes them on the controller (tar of a tree, git archive), and
travel as the deploy sends them: base64 in ``content``, or copied to the host and named by ``src``.
"""

from __future__ import annotations

import grp
import gzip
import json
import os
import stat
import subprocess
from pathlib import Path

import pytest

from ansible_collections.pyops.deploy.tests.unit.plugins.module_utils._release.tarballs import (
    b64,
    code,
    member,
    sha256,
)
from ansible_collections.pyops.deploy.tests.unit.plugins.modules.test_release_module import (
    four_step,
    tree,
)

GROUP = "nogroup"
GID = grp.getgrnam(GROUP).gr_gid

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the unpack sets ownership: run as root, as a deploy does")


def pack(cache, src, kind="dir"):
    """The tarball the deploy makes on the controller (a tree, or a git archive): its path and sha256."""
    cache = Path(cache)
    cache.mkdir(exist_ok=True)
    out = cache / "code.tar.gz"
    if kind == "git":
        archive = ["git", "-C", str(src), "archive", "--format=tar", "HEAD"]
        out.write_bytes(gzip.compress(subprocess.run(archive, check=True, capture_output=True).stdout, mtime=0))
    else:
        fixed = ["--sort=name", "--mtime=@0", "--owner=0", "--group=0", "--numeric-owner"]
        subprocess.run(["tar", *fixed, "-C", str(src), "-czf", str(out), "."], check=True)
    return out, sha256(out.read_bytes())


def git(repo, *args):
    identity = ["-c", "user.name=ci", "-c", "user.email=ci@example.org"]
    subprocess.run(["git", *identity, "-C", str(repo), *args], check=True, capture_output=True)


def unpack_args(digest, release="v1", **args):
    args.update(
        state="prepared",
        release=release,
        sha256=digest,
        code_group=GROUP,
        shared_dirs=["log"],
        release_file="RELEASE",
        exclude=["log", "RELEASE"],
    )
    return args


def test_inline_code_four_steps(run, root, tmp_path, source):
    tarball, digest = pack(tmp_path / "cache", source)
    content = b64(tarball.read_bytes())
    check, real = four_step(run, root, **unpack_args(digest, content=content))

    release = root / "releases" / "v1"
    assert check["code"] == real["code"] == {"sha256": digest, "unpacked": True}
    assert (release / "app" / "__init__.py").read_text() == "VERSION = 1\n"
    assert (release / "app" / "log" / "__init__.py").exists()
    assert os.readlink(release / "log") == "../../shared/log"
    assert os.listdir(root / "shared" / "log") == []
    assert (release / "RELEASE").read_text() == "v1\n"
    assert (release / ".pyops-unpacked").read_text() == digest + "\n"
    assert os.stat(release / "app" / "__init__.py").st_gid == GID
    assert not [name for name in os.listdir(root / "releases") if name.startswith(".")]
    # The result holds the digest and the actions, never the code.
    assert content not in json.dumps(real)
    assert json.loads((root / "deploy-audit.jsonl").read_text().splitlines()[0])["details"]["sha256"] == digest


def test_copied_code_four_steps_and_the_copy_is_removed(run, root, tmp_path, source):
    tarball, digest = pack(tmp_path / "cache", source)
    (root / "releases").mkdir(parents=True)
    incoming = root / "releases" / f".incoming-{digest}.tar.gz"
    incoming.write_bytes(tarball.read_bytes())
    incoming.chmod(0o600)

    check, real = four_step(run, root, **unpack_args(digest, src=str(incoming)))

    assert any(str(incoming) in action for action in check["actions"])
    assert real["code"]["unpacked"] is True
    assert not incoming.exists()
    assert (root / "releases" / "v1" / "app" / "__init__.py").read_text() == "VERSION = 1\n"


def test_a_wheel_is_unpacked_readable_by_the_group(run, root, tmp_path):
    """A wheel keeps its file name, its requirements file goes beside it; the controller's copy was private."""
    stage = tmp_path / "stage"
    (stage / "deps").mkdir(parents=True)
    wheel = stage / "shop-1.4.2-py3-none-any.whl"
    wheel.write_bytes(b"PK not really a zip")
    wheel.chmod(0o600)
    (stage / "deps" / "requirements.txt").write_text("flask==3.1.3\n")
    tarball, digest = pack(tmp_path / "cache", stage)

    result = run(**unpack_args(digest, content=b64(tarball.read_bytes())))

    assert result["changed"] is True, result
    release = root / "releases" / "v1"
    assert (release / "shop-1.4.2-py3-none-any.whl").read_bytes() == b"PK not really a zip"
    assert (release / "deps" / "requirements.txt").read_text() == "flask==3.1.3\n"
    assert stat.S_IMODE(os.stat(release / "shop-1.4.2-py3-none-any.whl").st_mode) == 0o640


def test_a_git_archive_keeps_the_anchored_excludes(run, root, tmp_path, source):
    """git archive names members without ./ and gives them 0664/0775 under a group-writable umask."""
    git(source, "init", "-q", "-b", "main")
    (source / "app" / "run.sh").write_text("#!/bin/sh\n")
    (source / "app" / "run.sh").chmod(0o775)
    git(source, "add", "-A")
    git(source, "commit", "-q", "-m", "v1")
    git(source, "config", "tar.umask", "0002")
    tarball, digest = pack(tmp_path / "cache", source, "git")

    run(**unpack_args(digest, content=b64(tarball.read_bytes())))

    release = root / "releases" / "v1"
    assert (release / "app" / "log" / "__init__.py").exists()
    assert os.path.islink(release / "log")
    assert (release / "RELEASE").read_text() == "v1\n"
    for path, mode in (("app", 0o755), ("app/__init__.py", 0o644), ("app/run.sh", 0o755)):
        info = os.stat(release / path)
        assert (stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid) == (mode, 0, GID), path


def test_a_failed_unpack_gives_the_lock_back_and_says_why(run, root):
    data = b"not a gzip stream\n"
    result = run(**unpack_args(sha256(data), content=b64(data), take_lock=True, lock_owner="alice@ctl"))

    assert result["failed"] is True
    assert result["msg"] == f"Could not unpack the code into {root}/releases/v1: the archive is not in gzip format"
    assert not (root / ".deploy.lock").exists()
    assert not (root / "releases" / "v1").exists()


def test_a_reused_id_is_refused_and_the_same_code_is_a_no_op(run, root):
    first = code()
    run(**unpack_args(sha256(first), content=b64(first)))
    same = run(**unpack_args(sha256(first), content=b64(first)))
    assert same["changed"] is False
    assert same["code"] == {"sha256": sha256(first), "unpacked": False}
    before = tree(root)

    other = code(member("app/new.py", data=b"new"))
    refused = run(**unpack_args(sha256(other), content=b64(other)))
    assert refused["failed"] is True
    assert refused["msg"].startswith(
        f"release v1 already exists with other code (sha256 {sha256(first)[:12]} here, {sha256(other)[:12]} now)"
    )
    assert tree(root) == before


def test_the_options_are_checked_by_the_argument_spec(run, tmp_path):
    data = code()
    both = run(**unpack_args(sha256(data), content=b64(data), src=str(tmp_path / "x.tar.gz")))
    assert both["failed"] is True
    assert "mutually exclusive" in both["msg"]
    no_digest = run(state="prepared", release="v1", content=b64(data))
    assert no_digest["failed"] is True
    assert "sha256" in no_digest["msg"]
    assert b64(data) not in json.dumps(no_digest)
