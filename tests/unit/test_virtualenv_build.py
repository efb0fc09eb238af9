"""roles/virtualenv/files/build_venv.py: the plan, the steps, the bytecode carried, ownership, the marker.

The script runs on the target as root; here it runs as whoever runs the tests, giving the venv to
that same user and group, which needs no privilege.
"""

import grp
import importlib.util
import json
import os
import pwd
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from ansible_collections.pyops.deploy.tests.unit.role_files import load_role_file

build_venv = load_role_file("virtualenv", "build_venv.py")
SCRIPT = Path(build_venv.__file__)

USER = pwd.getpwuid(os.getuid()).pw_name
GROUP = grp.getgrgid(os.getgid()).gr_name
PY = sys.executable


def step(name, code, **extra):
    return {"step": name, "argv": [PY, "-c", code], **extra}


@pytest.fixture
def venv(tmp_path):
    """A directory shaped like a venv: bin/python (this interpreter) and lib/."""
    root = tmp_path / "venv"
    (root / "bin").mkdir(parents=True)
    (root / "lib" / "site-packages").mkdir(parents=True)
    (root / "bin" / "python").symlink_to(PY)
    return root


def run_main(plan, capsys):
    code = build_venv.main(["build_venv.py", json.dumps(plan) if not isinstance(plan, str) else plan])
    out, err = capsys.readouterr()
    return code, out, err


# The plan


def test_a_full_plan_is_accepted(venv):
    build_venv.check_plan(
        {
            "venv": str(venv),
            "steps": [step("a", "pass", chdir="/", creates="/x", run=True)],
            "carry_from": "",
            "compile": False,
            "owner": USER,
            "group": GROUP,
            "marker": {"path": str(venv / ".m"), "content": "{}\n"},
        }
    )


@pytest.mark.parametrize(
    ("plan", "message"),
    [
        ("[]", "absolute path as 'venv'"),
        ({"venv": "relative/venv"}, "absolute path as 'venv'"),
        ({"venv": "/v", "steps": [{"argv": ["true"]}]}, "needs a name"),
        ({"venv": "/v", "steps": [{"step": "a", "argv": "true"}]}, "needs a name"),
        ({"venv": "/v", "steps": [{"step": "a", "argv": []}]}, "not a list of strings"),
        ({"venv": "/v", "marker": {"path": "/v/m"}}, "marker needs"),
        ("{not json", "not valid"),
    ],
)
def test_a_bad_plan_fails_before_anything_runs(plan, message, capsys):
    code, out, err = run_main(plan if isinstance(plan, str) else plan, capsys)
    assert code == 1 and out == ""
    assert err.startswith("the plan is not valid: ") and message in err


# The steps


def test_steps_run_in_order_and_a_creates_path_that_exists_skips_its_step(venv, tmp_path, capsys):
    log = tmp_path / "log"
    append = "import sys; open(sys.argv[1], 'a').write(sys.argv[2] + chr(10))"
    plan = {
        "venv": str(venv),
        "steps": [
            {"step": "first", "argv": [PY, "-c", append, str(log), "first"]},
            {"step": "skipped", "argv": [PY, "-c", append, str(log), "skipped"], "creates": str(venv / "bin/python")},
            {"step": "second", "argv": [PY, "-c", append + "; print('done')", str(log), "second"], "chdir": "/"},
        ],
    }
    code, out, _err = run_main(plan, capsys)
    assert code == 0
    assert log.read_text() == "first\nsecond\n"
    report = json.loads(out)
    assert set(report["seconds"]) == {"first", "second"}
    assert report["output"] == {"second": "done"}


def test_a_failed_step_stops_the_build_and_says_which_and_why(venv, capsys):
    fail = (
        "import sys; print('resolving', flush=True); "
        "sys.stderr.write('error: no solution for flask==9\\n'); sys.exit(2)"
    )
    plan = {
        "venv": str(venv),
        "steps": [step("uv pip sync", fail), step("uv pip install", "open('/nonexistent/never', 'w')")],
        "owner": USER,
        "marker": {"path": str(venv / ".pyops-venv.json"), "content": "{}\n"},
    }
    code, out, err = run_main(plan, capsys)
    assert code == 1 and out == ""
    first, *rest = err.splitlines()
    assert first.startswith("uv pip sync failed (exit 2): ")
    assert rest == ["resolving", "error: no solution for flask==9"]
    assert not (venv / ".pyops-venv.json").exists()


def test_a_failed_step_hides_the_credentials_of_index_urls(venv, capsys):
    url = "https://deploy:s3cr$et%2F:x@pypi.example.com/simple"
    fail = "import sys; print('cannot reach ' + sys.argv[1]); sys.exit(2)"
    plan = {"venv": str(venv), "steps": [{"step": "uv pip sync", "argv": [PY, "-c", fail, url]}]}
    code, _out, err = run_main(plan, capsys)
    assert code == 1
    assert "s3cr" not in err and "deploy:" not in err
    assert "'https://***@pypi.example.com/simple'" in err.splitlines()[0]
    assert err.splitlines()[1] == "cannot reach https://***@pypi.example.com/simple"


def test_a_command_that_cannot_start_is_a_failed_step(venv, capsys):
    code, _out, err = run_main({"venv": str(venv), "steps": [{"step": "uv venv", "argv": ["/nonexistent/uv"]}]}, capsys)
    assert code == 1
    assert err.startswith("uv venv failed: [Errno 2]")


def test_only_the_end_of_a_long_output_is_kept():
    text = "\n".join(f"line {i}" for i in range(100))
    kept = build_venv.tail(text).splitlines()
    assert kept[0] == "[...]" and kept[1:] == [f"line {i}" for i in range(60, 100)]
    assert build_venv.tail("one\ntwo\n") == "one\ntwo"


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

    assert build_venv.carry(str(earlier), str(venv)) == 1
    carried = Path(importlib.util.cache_from_source(str(new_shared)))
    assert carried.stat().st_ino == shared_pyc.stat().st_ino
    assert not Path(importlib.util.cache_from_source(str(new_shared.with_name("changed.py")))).exists()
    # Again: already there, nothing more to carry.
    assert build_venv.carry(str(earlier), str(venv)) == 0


def test_carry_from_a_venv_that_is_not_there_carries_nothing(tmp_path, venv):
    assert build_venv.carry(str(tmp_path / "missing"), str(venv)) == 0


def test_the_carry_mode_prints_the_number_carried(tmp_path, venv, capsys):
    assert build_venv.main(["build_venv.py", "carry", str(tmp_path / "missing"), str(venv)]) == 0
    assert capsys.readouterr().out == "0\n"


def test_the_build_carries_then_compiles_the_rest(tmp_path, venv, capsys):
    earlier = tmp_path / "earlier"
    shared = make_module(earlier, "shared.py", "x = 1\n")
    subprocess.run([PY, "-m", "compileall", "-q", str(earlier / "lib")], check=True)
    new_shared = venv / "lib" / "site-packages" / "pkg" / "shared.py"
    new_shared.parent.mkdir(parents=True)
    os.link(shared, new_shared)
    own_file = make_module(venv, "own.py", "z = 3\n")

    code, out, _err = run_main({"venv": str(venv), "carry_from": str(earlier), "compile": True}, capsys)
    assert code == 0
    report = json.loads(out)
    assert report["carried"] == 1 and set(report["seconds"]) == {"carry", "compileall"}
    shared_pyc = Path(importlib.util.cache_from_source(str(new_shared)))
    assert shared_pyc.stat().st_nlink == 2
    assert Path(importlib.util.cache_from_source(str(own_file))).is_file()


def test_compile_lists_only_the_files_without_bytecode(venv, monkeypatch):
    done = make_module(venv, "done.py", "a = 1\n")
    subprocess.run([PY, "-m", "compileall", "-q", str(done)], check=True)
    left = make_module(venv, "left.py", "b = 2\n")
    commands = []
    real_run = build_venv.run

    def recording_run(name, argv, chdir=None):
        commands.append(argv)
        if "-i" in argv:
            commands.append(Path(argv[argv.index("-i") + 1]).read_text().split())
        return real_run(name, argv, chdir)

    monkeypatch.setattr(build_venv, "run", recording_run)
    assert build_venv.uncompiled(str(venv)) == [str(left)]
    build_venv.compile_rest(str(venv))
    assert commands[1] == [str(left)]
    assert build_venv.uncompiled(str(venv)) == []
    # Nothing left: compileall does not run at all.
    commands.clear()
    assert build_venv.compile_rest(str(venv)) == ""
    assert commands == []


def test_compile_takes_all_of_lib_in_parallel_when_most_is_missing(venv, monkeypatch):
    make_module(venv, "one.py", "a = 1\n")
    make_module(venv, "two.py", "b = 2\n")
    commands = []
    real_run = build_venv.run
    monkeypatch.setattr(build_venv, "COMPILE_LIST_LIMIT", 1)
    monkeypatch.setattr(build_venv, "run", lambda name, argv, chdir=None: commands.append(argv) or real_run(name, argv))
    build_venv.compile_rest(str(venv))
    assert commands == [[str(venv / "bin" / "python"), "-m", "compileall", "-q", "-j", "0", str(venv / "lib")]]
    assert build_venv.uncompiled(str(venv)) == []


# Ownership


@pytest.fixture
def populated(venv, tmp_path):
    """The venv with what the ownership step tells apart: own files, a file hardlinked from a cache,
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
    monkeypatch.setattr(build_venv.os, "lchown", lambda path, uid, gid: chowned.append(path))
    expected = find_owned(populated)
    assert build_venv.own(str(populated), os.getuid(), os.getgid()) == len(expected)
    assert set(chowned) == expected
    site = populated / "lib" / "site-packages"
    assert str(site / "cached.py") not in chowned
    assert {str(site / "own.py"), str(site / "link.py"), str(populated / "lib64"), str(site / "pkg")} <= set(chowned)


def test_ownership_leaves_nothing_group_or_world_writable(populated):
    build_venv.own(str(populated), os.getuid(), os.getgid())
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


def test_ownership_of_a_venv_that_is_not_there_fails(tmp_path, capsys):
    code, _out, err = run_main({"venv": str(tmp_path / "none"), "owner": USER, "group": GROUP}, capsys)
    assert code == 1 and err.startswith("ownership failed: [Errno 2]")


def test_an_unknown_owner_fails(venv, capsys):
    code, _out, err = run_main({"venv": str(venv), "owner": "no-such-user-pyops"}, capsys)
    assert code == 1 and err == "ownership failed: no user 'no-such-user-pyops'\n"


def test_numeric_owners_are_taken_as_ids():
    assert build_venv.user_id("4242424") == 4242424
    assert build_venv.group_id(GROUP) == os.getgid()


# The marker


def test_the_marker_is_written_last_with_its_content_and_mode(venv, capsys):
    content = '{\n    "inputs": "abc",\n    "installer": "uv"\n}\n'
    marker = venv / ".pyops-venv.json"
    marker.write_text("old\n")
    old_umask = os.umask(0o077)
    try:
        code, out, _err = run_main(
            {"venv": str(venv), "owner": USER, "group": GROUP, "marker": {"path": str(marker), "content": content}},
            capsys,
        )
    finally:
        os.umask(old_umask)
    assert code == 0
    assert list(json.loads(out)["seconds"]) == ["ownership", "marker"]
    assert marker.read_bytes() == content.encode()
    st = marker.stat()
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (0o644, os.getuid(), os.getgid())
    assert sorted(p.name for p in venv.iterdir()) == [".pyops-venv.json", "bin", "lib"]


def test_a_marker_that_cannot_be_finished_leaves_the_old_one_and_no_temporary_file(venv, monkeypatch):
    marker = venv / ".pyops-venv.json"
    marker.write_text("old\n")

    def refuse(fd, mode):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(build_venv.os, "fchmod", refuse)
    with pytest.raises(PermissionError):
        build_venv.write_marker(str(marker), "new\n")
    assert marker.read_text() == "old\n"
    assert sorted(p.name for p in venv.iterdir()) == [".pyops-venv.json", "bin", "lib"]


def test_the_script_runs_from_stdin_as_the_role_runs_it(venv):
    plan = {
        "venv": str(venv),
        "steps": [step("echo", "print('hi')")],
        "marker": {"path": str(venv / "m"), "content": "x\n"},
    }
    done = subprocess.run(
        [PY, "-I", "-", json.dumps(plan)], input=SCRIPT.read_bytes(), capture_output=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["output"] == {"echo": "hi"}
    assert (venv / "m").read_text() == "x\n"
