"""_artifact.pack: the deploy's code as a reproducible tarball in the controller's cache.

Ported from the tests of roles/deploy/files/pack.sh. What the unpack sees is checked with GNU tar
and the unpack's own flags (--anchored, each exclude as <path> and ./<path>), on scratch trees.
"""

from __future__ import annotations

import base64
import hashlib
import os
import stat
import subprocess

import pytest

from ansible_collections.pyops.deploy.plugins.module_utils._artifact import ArtifactError, pack


def packed(cache, src, inline_max, kind="dir", **options):
    result = pack(str(cache), kind, str(src), inline_max=inline_max, **options)
    return result["sha256"], "inline" if result["inline"] else "file"


def unpacked(tmp_path, tarball, excludes=("log", "RELEASE")):
    """The tarball extracted as the unpack extracts it: anchored excludes, as given and with ./."""
    target = tmp_path / "unpacked"
    target.mkdir()
    flags = [flag for path in excludes for flag in (f"--exclude={path}", f"--exclude=./{path}")]
    subprocess.run(
        ["tar", "-xzf", str(tarball), "-C", str(target), "--no-same-owner", "--anchored", *flags], check=True
    )
    return target


def git(repo, *args):
    identity = ["-c", "user.name=ci", "-c", "user.email=ci@example.org"]
    subprocess.run(["git", *identity, "-C", str(repo), *args], check=True, capture_output=True)


def test_a_small_tarball_is_offered_inline_and_a_large_one_as_a_file(tmp_path, source):
    sha256, how = packed(tmp_path / "cache", source, 1 << 20)
    assert how == "inline"
    tarball = tmp_path / "cache" / f"{sha256}.tar.gz"
    assert base64.b64decode((tmp_path / "cache" / f"{sha256}.tar.gz.b64").read_text()) == tarball.read_bytes()
    assert hashlib.sha256(tarball.read_bytes()).hexdigest() == sha256
    # The same tree packs to the same bytes; over the limit it is offered as a file.
    assert packed(tmp_path / "cache2", source, 10) == (sha256, "file")
    assert not (tmp_path / "cache2" / f"{sha256}.tar.gz.b64").exists()
    assert [p.name for p in (tmp_path / "cache").iterdir() if p.name.startswith(".")] == []


def test_the_result_names_the_files(tmp_path, source):
    result = pack(str(tmp_path / "cache"), "dir", str(source), inline_max=1 << 20)
    path = tmp_path / "cache" / f"{result['sha256']}.tar.gz"
    assert result == {
        "sha256": result["sha256"],
        "path": str(path),
        "size": path.stat().st_size,
        "inline": True,
        "content_path": f"{path}.b64",
        "requires_python": "",
    }
    assert pack(str(tmp_path / "cache"), "dir", str(source))["content_path"] is None


def test_the_release_s_requires_python_is_read_from_the_tarball(tmp_path, source):
    (source / "pyproject.toml").write_text('[project]\nname = "shop"\nrequires-python = ">=3.12"\n')
    assert pack(str(tmp_path / "cache"), "dir", str(source))["requires_python"] == ">=3.12"


def test_a_pyproject_that_is_a_link_gives_no_requires_python(tmp_path, source):
    secret = tmp_path / "secret.toml"
    secret.write_text('[project]\nrequires-python = ">=9"\n')
    (source / "pyproject.toml").symlink_to(secret)
    assert pack(str(tmp_path / "cache"), "dir", str(source))["requires_python"] == ""


def test_an_archive_that_cannot_be_read_still_packs_for_the_hosts_to_refuse(tmp_path):
    archive = tmp_path / "build.tar.gz"
    archive.write_bytes(b"not a gzip stream\n")
    result = pack(str(tmp_path / "cache"), "archive", str(archive))
    assert result["requires_python"] == ""


def test_a_pyproject_that_is_not_toml_fails_the_packing_naming_it(tmp_path, source):
    (source / "pyproject.toml").write_text("[project\nTOPSECRET = 1\n")
    with pytest.raises(ArtifactError) as exc:
        pack(str(tmp_path / "cache"), "dir", str(source))
    assert "the release's pyproject.toml is not valid TOML" in str(exc.value)
    assert "TOPSECRET" not in str(exc.value)


def test_the_cache_is_the_controller_users_alone(tmp_path, source):
    cache = tmp_path / "deep" / "cache"
    packed(cache, source, 0)
    assert stat.S_IMODE(cache.stat().st_mode) == 0o700
    cache.chmod(0o755)
    packed(cache, source, 0)
    assert stat.S_IMODE(cache.stat().st_mode) == 0o700


def test_the_unpack_sees_the_code_without_the_shared_paths(tmp_path, source):
    sha256, _how = packed(tmp_path / "cache", source, 0)
    (source / "app" / "__pycache__").mkdir()
    (source / "app" / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"\0")
    (source / "app" / "stale.pyc").write_bytes(b"\0")
    (source / ".git").mkdir()
    (source / ".venv").mkdir()
    # Bytecode, VCS data and virtualenvs are not code: the tree packs as it did without them.
    assert packed(tmp_path / "cache", source, 0)[0] == sha256
    target = unpacked(tmp_path, tmp_path / "cache" / f"{sha256}.tar.gz")
    assert (target / "app" / "__init__.py").read_text() == "VERSION = 1\n"
    # Anchored: the package's own log/ is code; the top-level log and the release file are not.
    assert (target / "app" / "log" / "__init__.py").exists()
    assert not (target / "log").exists()
    assert not (target / "RELEASE").exists()


def test_a_wheel_is_packed_under_its_own_name_with_its_requirements(tmp_path):
    """The wheel keeps its file name (uv reads the project and version from it) and the requirements
    file goes beside it under the release's requirements path."""
    dist = tmp_path / "dist"
    dist.mkdir()
    wheel = dist / "shop-1.4.2-py3-none-any.whl"
    wheel.write_bytes(b"PK not really a zip")
    wheel.chmod(0o600)
    requirements = dist / "pinned.txt"
    requirements.write_text("flask==3.1.3\n")
    with_requirements = {"requirements": str(requirements), "requirements_name": "deps/requirements.txt"}
    sha256, how = packed(tmp_path / "cache", wheel, 1 << 20, "wheel", **with_requirements)
    assert how == "inline"
    # The same wheel and requirements pack to the same bytes; without requirements, the wheel alone.
    assert packed(tmp_path / "cache2", wheel, 1 << 20, "wheel", **with_requirements)[0] == sha256
    alone, _how = packed(tmp_path / "cache3", wheel, 1 << 20, "wheel")
    assert alone != sha256
    target = unpacked(tmp_path, tmp_path / "cache" / f"{sha256}.tar.gz")
    assert (target / "shop-1.4.2-py3-none-any.whl").read_bytes() == b"PK not really a zip"
    assert (target / "deps" / "requirements.txt").read_text() == "flask==3.1.3\n"
    # Readable by the app's group though the controller's copy was private.
    assert (target / "shop-1.4.2-py3-none-any.whl").stat().st_mode & 0o777 == 0o644
    assert (target / "deps").stat().st_mode & 0o777 == 0o755
    assert not [p.name for p in (tmp_path / "cache").iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize("name", ["", "/etc/x", "../x", ".", "shop-1.4.2-py3-none-any.whl"])
def test_requirements_go_inside_the_tarball_beside_the_wheel(tmp_path, name):
    wheel = tmp_path / "shop-1.4.2-py3-none-any.whl"
    wheel.write_bytes(b"PK")
    with pytest.raises(ArtifactError, match="requirements_name"):
        pack(str(tmp_path / "cache"), "wheel", str(wheel), requirements=str(wheel), requirements_name=name)


def test_a_git_ref_is_exported_the_same_from_the_repository_and_from_a_mirror(tmp_path, source):
    """A local repository is exported as it is; a URL is mirrored (bare) in the cache and fetched
    again on every run, so a moved branch is packed at its new commit."""
    git(source, "init", "-q", "-b", "main")
    git(source, "add", "-A")
    git(source, "commit", "-q", "-m", "v1")
    git(source, "tag", "v1")
    local, _how = packed(tmp_path / "cache", source, 1 << 20, "git")
    assert packed(tmp_path / "cache", source, 1 << 20, "git") == (local, "inline")
    url = f"file://{source}"
    cache = tmp_path / "mirror-cache"
    assert packed(cache, url, 1 << 20, "git", git_ref="v1")[0] == local
    assert [p.name for p in cache.iterdir() if p.name.startswith("git-")]
    # The branch moves: the mirror is fetched again and main is the new commit; the tag stays.
    (source / "app" / "__init__.py").write_text("VERSION = 2\n")
    git(source, "commit", "-q", "-am", "v2")
    moved = packed(cache, url, 1 << 20, "git", git_ref="main")[0]
    assert moved != local
    assert packed(cache, url, 1 << 20, "git", git_ref="v1")[0] == local
    sha256 = packed(tmp_path / "cache", source, 1 << 20, "git")[0]
    assert sha256 == moved
    # git archive names entries without ./: the unpack's excludes still hold, the package's log/ is kept.
    target = unpacked(tmp_path, tmp_path / "cache" / f"{sha256}.tar.gz")
    assert (target / "app" / "__init__.py").read_text() == "VERSION = 2\n"
    assert (target / "app" / "log" / "__init__.py").exists()
    assert not (target / "log").exists()
    assert not (target / "RELEASE").exists()
    assert not [p.name for p in cache.iterdir() if p.name.startswith(".")]


def test_credentials_in_a_git_url_stay_out_of_the_error(tmp_path):
    with pytest.raises(ArtifactError) as failed:
        pack(str(tmp_path / "cache"), "git", "https://user:s3cret@127.0.0.1:9/x.git")
    assert "s3cret" not in str(failed.value)
    assert "127.0.0.1:9/x.git" in str(failed.value)
    with pytest.raises(ArtifactError) as failed:
        pack(str(tmp_path / "cache"), "git", "https://ghp_t0ken@127.0.0.1:9/x.git")
    assert "ghp_t0ken" not in str(failed.value)
    assert not [p.name for p in (tmp_path / "cache").iterdir() if p.name.startswith(".")]


def test_an_unknown_ref_fails_with_gits_reason(tmp_path, source):
    git(source, "init", "-q", "-b", "main")
    git(source, "add", "-A")
    git(source, "commit", "-q", "-m", "v1")
    with pytest.raises(ArtifactError, match="archive.*not-a-ref"):
        pack(str(tmp_path / "cache"), "git", str(source), git_ref="not-a-ref")
    with pytest.raises(ArtifactError, match="must not start with '-'"):
        pack(str(tmp_path / "cache"), "git", str(source), git_ref="--output=/tmp/x")


def test_an_archive_is_shipped_as_it_is(tmp_path, source):
    archive = tmp_path / "build.tar.gz"
    subprocess.run(["tar", "-czf", str(archive), "-C", str(source), "."], check=True)
    sha256, _how = packed(tmp_path / "cache", archive, 1 << 20, "archive")
    assert (tmp_path / "cache" / f"{sha256}.tar.gz").read_bytes() == archive.read_bytes()
    assert sha256 == hashlib.sha256(archive.read_bytes()).hexdigest()


@pytest.mark.parametrize(
    ("kind", "src", "options", "message"),
    [
        ("dir", "missing", {}, "is not a directory"),
        ("archive", "missing.tar.gz", {}, "is not a file"),
        ("wheel", ".", {}, "is not a file"),
        ("dir", ".", {"requirements": "r.txt"}, "only used with kind=wheel"),
        ("zip", ".", {}, "kind must be one of"),
    ],
)
def test_bad_input_fails_before_anything_is_written(tmp_path, kind, src, options, message):
    with pytest.raises(ArtifactError, match=message):
        pack(str(tmp_path / "cache"), kind, str(tmp_path / src), **options)
    assert not (tmp_path / "cache").exists()


def test_an_unreadable_file_fails_and_leaves_no_temporary_file(tmp_path, source, monkeypatch):
    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied", args[0])

    cache = tmp_path / "cache"
    cache.mkdir()
    monkeypatch.setattr(os, "rename", refuse)
    with pytest.raises(ArtifactError, match="Permission denied"):
        pack(str(cache), "dir", str(source))
    assert list(cache.iterdir()) == []
