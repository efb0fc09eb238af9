# -*- coding: utf-8 -*-  # noqa: UP009
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Drive ``pyops.deploy.venv`` end to end: real venvs built with uv (and pip) offline from a wheelhouse
of tiny wheels made here, uv itself installed from a wheel in it that runs the uv of this machine."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import platform
import shutil
import stat
import subprocess
import zipfile

import pytest

from ansible_collections.pyops.deploy.plugins.module_utils._venv import common
from ansible_collections.pyops.deploy.plugins.modules import venv as venv_module
from ansible_collections.pyops.deploy.tests.unit.plugins.modules.test_release_module import run_module, tree

PYTHON = "/usr/bin/python3"
UV = shutil.which("uv") or "/work/main/.venv/bin/uv"
UV_VERSION = "0.13.9"
SECRET = "TOPSECRET-shadow-line"

pytestmark = [
    pytest.mark.skipif(not os.path.exists(PYTHON), reason="needs /usr/bin/python3"),
    pytest.mark.skipif(not os.path.exists(UV), reason="needs a uv binary"),
]


def write_wheel(directory, name, version, files, requires=()):
    """A minimal pure-Python wheel (with a RECORD uv and pip accept)."""
    dist = f"{name}-{version}.dist-info"
    files = dict(files)
    depends = "".join(f"Requires-Dist: {spec}\n" for spec in requires)
    files[f"{dist}/METADATA"] = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n{depends}"
    files[f"{dist}/WHEEL"] = "Wheel-Version: 1.0\nGenerator: pyops-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(text.encode())}")
    record.append(f"{dist}/RECORD,,")
    files[f"{dist}/RECORD"] = "\n".join(record) + "\n"
    path = directory / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as wheel:
        for member, text in files.items():
            wheel.writestr(member, text)
    return path


def write_uv_wheel(directory):
    """uv's wheel as install_uv takes it apart: here its binary runs this machine's uv."""
    path = directory / f"uv-{UV_VERSION}-py3-none-manylinux_2_17_{platform.machine()}.whl"
    with zipfile.ZipFile(path, "w") as wheel:
        wheel.writestr(f"uv-{UV_VERSION}.data/scripts/uv", f'#!/bin/sh\nexec {UV} "$@"\n')
    return path


@pytest.fixture
def site(tmp_path):
    """A release with its requirements, a wheelhouse, and where uv, its cache and the venv go."""
    wheelhouse = tmp_path / "wheelhouse"
    wheelhouse.mkdir()
    write_wheel(wheelhouse, "tinypkg", "1.0", {"tinypkg/__init__.py": "VALUE = 1\n"})
    write_wheel(wheelhouse, "otherpkg", "1.0", {"otherpkg/__init__.py": "OTHER = 2\n"})
    write_wheel(wheelhouse, "needsdep", "1.0", {"needsdep/__init__.py": "import tinypkg\n"}, ["tinypkg>=1"])
    write_uv_wheel(wheelhouse)
    release = tmp_path / "release"
    release.mkdir()
    (release / "requirements.txt").write_text("tinypkg==1.0\n")
    return tmp_path


def args_for(site, **extra):
    args = {
        "path": str(site / "release" / "venv"),
        "python": PYTHON,
        "requirements": str(site / "release" / "requirements.txt"),
        "wheelhouse": str(site / "wheelhouse"),
        "uv_dir": str(site / "uv"),
        "cache_dir": str(site / "cache"),
    }
    args.update(extra)
    return {key: value for key, value in args.items() if value is not None}


@pytest.fixture
def run(capsys, site):
    def run(check=False, diff=False, **extra):
        return run_module(venv_module, capsys, args_for(site, **extra), check=check, diff=diff)

    return run


def imports(venv, code):
    return subprocess.run([str(venv / "bin" / "python"), "-c", code], capture_output=True, check=False).returncode == 0


def test_four_steps_build_once_then_leave_the_venv_alone(run, site):
    venv = site / "release" / "venv"
    before = tree(site)
    first_check = run(check=True, diff=True)
    assert first_check["changed"] is True and first_check["action"] == "create"
    assert first_check["uv_installed"] is True
    assert tree(site) == before, "check mode changed the disk"
    assert first_check["diff"]["before"] == {}
    assert first_check["diff"]["after"]["inputs"] == first_check["inputs_digest"]

    first_run = run()
    assert first_run["changed"] is True and first_run["action"] == "create"
    assert first_run["interpreter"] == os.path.realpath(PYTHON)
    assert os.access(site / "uv" / UV_VERSION / "bin" / "uv", os.X_OK)
    assert imports(venv, "import tinypkg; assert tinypkg.VALUE == 1")
    assert list((venv / "lib").glob("python3*/site-packages/tinypkg/__pycache__/__init__.cpython-*.pyc"))
    marker = json.loads((venv / ".pyops-venv.json").read_text())
    assert marker == {
        "inputs": first_run["inputs_digest"],
        "installer": "uv",
        "interpreter": first_run["interpreter"],
        "python": first_run["python"],
    }
    after = tree(site)

    second_check = run(check=True, diff=True)
    assert second_check["changed"] is False and second_check["action"] == "none"
    assert second_check["diff"]["before"] == second_check["diff"]["after"] == marker
    second_run = run()
    assert second_run["changed"] is False and second_run["action"] == "none"
    assert tree(site) == after
    # Nothing of the requirements' text in any result: only its digest.
    for result in (first_check, first_run, second_check, second_run):
        assert "tinypkg==1.0" not in json.dumps(result)


def test_changed_requirements_sync_the_same_venv(run, site):
    venv = site / "release" / "venv"
    run()
    (venv / "sentinel").write_text("kept")
    (site / "release" / "requirements.txt").write_text("tinypkg==1.0\notherpkg==1.0\n")
    check = run(check=True)
    assert (check["changed"], check["action"]) == (True, "sync")
    assert not imports(venv, "import otherpkg")
    synced = run()
    assert (synced["changed"], synced["action"]) == (True, "sync")
    assert imports(venv, "import tinypkg, otherpkg")
    assert (venv / "sentinel").read_text() == "kept"  # synced in place, not rebuilt
    assert run()["action"] == "none"


def test_a_marker_of_another_interpreter_rebuilds_the_venv(run, site):
    venv = site / "release" / "venv"
    run()
    marker = json.loads((venv / ".pyops-venv.json").read_text())
    marker["python"] = "3.10.0"
    (venv / ".pyops-venv.json").write_text(json.dumps(marker))
    (venv / "sentinel").write_text("gone")
    assert run()["action"] == "create"
    assert not (venv / "sentinel").exists()


def test_a_symlinked_requirements_file_is_refused_and_its_target_never_shown(run, site):
    secret = site / "shadow"
    secret.write_text(SECRET + "\n")
    secret.chmod(0o600)
    requirements = site / "release" / "requirements.txt"
    requirements.unlink()
    requirements.symlink_to(secret)
    before = tree(site)
    for check in (True, False):
        result = run(check=check)
        assert result["failed"] is True
        assert result["msg"] == f"Refusing to read {requirements}: it is a symlink; give the file itself"
        assert SECRET not in json.dumps(result)
    assert tree(site) == before


def test_a_symlinked_lock_is_refused(run, site):
    lock = site / "release" / "uv.lock"
    lock.symlink_to(site / "shadow")
    result = run(requirements=None, lock=str(lock))
    assert result["failed"] is True and "it is a symlink" in result["msg"]


def test_the_build_ignores_the_callers_umask(run, site):
    previous = os.umask(0o027)  # a hardened host's
    try:
        run(owner="root")
        assert os.umask(0o027) == 0o027  # the caller's umask is given back
    finally:
        os.umask(previous)
    venv = site / "release" / "venv"
    for path in [venv, *venv.rglob("*"), site / "cache", *(site / "cache").rglob("*"), site / "uv"]:
        st = os.lstat(path)
        if stat.S_ISLNK(st.st_mode):
            continue
        wanted = 0o055 if stat.S_ISDIR(st.st_mode) else 0o044
        assert st.st_mode & wanted == wanted, (path, oct(st.st_mode))


@pytest.mark.skipif(os.geteuid() != 0, reason="gives the venv to another user")
def test_the_venv_is_the_owners_but_files_linked_from_the_cache_stay_roots(run, site):
    result = run(owner="nobody", group="nogroup", link_mode="hardlink")
    assert result["changed"] is True
    venv = site / "release" / "venv"
    assert (venv.stat().st_uid, venv.stat().st_gid) == (65534, 65534)
    assert (venv / "pyvenv.cfg").stat().st_uid == 65534
    assert (venv / ".pyops-venv.json").stat().st_uid == 65534
    linked = next((venv / "lib").glob("python3*/site-packages/tinypkg/__init__.py"))
    assert linked.stat().st_nlink > 1 and linked.stat().st_uid == 0
    cache = site / "cache"
    assert (cache.stat().st_uid, stat.S_IMODE(cache.stat().st_mode)) == (0, 0o755)
    for path in [venv, *venv.rglob("*")]:
        if not path.is_symlink():
            assert path.lstat().st_mode & 0o022 == 0, path


def test_bytecode_is_carried_from_an_earlier_venv(run, site):
    run()
    earlier = site / "release" / "venv"
    new = site / "next" / "venv"
    result = run(path=str(new), bytecode_from=str(earlier), link_mode="hardlink")
    assert result["carried"] >= 1
    pattern = "python3*/site-packages/tinypkg/__pycache__/__init__.cpython-*.pyc"
    old_pyc, new_pyc = next((earlier / "lib").glob(pattern)), next((new / "lib").glob(pattern))
    assert old_pyc.stat().st_ino == new_pyc.stat().st_ino


def test_a_secret_index_url_stays_out_of_results_messages_and_command_lines(run, site, monkeypatch):
    # uv is already there; the index cannot be reached (uv offline), so the build fails on it.
    uv = site / "uv" / UV_VERSION / "bin" / "uv"
    uv.parent.mkdir(parents=True)
    uv.symlink_to(UV)
    monkeypatch.setenv("UV_OFFLINE", "1")
    calls = []
    real_run = common.subprocess.run

    def recording_run(argv, check=False, **kwargs):
        calls.append((argv, kwargs.get("env") or {}))
        return real_run(argv, check=check, **kwargs)

    monkeypatch.setattr(common.subprocess, "run", recording_run)
    url = "https://deploy:s3cr3t-pw@pypi.invalid/simple"
    extra = ["https://ci:t0ken-pw@extra.invalid/simple"]
    result = run(wheelhouse=None, index_url=url, extra_index_urls=extra)
    assert result["failed"] is True
    assert result["msg"].startswith("uv pip sync failed")
    text = json.dumps(result)
    assert "s3cr3t-pw" not in text and "t0ken-pw" not in text
    assert calls and not any("pw@" in arg for argv, _env in calls for arg in argv)
    sync_env = next(env for argv, env in calls if argv[1:3] == ["pip", "sync"])
    assert sync_env["UV_INDEX_URL"] == url and sync_env["UV_EXTRA_INDEX_URL"] == extra[0]


def test_require_hashes_always_refuses_requirements_without_hashes(run):
    result = run(require_hashes="always")
    assert result["failed"] is True
    assert result["msg"].startswith("require_hashes is 'always' but ") and "has no --hash entries" in result["msg"]


def test_a_wheelhouse_without_uv_fails_naming_what_to_add(run, site):
    next(site.glob("wheelhouse/uv-*.whl")).unlink()
    result = run()
    assert result["failed"] is True and result["msg"].startswith(f"no uv {UV_VERSION} wheel for ")


@pytest.mark.skipif(subprocess.run([PYTHON, "-c", "import ensurepip"], check=False).returncode, reason="no ensurepip")
def test_the_pip_installer_rebuilds_on_every_change(run, site):
    venv = site / "release" / "venv"
    first = run(installer="pip", compile_bytecode=False)
    assert (first["changed"], first["action"]) == (True, "create")
    assert imports(venv, "import tinypkg") and (venv / "bin" / "pip").exists()
    assert not (site / "uv").exists()
    assert json.loads((venv / ".pyops-venv.json").read_text())["installer"] == "pip"
    assert run(installer="pip", compile_bytecode=False)["changed"] is False
    (venv / "sentinel").write_text("gone")
    (site / "release" / "requirements.txt").write_text("tinypkg==1.0\notherpkg==1.0\n")
    second = run(installer="pip", compile_bytecode=False)
    assert second["action"] == "sync"
    assert imports(venv, "import tinypkg, otherpkg") and not (venv / "sentinel").exists()


def test_requirements_that_are_not_a_complete_lock_are_refused_naming_how_to_lock(run, site):
    requirements = site / "release" / "requirements.txt"
    requirements.write_text("needsdep==1.0\n")  # its dependency tinypkg is not listed
    venv = site / "release" / "venv"
    result = run()
    assert result["failed"] is True
    assert f"{requirements} must be a complete lock" in result["msg"]
    assert "uv pip compile --generate-hashes" in result["msg"]
    assert "tinypkg" in result["msg"]  # uv pip check names the missing dependency
    assert not (venv / ".pyops-venv.json").exists(), "a venv missing dependencies was taken for built"
    assert run()["failed"] is True, "the next run checked again"
    requirements.write_text("needsdep==1.0\ntinypkg==1.0\n")
    assert run()["action"] == "create"  # built afresh: the refused build left no marker
    assert imports(venv, "import needsdep")
    assert run()["changed"] is False


def test_extra_packages_are_installed_with_their_dependencies(run, site):
    (site / "release" / "requirements.txt").write_text("otherpkg==1.0\n")
    result = run(packages=["needsdep==1.0"])
    assert result["changed"] is True
    assert imports(site / "release" / "venv", "import needsdep, otherpkg")


def test_files_linked_from_a_cache_made_under_a_hardened_umask_are_readable_by_all(run, site):
    run(link_mode="hardlink")
    # A cache filled before the build set its umask, under umask 0027: its files 0640, its dirs 0750.
    for path in (site / "cache").rglob("*"):
        if not path.is_symlink():
            path.chmod(stat.S_IMODE(path.stat().st_mode) & ~0o027)
    venv = site / "next" / "venv"
    assert run(path=str(venv), link_mode="hardlink")["changed"] is True
    linked = next((venv / "lib").glob("python3*/site-packages/tinypkg/__init__.py"))
    assert linked.stat().st_nlink > 1
    for path in [venv, *venv.rglob("*")]:
        st = os.lstat(path)
        if stat.S_ISLNK(st.st_mode):
            continue
        wanted = 0o055 if stat.S_ISDIR(st.st_mode) else 0o044
        assert st.st_mode & wanted == wanted, (path, oct(st.st_mode))
        assert st.st_mode & 0o022 == 0, (path, oct(st.st_mode))


def test_a_requires_python_given_as_text_is_checked_with_no_file_read(run, site):
    have = subprocess.check_output([PYTHON, "-c", "import platform; print(platform.python_version())"], text=True)
    major, minor = have.strip().split(".")[:2]
    newer = f">={major}.{int(minor) + 1}"
    before = tree(site)
    for check in (True, False):
        result = run(check=check, requires_python=newer)
        assert result["failed"] is True
        assert result["msg"].startswith(f"release needs Python {newer}, host {platform.node()} has "), result["msg"]
        assert tree(site) == before, "a refused release changed the disk (uv, the cache or the venv)"
    assert run(check=True, requires_python=f">={major}.{minor}")["action"] == "create"
    refused = run(check=True, requires_python="$(reboot)")
    assert refused["failed"] is True and "is not a version specifier" in refused["msg"]


def test_a_release_for_a_newer_python_is_refused_before_anything_is_built(run, site):
    pyproject = site / "release" / "pyproject.toml"
    have = subprocess.check_output([PYTHON, "-c", "import platform; print(platform.python_version())"], text=True)
    have = have.strip().split(".")
    newer = f"{have[0]}.{int(have[1]) + 1}"
    pyproject.write_text(f'[project]\nname = "app"\nrequires-python = ">={newer}"\n')
    before = tree(site)
    for check in (True, False):
        result = run(check=check, pyproject=str(pyproject))
        assert result["failed"] is True
        assert result["msg"].startswith(f"release needs Python >={newer}, host {platform.node()} has "), result["msg"]
        assert f"requires-python in {pyproject}" in result["msg"]
        assert tree(site) == before, "a refused release changed the disk (uv, the cache or the venv)"

    pyproject.write_text(f'[project]\nname = "app"\nrequires-python = ">={have[0]}.{have[1]}"\n')
    assert run(check=True, pyproject=str(pyproject))["action"] == "create"
    assert run(pyproject=str(pyproject))["action"] == "create"
    assert run(check=True, pyproject=str(pyproject))["changed"] is False
    assert run(pyproject=str(pyproject))["changed"] is False


@pytest.fixture
def index(site):
    """A PEP 503 simple index of the site's wheelhouse over HTTP, its pages expired as soon as served:
    yields (url, stop)."""
    import functools
    import http.server
    import threading

    root = site / "index"
    for wheel in (site / "wheelhouse").glob("*-py3-none-any.whl"):
        digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
        project = root / "simple" / wheel.name.split("-")[0]
        project.mkdir(parents=True)
        shutil.copy(wheel, root / wheel.name)
        (project / "index.html").write_text(f'<a href="../../{wheel.name}#sha256={digest}">{wheel.name}</a>\n')

    class Expired(http.server.SimpleHTTPRequestHandler):
        """Pages that uv must ask for again at once (PyPI's expire after 10 minutes)."""

        def end_headers(self):
            self.send_header("Cache-Control", "max-age=0, must-revalidate")
            super().end_headers()

        def log_message(self, *args):
            pass

    handler = functools.partial(Expired, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def stop():
        server.shutdown()
        server.server_close()

    yield f"http://127.0.0.1:{server.server_address[1]}/simple", stop
    if thread.is_alive():
        stop()


def test_an_unchanged_hash_pinned_lock_builds_a_new_venv_from_the_cache_with_the_index_down(run, site, index):
    url, stop = index
    wheel = site / "wheelhouse" / "tinypkg-1.0-py3-none-any.whl"
    requirements = site / "release" / "requirements.txt"
    requirements.write_text(f"tinypkg==1.0 --hash=sha256:{hashlib.sha256(wheel.read_bytes()).digest().hex()}\n")
    uv = site / "uv" / UV_VERSION / "bin" / "uv"  # the one the module would install, from this machine's
    uv.parent.mkdir(parents=True)
    uv.write_text(f'#!/bin/sh\nexec {UV} "$@"\n')
    uv.chmod(0o755)
    online = run(wheelhouse=None, index_url=url, path=str(site / "r1" / "venv"))
    assert online["action"] == "create", online
    stop()  # the index is down; the next release has the same lock
    offline = run(wheelhouse=None, index_url=url, path=str(site / "r2" / "venv"))
    assert offline.get("action") == "create", offline.get("msg")
    assert "uv pip sync (offline)" in offline["seconds"]
    assert imports(site / "r2" / "venv", "import tinypkg")
    # A lock the cache cannot serve still goes to the index, and says what failed there.
    requirements.write_text(requirements.read_text() + "otherpkg==1.0 --hash=sha256:" + "0" * 64 + "\n")
    refused = run(wheelhouse=None, index_url=url, path=str(site / "r3" / "venv"))
    assert refused["failed"] is True and refused["msg"].startswith("uv pip sync failed"), refused["msg"]
    assert "--offline" not in refused["msg"]
