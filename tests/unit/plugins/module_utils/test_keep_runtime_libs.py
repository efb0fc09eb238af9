# -*- coding: utf-8 -*-  # noqa: UP009
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The parsing and lookups behind ``pyops.deploy.keep_runtime_libs``, on ldd and dpkg output samples."""

from __future__ import annotations

import os
import re

import pytest

from ansible_collections.pyops.deploy.plugins.module_utils._keep_runtime_libs import (
    RuntimeLibs,
    RuntimeLibsError,
    interpreter_files,
    parse_dpkg_search,
    parse_ldd,
    path_variants,
)

# ldd on several files at once (Debian 12, CPython 3.11 built into /opt/python/3.11).
LDD_SAMPLE = """\
/opt/python/3.11/bin/python3.11:
\tlinux-vdso.so.1 (0x00007ffc6b5f2000)
\tlibm.so.6 => /lib/x86_64-linux-gnu/libm.so.6 (0x00007f3c1a2e1000)
\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f3c1a100000)
\t/lib64/ld-linux-x86-64.so.2 (0x00007f3c1a3e9000)
/opt/python/3.11/bin/python3.11-config:
\tnot a dynamic executable
/opt/python/3.11/lib/python3.11/lib-dynload/_ssl.cpython-311-x86_64-linux-gnu.so:
\tlinux-vdso.so.1 (0x00007ffe0e9d4000)
\tlibssl.so.3 => /lib/x86_64-linux-gnu/libssl.so.3 (0x00007f0b7e6a8000)
\tlibcrypto.so.3 => /lib/x86_64-linux-gnu/libcrypto.so.3 (0x00007f0b7e200000)
\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f0b7e01e000)
\tlibgone.so.1 => not found
\t/lib64/ld-linux-x86-64.so.2 (0x00007f0b7e7a0000)
/opt/python/3.11/lib/python3.11/lib-dynload/_sqlite3.cpython-311-x86_64-linux-gnu.so:
\tlibsqlite3.so.0 => /usr/lib/x86_64-linux-gnu/libsqlite3.so.0 (0x00007f55c3f00000)
"""

DPKG_SAMPLE = """\
libc6:amd64: /lib/x86_64-linux-gnu/libm.so.6
diversion by dash from: /bin/sh
diversion by dash to: /bin/sh.distrib
dash: /bin/sh
libssl3:amd64, libssl3:i386: /usr/lib/x86_64-linux-gnu/libssl.so.3
"""


def test_parse_ldd_keeps_resolved_paths_once_in_order():
    assert parse_ldd(LDD_SAMPLE) == [
        "/lib/x86_64-linux-gnu/libm.so.6",
        "/lib/x86_64-linux-gnu/libc.so.6",
        "/lib/x86_64-linux-gnu/libssl.so.3",
        "/lib/x86_64-linux-gnu/libcrypto.so.3",
        "/usr/lib/x86_64-linux-gnu/libsqlite3.so.0",
    ]


def test_parse_ldd_of_a_static_file_or_nothing():
    assert parse_ldd("\tnot a dynamic executable\n") == []
    assert parse_ldd("\tstatically linked\n") == []
    assert parse_ldd("") == []


def test_parse_dpkg_search_drops_architectures_and_diversions():
    assert parse_dpkg_search(DPKG_SAMPLE) == {
        "/lib/x86_64-linux-gnu/libm.so.6": ["libc6"],
        "/bin/sh": ["dash"],
        "/usr/lib/x86_64-linux-gnu/libssl.so.3": ["libssl3"],
    }


def test_path_variants_cover_usrmerge_and_the_real_name():
    real = {"/lib/x86_64-linux-gnu/libffi.so.8": "/usr/lib/x86_64-linux-gnu/libffi.so.8.1.2"}

    def realpath(path):
        return real.get(path, path)

    assert path_variants("/lib/x86_64-linux-gnu/libffi.so.8", realpath) == [
        "/lib/x86_64-linux-gnu/libffi.so.8",
        "/usr/lib/x86_64-linux-gnu/libffi.so.8",
        "/usr/lib/x86_64-linux-gnu/libffi.so.8.1.2",
        "/lib/x86_64-linux-gnu/libffi.so.8.1.2",
    ]
    assert path_variants("/usr/lib/x86_64-linux-gnu/libz.so.1", realpath) == [
        "/usr/lib/x86_64-linux-gnu/libz.so.1",
        "/usr/usr/lib/x86_64-linux-gnu/libz.so.1",
        "/lib/x86_64-linux-gnu/libz.so.1",
    ]


def test_interpreter_files_are_regular_python3_and_so_files_under_bin_and_lib(tmp_path):
    for name in (
        "bin/python3.11",
        "bin/python3.11-config",
        "bin/pip3.11",
        "lib/libpython3.11.a",
        "lib/python3.11/lib-dynload/_ssl.cpython-311-x86_64-linux-gnu.so",
        "lib/python3.11/site-packages/x/_speedups.so",
        "include/python3.11/foo.so",
    ):
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("")
    os.symlink("python3.11", tmp_path / "bin/python3")
    os.symlink("python3.11", tmp_path / "bin/python3.link")
    assert interpreter_files(str(tmp_path)) == [
        str(tmp_path / "bin/python3.11"),
        str(tmp_path / "bin/python3.11-config"),
        str(tmp_path / "lib/python3.11/lib-dynload/_ssl.cpython-311-x86_64-linux-gnu.so"),
        str(tmp_path / "lib/python3.11/site-packages/x/_speedups.so"),
    ]
    assert interpreter_files(str(tmp_path / "missing")) == []


class FakeHost:
    """ldd answers with LDD_SAMPLE, dpkg -S from a file list, apt-mark from a set of automatic packages."""

    def __init__(self, files, automatic, dpkg_rc=None, mark_rc=0):
        self.files = files
        self.automatic = set(automatic)
        self.dpkg_rc = dpkg_rc
        self.mark_rc = mark_rc
        self.calls = []

    def __call__(self, argv):
        self.calls.append(argv)
        if argv[0] == "ldd":
            return 1, LDD_SAMPLE, ""
        if argv[:2] == ["dpkg", "-S"]:
            found = [f"{self.files[path]}:amd64: {path}" for path in argv[2:] if path in self.files]
            rc = self.dpkg_rc if self.dpkg_rc is not None else (0 if len(found) == len(argv) - 2 else 1)
            return rc, "".join(line + "\n" for line in found), "dpkg-query: error\n" if rc > 1 else ""
        if argv == ["apt-mark", "showauto"]:
            return 0, "".join(package + "\n" for package in sorted(self.automatic)), ""
        if argv[:2] == ["apt-mark", "manual"]:
            if self.mark_rc == 0:
                self.automatic -= set(argv[2:])
            return self.mark_rc, "", "E: cannot lock\n" if self.mark_rc else ""
        raise AssertionError(argv)


# Debian 13 style: dpkg knows libc under /usr/lib only, libssl under /lib (the link name), libsqlite nowhere.
FILES = {
    "/usr/lib/x86_64-linux-gnu/libm.so.6": "libc6",
    "/usr/lib/x86_64-linux-gnu/libc.so.6": "libc6",
    "/lib/x86_64-linux-gnu/libssl.so.3": "libssl3t64",
    "/lib/x86_64-linux-gnu/libcrypto.so.3": "libssl3t64",
}


def keep(host, check_mode=False):
    return RuntimeLibs(host, realpath=lambda path: path).keep("/nonexistent", check_mode=check_mode)


def test_keep_marks_only_automatic_owners_and_is_idempotent(monkeypatch):
    monkeypatch.setattr(
        "ansible_collections.pyops.deploy.plugins.module_utils._keep_runtime_libs.interpreter_files",
        lambda prefix: ["/opt/python/3.11/bin/python3.11"],
    )
    host = FakeHost(FILES, automatic={"libssl3t64", "libc6", "unrelated"})
    checked = keep(host, check_mode=True)
    assert checked["marked"] == ["libc6", "libssl3t64"] and checked["changed"] is True
    assert checked["packages"] == ["libc6", "libssl3t64"]
    assert host.automatic == {"libssl3t64", "libc6", "unrelated"}
    assert not [call for call in host.calls if call[:2] == ["apt-mark", "manual"]]

    done = keep(host)
    assert done["marked"] == ["libc6", "libssl3t64"] and done["changed"] is True
    assert ["apt-mark", "manual", "libc6", "libssl3t64"] in host.calls
    assert host.automatic == {"unrelated"}

    for check_mode in (True, False):
        again = keep(host, check_mode=check_mode)
        assert again["marked"] == [] and again["changed"] is False


def test_one_dpkg_call_for_every_variant(monkeypatch):
    monkeypatch.setattr(
        "ansible_collections.pyops.deploy.plugins.module_utils._keep_runtime_libs.interpreter_files",
        lambda prefix: ["/x/bin/python3.11"],
    )
    host = FakeHost(FILES, automatic=set())
    keep(host)
    dpkg_calls = [call for call in host.calls if call[0] == "dpkg"]
    assert len(dpkg_calls) == 1
    assert "/usr/lib/x86_64-linux-gnu/libm.so.6" in dpkg_calls[0]
    assert len(dpkg_calls[0]) == len(set(dpkg_calls[0]))


def test_no_files_no_commands_but_showauto(tmp_path):
    host = FakeHost(FILES, automatic={"libc6"})
    result = RuntimeLibs(host).keep(str(tmp_path))
    assert result == {"changed": False, "marked": [], "packages": [], "libraries": []}
    assert host.calls == [["apt-mark", "showauto"]]


@pytest.mark.parametrize(
    ("dpkg_rc", "mark_rc", "message"),
    [(2, 0, "dpkg -S failed (exit 2): dpkg-query: error"), (None, 100, "apt-mark manual libc6 failed")],
)
def test_command_failures_raise(monkeypatch, dpkg_rc, mark_rc, message):
    monkeypatch.setattr(
        "ansible_collections.pyops.deploy.plugins.module_utils._keep_runtime_libs.interpreter_files",
        lambda prefix: ["/x/bin/python3.11"],
    )
    host = FakeHost(FILES, automatic={"libc6"}, dpkg_rc=dpkg_rc, mark_rc=mark_rc)
    with pytest.raises(RuntimeLibsError, match=re.escape(message)):
        keep(host)
