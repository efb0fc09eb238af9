# -*- coding: utf-8 -*-  # noqa: UP009
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""plugins/module_utils/_venv: commands and redaction, the bytecode carried, ownership, the marker.

Ported from the tests of the role's former build script. The logic runs on the target as root; here
it runs as whoever runs the tests, giving the venv to that same user and group.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from ansible_collections.pyops.deploy.plugins.module_utils._venv import bytecode, common, owner
from ansible_collections.pyops.deploy.plugins.module_utils._venv.common import VenvError

PY = sys.executable


@pytest.fixture
def venv(tmp_path):
    """A directory shaped like a venv: bin/python (this interpreter) and lib/."""
    root = tmp_path / "venv"
    (root / "bin").mkdir(parents=True)
    (root / "lib" / "site-packages").mkdir(parents=True)
    (root / "bin" / "python").symlink_to(PY)
    return root


# Commands


def test_a_command_returns_its_output_with_the_environment_added(monkeypatch):
    monkeypatch.setenv("PYOPS_KEPT", "kept")
    code = "import os; print(os.environ['PYOPS_KEPT'], os.environ['PYOPS_ADDED'])"
    assert common.run("echo", [PY, "-c", code], env={"PYOPS_ADDED": "added"}) == "kept added\n"


def test_a_failed_command_says_which_step_and_why():
    fail = (
        "import sys; print('resolving', flush=True); "
        "sys.stderr.write('error: no solution for flask==9\\n'); sys.exit(2)"
    )
    with pytest.raises(VenvError) as exc:
        common.run("uv pip sync", [PY, "-c", fail])
    first, *rest = str(exc.value).splitlines()
    assert first.startswith("uv pip sync failed (exit 2): ")
    assert rest == ["resolving", "error: no solution for flask==9"]


def test_a_failed_command_hides_the_credentials_of_urls():
    url = "https://deploy:s3cr$et%2F:x@pypi.example.com/simple"
    fail = "import sys; print('cannot reach ' + sys.argv[1]); sys.exit(2)"
    with pytest.raises(VenvError) as exc:
        common.run("uv pip sync", [PY, "-c", fail, url])
    message = str(exc.value)
    assert "s3cr" not in message and "deploy:" not in message
    assert "'https://***@pypi.example.com/simple'" in message.splitlines()[0]
    assert message.splitlines()[1] == "cannot reach https://***@pypi.example.com/simple"


def test_a_command_that_cannot_start_is_a_failed_step():
    with pytest.raises(VenvError) as exc:
        common.run("uv venv", ["/nonexistent/uv"])
    assert str(exc.value).startswith("uv venv failed: [Errno 2]")


def test_only_the_end_of_a_long_output_is_kept():
    text = "\n".join(f"line {i}" for i in range(100))
    kept = common.tail(text).splitlines()
    assert kept[0] == "[...]" and kept[1:] == [f"line {i}" for i in range(60, 100)]
    assert common.tail("one\ntwo\n") == "one\ntwo"


# The bytecode carried from an earlier venv


def make_module(venv_root, name, source):
    path = venv_root / "lib" / "site-packages" / "pkg" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(source)
    return path


def compiled(path):
    pyc = Path(importlib.util.cache_from_source(str(path)))
    pyc.parent.mkdir(exist_ok=True)
    pyc.write_bytes(b"bytecode of " + path.name.encode())
    return pyc


def test_carry_links_the_bytecode_of_the_files_both_venvs_share(tmp_path, venv):
    earlier = tmp_path / "earlier"
    shared = make_module(earlier, "shared.py", "x = 1\n")
    changed = make_module(earlier, "changed.py", "y = 1\n")
    shared_pyc = compiled(shared)
    compiled(changed)
    new_shared = venv / "lib" / "site-packages" / "pkg" / "shared.py"
    new_shared.parent.mkdir(parents=True)
    os.link(shared, new_shared)  # as uv links both from its cache
    make_module(venv, "changed.py", "y = 2\n")

    assert bytecode.carry(str(earlier), str(venv)) == 1
    carried = Path(importlib.util.cache_from_source(str(new_shared)))
    assert carried.stat().st_ino == shared_pyc.stat().st_ino
    assert not Path(importlib.util.cache_from_source(str(new_shared.with_name("changed.py")))).exists()
    # Again: already there, nothing more to carry.
    assert bytecode.carry(str(earlier), str(venv)) == 0


def test_carry_from_a_venv_that_is_not_there_carries_nothing(tmp_path, venv):
    assert bytecode.carry(str(tmp_path / "missing"), str(venv)) == 0


def test_the_file_runs_on_its_own_and_prints_the_number_carried(tmp_path, venv):
    # The benchmark runs it so, outside any collection.
    done = subprocess.run(
        [PY, "-I", bytecode.__file__, str(tmp_path / "missing"), str(venv)], capture_output=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == b"0\n"


def test_compile_lists_only_the_files_without_bytecode(venv):
    done = make_module(venv, "done.py", "a = 1\n")
    subprocess.run([PY, "-m", "compileall", "-q", str(done)], check=True)
    left = make_module(venv, "left.py", "b = 2\n")
    commands = []

    def recording_run(name, argv):
        commands.append(argv)
        if "-i" in argv:
            commands.append(Path(argv[argv.index("-i") + 1]).read_text().split())
        return common.run(name, argv)

    assert bytecode.uncompiled(str(venv)) == [str(left)]
    bytecode.compile_rest(str(venv), recording_run)
    assert commands[1] == [str(left)]
    assert bytecode.uncompiled(str(venv)) == []
    # Nothing left: compileall does not run at all.
    commands.clear()
    assert bytecode.compile_rest(str(venv), recording_run) == ""
    assert commands == []


def test_compile_takes_all_of_lib_in_parallel_when_most_is_missing(venv, monkeypatch):
    make_module(venv, "one.py", "a = 1\n")
    make_module(venv, "two.py", "b = 2\n")
    commands = []
    monkeypatch.setattr(bytecode, "COMPILE_LIST_LIMIT", 1)
    bytecode.compile_rest(str(venv), lambda name, argv: commands.append(argv) or common.run(name, argv))
    assert commands == [[str(venv / "bin" / "python"), "-m", "compileall", "-q", "-j", "0", str(venv / "lib")]]
    assert bytecode.uncompiled(str(venv)) == []


# Ownership


@pytest.fixture
def populated(venv, tmp_path):
    """The venv with what ownership tells apart: own files, a file hardlinked from a cache,
    a symlink, a directory symlink, and group- and world-writable modes."""
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "cached.py").write_text("cached\n")
    (cache / "cached.py").chmod(0o664)
    site = venv / "lib" / "site-packages"
    os.link(cache / "cached.py", site / "cached.py")
    (site / "own.py").write_text("own\n")
    (site / "own.py").chmod(0o666)
    (site / "pkg").mkdir()
    (site / "pkg").chmod(0o2777)
    (site / "link.py").symlink_to("own.py")
    (venv / "lib64").symlink_to("lib")
    return venv


def find_owned(root):
    out = subprocess.run(
        ["find", str(root), "(", "-type", "d", "-o", "-links", "1", ")", "-print"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return set(out.splitlines())


@pytest.mark.skipif(shutil.which("find") is None, reason="needs find(1) to compare with")
def test_ownership_picks_what_find_picked(populated, monkeypatch):
    chowned = []
    monkeypatch.setattr(owner.os, "lchown", lambda path, uid, gid: chowned.append(path))
    expected = find_owned(populated)
    assert owner.own(str(populated), os.getuid(), os.getgid()) == len(expected)
    assert set(chowned) == expected
    site = populated / "lib" / "site-packages"
    assert str(site / "cached.py") not in chowned
    assert {str(site / "own.py"), str(site / "link.py"), str(populated / "lib64"), str(site / "pkg")} <= set(chowned)


def test_ownership_leaves_nothing_group_or_world_writable(populated):
    owner.own(str(populated), os.getuid(), os.getgid())
    site = populated / "lib" / "site-packages"
    modes = {
        path: stat.S_IMODE(os.lstat(path).st_mode)
        for path in [populated, *populated.rglob("*")]
        if not os.path.islink(path)
    }
    assert all(mode & 0o022 == 0 for mode in modes.values()), modes
    assert modes[site / "own.py"] == 0o644
    # chmod -R go-w: the hardlinked file too (it is the cache's: nothing may write it), setgid kept.
    assert modes[site / "cached.py"] == 0o644
    assert modes[site / "pkg"] == 0o2755


def test_ownership_makes_everything_readable_by_group_and_others(populated, monkeypatch):
    # What a umask of 0027 leaves: files 0640, a script 0750, a directory 0750.
    site = populated / "lib" / "site-packages"
    (site / "_speedups.so").write_bytes(b"")
    (site / "_speedups.so").chmod(0o640)
    (site / "pkg").chmod(0o750)
    (populated / "tool").write_text("#!/bin/sh\n")
    (populated / "tool").chmod(0o750)
    chowned = []
    monkeypatch.setattr(owner.os, "lchown", lambda path, uid, gid: chowned.append(path))
    assert owner.own(str(populated), -1, -1) == 0 and chowned == []  # no owner: modes only
    assert stat.S_IMODE(os.stat(site / "_speedups.so").st_mode) == 0o644
    assert stat.S_IMODE(os.stat(site / "pkg").st_mode) == 0o755
    assert stat.S_IMODE(os.stat(populated / "tool").st_mode) == 0o755


@pytest.mark.parametrize(
    ("mode", "is_dir", "wanted"),
    [
        (0o640, False, 0o644),
        (0o600, False, 0o644),
        (0o700, False, 0o755),
        (0o664, False, 0o644),
        (0o750, True, 0o755),
        (0o2777, True, 0o2755),
        (0o644, False, 0o644),
        (0o4750, False, 0o4755),
    ],
)
def test_the_wanted_mode(mode, is_dir, wanted):
    assert owner.wanted_mode(mode, is_dir) == wanted


def test_ownership_of_a_venv_that_is_not_there_fails(tmp_path):
    with pytest.raises(FileNotFoundError):
        owner.own(str(tmp_path / "none"), os.getuid(), os.getgid())


def test_an_unknown_owner_fails():
    with pytest.raises(VenvError) as exc:
        owner.user_id("no-such-user-pyops")
    assert str(exc.value) == "ownership failed: no user 'no-such-user-pyops'"


def test_numeric_owners_are_taken_as_ids():
    assert owner.user_id("4242424") == 4242424
    assert owner.group_id("4242424") == 4242424


# The marker


def test_the_marker_is_written_with_its_content_and_mode_whatever_the_umask(venv):
    content = '{\n    "inputs": "abc",\n    "installer": "uv"\n}\n'
    marker = venv / ".pyops-venv.json"
    marker.write_text("old\n")
    old_umask = os.umask(0o077)
    try:
        owner.write_marker(str(marker), content, os.getuid(), os.getgid())
    finally:
        os.umask(old_umask)
    assert marker.read_bytes() == content.encode()
    st = marker.stat()
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (0o644, os.getuid(), os.getgid())
    assert sorted(p.name for p in venv.iterdir()) == [".pyops-venv.json", "bin", "lib"]


def test_a_marker_that_cannot_be_finished_leaves_the_old_one_and_no_temporary_file(venv, monkeypatch):
    marker = venv / ".pyops-venv.json"
    marker.write_text("old\n")

    def refuse(fd, mode):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(owner.os, "fchmod", refuse)
    with pytest.raises(PermissionError):
        owner.write_marker(str(marker), "new\n")
    assert marker.read_text() == "old\n"
    assert sorted(p.name for p in venv.iterdir()) == [".pyops-venv.json", "bin", "lib"]
