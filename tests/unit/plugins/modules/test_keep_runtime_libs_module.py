# -*- coding: utf-8 -*-  # noqa: UP009
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Drive ``pyops.deploy.keep_runtime_libs`` through AnsibleModule: the real ldd on copies of this
machine's interpreter and C extensions, dpkg -S and apt-mark stubbed (nothing is marked here)."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import sysconfig

import pytest
from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pyops.deploy.plugins.modules import keep_runtime_libs
from ansible_collections.pyops.deploy.tests.unit.plugins.modules.test_release_module import run_module

# Owners by file name; the fake dpkg knows them only under /usr/lib (Debian 13's layout), so a library
# ldd resolves under /lib is found through its usrmerge variant.
OWNERS = {"libc.so.6": "libc6", "libm.so.6": "libc6", "libffi.so.8": "libffi8"}

pytestmark = pytest.mark.skipif(
    shutil.which("ldd") is None or not sys.platform.startswith("linux"), reason="needs glibc's ldd"
)


@pytest.fixture
def prefix(tmp_path):
    """A prefix with a copy of this interpreter and of the _ctypes extension (which links libffi)."""
    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    (tmp_path / "bin").mkdir()
    shutil.copy2(os.path.realpath(sys.executable), tmp_path / "bin" / f"python{version}")
    os.symlink(f"python{version}", tmp_path / "bin" / "python3")
    dynload = tmp_path / "lib" / f"python{version}" / "lib-dynload"
    dynload.mkdir(parents=True)
    for extension in glob.glob(os.path.join(sysconfig.get_path("platstdlib"), "lib-dynload", "_ctypes.*.so")):
        shutil.copy2(extension, dynload)
    return tmp_path


@pytest.fixture
def host(monkeypatch):
    state = {"automatic": {"libffi8", "libc6", "unrelated"}, "calls": []}

    def run_command(module, argv, **kwargs):
        state["calls"].append(list(argv))
        assert kwargs.get("environ_update") == {"LC_ALL": "C"}
        if argv[0] == "ldd":
            done = subprocess.run(argv, capture_output=True, text=True, check=False)
            return done.returncode, done.stdout, done.stderr
        if argv[:2] == ["dpkg", "-S"]:
            lines = [
                f"{OWNERS[os.path.basename(path)]}:amd64: {path}\n"
                for path in argv[2:]
                if path.startswith("/usr/lib/") and os.path.basename(path) in OWNERS
            ]
            return 1, "".join(lines), ""
        if argv == ["apt-mark", "showauto"]:
            return 0, "".join(f"{name}\n" for name in sorted(state["automatic"])), ""
        if argv[:2] == ["apt-mark", "manual"]:
            state["automatic"] -= set(argv[2:])
            return 0, "", ""
        raise AssertionError(argv)

    monkeypatch.setattr(AnsibleModule, "run_command", run_command)
    return state


def test_four_steps_mark_the_automatic_owners_once(capsys, prefix, host):
    args = {"prefix": str(prefix)}
    first_check = run_module(keep_runtime_libs, capsys, args, check=True)
    assert first_check["changed"] is True
    assert "libc6" in first_check["marked"]
    assert "unrelated" not in first_check["marked"]
    assert any(os.path.basename(lib) == "libc.so.6" for lib in first_check["libraries"])
    assert host["automatic"] >= {"libc6", "unrelated"}
    assert not [call for call in host["calls"] if call[:2] == ["apt-mark", "manual"]]

    first_run = run_module(keep_runtime_libs, capsys, args)
    assert first_run["changed"] is True
    assert first_run["marked"] == first_check["marked"]
    assert host["automatic"] == {"unrelated"} | ({"libffi8"} - set(first_run["marked"]))

    for check in (True, False):
        again = run_module(keep_runtime_libs, capsys, args, check=check)
        assert again["changed"] is False and again["marked"] == [], again
        assert again["packages"] == first_run["packages"]


def test_symlinks_are_not_inspected(capsys, prefix, host):
    run_module(keep_runtime_libs, capsys, {"prefix": str(prefix)}, check=True)
    ldd_args = [path for call in host["calls"] if call[0] == "ldd" for path in call[1:]]
    assert str(prefix / "bin" / "python3") not in ldd_args
    assert any(path.endswith(f"bin/python{sys.version_info[0]}.{sys.version_info[1]}") for path in ldd_args)


def test_a_missing_prefix_marks_nothing(capsys, tmp_path, host):
    result = run_module(keep_runtime_libs, capsys, {"prefix": str(tmp_path / "none")})
    assert result["changed"] is False and result["marked"] == [] and result["libraries"] == []
