"""roles/deploy/files/unpack.sh, the host's end of the deploy's code transfer, on scratch trees.

The tarball is packed by the artifact module's logic, as the controller packs it; unpack.sh runs as
the unpack task runs it on a host (its environment, the excludes as arguments, the tarball base64 on
stdin or copied beside the release).
The tests run as root, as a deploy does. The deploy of real releases is tests/e2e.
"""

import grp
import os
import subprocess
from pathlib import Path

import pytest

from ansible_collections.pyops.deploy.plugins.module_utils import _artifact as artifact

FILES = Path(__file__).resolve().parents[2] / "roles" / "deploy" / "files"
GROUP = grp.getgrgid(os.getgid()).gr_name


@pytest.fixture
def source(tmp_path):
    """An app tree whose own root is private, with a log/ of its own and a package with a log/ too."""
    src = tmp_path / "src"
    (src / "app" / "log").mkdir(parents=True)
    (src / "log").mkdir()
    (src / "app" / "__init__.py").write_text("VERSION = 1\n")
    (src / "app" / "log" / "__init__.py").write_text("")
    (src / "log" / ".gitkeep").write_text("")
    (src / "RELEASE").write_text("from the repository\n")
    src.chmod(0o700)
    return src


def pack(cache, src, inline_max):
    """Pack as the deploy's artifact module does; the pack's own tests are tests/unit/plugins/*/test_artifact*."""
    result = artifact.pack(str(cache), "dir", str(src), inline_max=inline_max)
    return [result["sha256"], "inline" if result["inline"] else "file"]


@pytest.fixture
def release(tmp_path):
    """A release directory as the release module prepares it: mode 0755, log linked to shared/log."""
    shared_log = tmp_path / "shared" / "log"
    shared_log.mkdir(parents=True)
    shared_log.chmod(0o750)
    rel = tmp_path / "releases" / "v1"
    rel.mkdir(parents=True)
    rel.chmod(0o755)
    (rel / "log").symlink_to("../../shared/log")
    return rel


def unpack(rel, sha256, stdin=None, tarball="", release_file="RELEASE", excludes=("log", "RELEASE")):
    """Run unpack.sh. stdin None: as the command module runs it with no input, on a stdin that stays
    open (the task's own), which the script must not wait on."""
    env = dict(
        os.environ,
        DIR=str(rel),
        GROUP=GROUP,
        TARBALL=tarball,
        RELEASE_FILE=str(rel / release_file) if release_file else "",
        RELEASE="v1",
        MARKER=str(rel / ".pyops-unpacked"),
        SHA256=sha256,
    )
    argv = ["sh", "-euc", (FILES / "unpack.sh").read_text(), "sh", *excludes]
    if stdin is not None:
        return subprocess.run(argv, input=stdin, env=env, check=True, capture_output=True, text=True).stdout
    read_end, write_end = os.pipe()
    try:
        return subprocess.run(
            argv, stdin=read_end, env=env, check=True, capture_output=True, text=True, timeout=60
        ).stdout
    finally:
        os.close(read_end)
        os.close(write_end)


@pytest.mark.parametrize("inline", [True, False], ids=["inline", "copied"])
def test_unpack_puts_the_code_in_and_leaves_the_shared_paths_alone(tmp_path, source, release, inline):
    sha256, _how = pack(tmp_path / "cache", source, 1 << 20)
    tarball = tmp_path / "cache" / f"{sha256}.tar.gz"
    if inline:
        out = unpack(release, sha256, stdin=(tmp_path / "cache" / f"{sha256}.tar.gz.b64").read_text())
    else:
        copied = release / ".pyops-code.tar.gz"
        copied.write_bytes(tarball.read_bytes())
        out = unpack(release, sha256, tarball=str(copied))
        assert not copied.exists()
    assert out.splitlines()[0] == f"unpacked {sha256}"
    assert (release / "app" / "__init__.py").read_text() == "VERSION = 1\n"
    # Anchored: the package's own log/ is code; the top-level log is still the link, its dir untouched.
    assert (release / "app" / "log" / "__init__.py").exists()
    assert (release / "log").is_symlink()
    assert not (tmp_path / "shared" / "log" / ".gitkeep").exists()
    shared = (tmp_path / "shared" / "log").stat()
    assert (shared.st_mode & 0o777, shared.st_gid) == (0o750, 0)
    # The release keeps its own mode, not the tarball's private root entry's.
    assert release.stat().st_mode & 0o777 == 0o755
    assert (release / "RELEASE").read_text() == "v1\n"
    assert (release / ".pyops-unpacked").read_text() == sha256 + "\n"
    for path in [release / "app", release / "app" / "__init__.py", release / "RELEASE"]:
        assert (path.stat().st_uid, grp.getgrgid(path.stat().st_gid).gr_name) == (0, GROUP)
    assert [p.name for p in release.iterdir() if p.name.startswith(".pyops-unpack.")] == []


def test_unpack_again_changes_nothing_and_reads_all_of_stdin(tmp_path, source, release):
    sha256, _how = pack(tmp_path / "cache", source, 1 << 20)
    data = (tmp_path / "cache" / f"{sha256}.tar.gz.b64").read_text()
    unpack(release, sha256, stdin=data)
    (release / "app" / "__init__.py").write_text("edited on the host\n")
    # A stdin larger than a pipe's buffer, as the command module writes it before reading any output.
    assert unpack(release, sha256, stdin=data * 8) == ""
    # A copied tarball's rerun: nothing on stdin, which stays open.
    copied = release / ".pyops-code.tar.gz"
    copied.write_bytes((tmp_path / "cache" / f"{sha256}.tar.gz").read_bytes())
    assert unpack(release, sha256, tarball=str(copied)) == ""
    assert not copied.exists()
    assert (release / "app" / "__init__.py").read_text() == "edited on the host\n"


def test_unpack_after_an_interrupted_one_completes_it(tmp_path, source, release):
    sha256, _how = pack(tmp_path / "cache", source, 1 << 20)
    (release / "app").mkdir()
    (release / "app" / "__init__.py").write_text("half")
    (release / ".pyops-unpacked").write_text("an earlier tarball\n")
    out = unpack(release, sha256, stdin=(tmp_path / "cache" / f"{sha256}.tar.gz.b64").read_text())
    assert f"unpacked {sha256}" in out
    assert (release / "app" / "__init__.py").read_text() == "VERSION = 1\n"


def test_an_empty_release_file_leaves_out_nothing(tmp_path, source, release):
    sha256, _how = pack(tmp_path / "cache", source, 1 << 20)
    data = (tmp_path / "cache" / f"{sha256}.tar.gz.b64").read_text()
    unpack(release, sha256, stdin=data, release_file="", excludes=("log",))
    assert (release / "RELEASE").read_text() == "from the repository\n"
    assert (release / "app" / "__init__.py").exists()
