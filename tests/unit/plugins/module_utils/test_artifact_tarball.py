"""_artifact.tarball: reproducible tarballs, member by member and byte by byte."""

from __future__ import annotations

import gzip
import io
import os
import tarfile

from ansible_collections.pyops.deploy.plugins.module_utils._artifact import tarball


def make_tree(root):
    (root / "b" / "z").mkdir(parents=True)
    (root / "a.py").write_text("a\n")
    (root / "b" / "run.sh").write_text("#!/bin/sh\n")
    (root / "b" / "run.sh").chmod(0o755)
    (root / "b" / "z" / "data").write_text("z\n")
    (root / "B").write_text("upper sorts first\n")
    (root / "link").symlink_to("/etc/passwd")
    for name in ("venv", ".venv", ".git", ".hg", "__pycache__", "b/__pycache__"):
        (root / name).mkdir()
        (root / name / "x").write_text("")
    for name in (".gitignore", "b/old.pyc", "CVS"):
        (root / name).write_text("")
    os.mkfifo(root / "fifo")


def members(path):
    with tarfile.open(path) as tar:
        return tar.getmembers()


def test_members_are_sorted_owned_by_root_and_timeless(tmp_path):
    root = tmp_path / "src"
    root.mkdir()
    make_tree(root)
    out = tmp_path / "out.tar.gz"
    tarball.write(str(out), tarball.tree_members(str(root)))
    found = members(out)
    assert [m.name for m in found] == [
        ".", "./B", "./a.py", "./b", "./b/run.sh", "./b/z", "./b/z/data", "./link",
    ]  # fmt: skip
    assert {(m.mtime, m.uid, m.gid, m.uname, m.gname) for m in found} == {(0, 0, 0, "", "")}
    by_name = {m.name: m for m in found}
    assert by_name["./b/run.sh"].mode == 0o755
    # A symlink is packed as a link, never followed out of the tree.
    assert by_name["./link"].issym() and by_name["./link"].linkname == "/etc/passwd"


def test_the_same_tree_gives_the_same_bytes_whatever_its_times(tmp_path):
    root = tmp_path / "src"
    root.mkdir()
    make_tree(root)
    first, second = tmp_path / "1.tar.gz", tmp_path / "2.tar.gz"
    tarball.write(str(first), tarball.tree_members(str(root)))
    os.utime(root / "a.py", (1, 1))
    tarball.write(str(second), tarball.tree_members(str(root)))
    assert first.read_bytes() == second.read_bytes()


def test_the_gzip_header_holds_no_name_and_no_time(tmp_path):
    out = tmp_path / "named.tar.gz"
    tarball.write(str(out), [(tarball._member("./x", tarfile.REGTYPE, 0o644), b"x")])
    header = out.read_bytes()[:10]
    assert header[3] & 0x08 == 0  # no FNAME
    assert header[4:8] == b"\0\0\0\0"  # MTIME 0


def test_gzip_file_compresses_a_plain_tar_reproducibly(tmp_path):
    plain = tmp_path / "plain.tar"
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo("x")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    plain.write_bytes(buffer.getvalue())
    first, second = tmp_path / "1.gz", tmp_path / "2.gz"
    tarball.gzip_file(str(plain), str(first))
    os.utime(plain, (5, 5))
    tarball.gzip_file(str(plain), str(second))
    assert first.read_bytes() == second.read_bytes()
    assert gzip.decompress(first.read_bytes()) == plain.read_bytes()
    assert first.read_bytes()[4:8] == b"\0\0\0\0"
