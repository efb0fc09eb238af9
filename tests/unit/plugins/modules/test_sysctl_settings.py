# -*- coding: utf-8 -*-  # noqa: UP009
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Drive ``pyops.deploy.sysctl_settings`` through AnsibleModule against a fake /proc/sys in tmp."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ansible_collections.pyops.deploy.plugins.module_utils import _sysctl_settings as sysctl
from ansible_collections.pyops.deploy.plugins.modules import sysctl_settings
from ansible_collections.pyops.deploy.tests.unit.plugins.modules.test_release_module import run_module

# key -> (content of its file, mode). 0444 stands for a key the kernel does not let root write:
# /proc/sys grants root only a file's owner bits.
FAKE_KEYS = {
    "kernel.kptr_restrict": ("0\n", 0o644),
    "net.ipv4.conf.all.accept_redirects": ("1\n", 0o644),
    "net.ipv4.tcp_rmem": ("4096\t131072\t6291456\n", 0o644),
    "fs.suid_dumpable": ("0\n", 0o644),
    "kernel.sysrq": ("176\n", 0o444),
}

SETTINGS = {
    "kernel.kptr_restrict": "2",
    "net.ipv4.conf.all.accept_redirects": "0",
    "net.ipv4.tcp_rmem": "4096 65536  16777216",
    "fs.suid_dumpable": "0",
    "kernel.unprivileged_bpf_disabled": "1",
}


@pytest.fixture
def proc(tmp_path):
    root = tmp_path / "sys"
    for key, (content, mode) in FAKE_KEYS.items():
        path = root.joinpath(*key.split("."))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
        path.chmod(mode)
    return root


@pytest.fixture
def run(capsys, proc):
    def run(check=False, diff=False, **args):
        args.setdefault("proc_root", str(proc))
        return run_module(sysctl_settings, capsys, args, check=check, diff=diff)

    return run


def values(proc):
    return {key: proc.joinpath(*key.split(".")).read_text() for key in FAKE_KEYS}


def test_four_steps_set_what_differs_and_report_absent_keys(run, proc):
    before = values(proc)
    first_check = run(settings=SETTINGS, check=True, diff=True)
    assert first_check["changed"] is True
    assert first_check["set"] == ["kernel.kptr_restrict", "net.ipv4.conf.all.accept_redirects", "net.ipv4.tcp_rmem"]
    assert first_check["refused"] == []
    assert first_check["absent"] == ["kernel.unprivileged_bpf_disabled"]
    assert first_check["diff"]["before"]["net.ipv4.tcp_rmem"] == "4096 131072 6291456"
    assert first_check["diff"]["after"]["net.ipv4.tcp_rmem"] == "4096 65536 16777216"
    assert "fs.suid_dumpable" not in first_check["diff"]["after"]
    assert values(proc) == before, "check mode wrote"

    first_run = run(settings=SETTINGS, diff=True)
    assert {k: first_run[k] for k in ("changed", "set", "refused", "absent")} == {
        k: first_check[k] for k in ("changed", "set", "refused", "absent")
    }
    assert first_run["diff"] == first_check["diff"]
    assert values(proc) == {
        "kernel.kptr_restrict": "2\n",
        "net.ipv4.conf.all.accept_redirects": "0\n",
        "net.ipv4.tcp_rmem": "4096 65536 16777216\n",
        "fs.suid_dumpable": "0\n",
        "kernel.sysrq": "176\n",
    }

    for check in (True, False):
        again = run(settings=SETTINGS, check=check, diff=True)
        assert again["changed"] is False, again
        assert again["set"] == again["refused"] == []
        assert again["absent"] == ["kernel.unprivileged_bpf_disabled"]
        assert again["diff"] == {"before": {}, "after": {}}


def test_refused_key_is_reported_in_a_container(run, proc):
    settings = {"kernel.sysrq": "0", "kernel.kptr_restrict": "2"}
    for check in (True, False):
        result = run(settings=settings, tolerate_refused=True, check=check)
        assert result.get("failed") is None, result
        assert result["refused"] == ["kernel.sysrq"]
        assert result["set"] == ["kernel.kptr_restrict"]
    assert values(proc)["kernel.sysrq"] == "176\n"
    assert values(proc)["kernel.kptr_restrict"] == "2\n"


def test_refused_key_fails_outside_a_container_after_applying_the_others(run, proc):
    settings = {"kernel.sysrq": "0", "kernel.kptr_restrict": "2"}
    checked = run(settings=settings, check=True)
    assert checked["failed"] is True
    assert "kernel.sysrq" in checked["msg"] and "check mode" in checked["msg"]
    assert values(proc)["kernel.kptr_restrict"] == "0\n"

    result = run(settings=settings)
    assert result["failed"] is True
    assert result["msg"] == "The kernel refused kernel.sysrq"
    assert result["refused"] == ["kernel.sysrq"]
    assert result["set"] == ["kernel.kptr_restrict"]
    assert values(proc)["kernel.kptr_restrict"] == "2\n"


def test_a_value_the_kernel_rejects_is_refused(run, proc, monkeypatch):
    real_write = os.write

    def rejecting_write(fd, data):
        if data == b"-5\n":
            raise OSError(22, "Invalid argument")
        return real_write(fd, data)

    monkeypatch.setattr(sysctl.os, "write", rejecting_write)
    result = run(settings={"kernel.kptr_restrict": "-5"}, tolerate_refused=True)
    assert result["refused"] == ["kernel.kptr_restrict"]
    assert result["changed"] is False


def test_a_read_only_mount_refuses_every_key(run, proc, monkeypatch):
    monkeypatch.setattr(sysctl.os, "access", lambda path, mode: False)
    result = run(settings={"kernel.kptr_restrict": "2"}, tolerate_refused=True)
    assert result["refused"] == ["kernel.kptr_restrict"]
    assert values(proc)["kernel.kptr_restrict"] == "0\n"


def test_empty_values_and_matching_values_leave_keys_alone(run, proc):
    result = run(settings={"kernel.kptr_restrict": "", "fs.suid_dumpable": 0, "kernel.sysrq": None})
    assert result["changed"] is False
    assert result["set"] == result["refused"] == result["absent"] == []


@pytest.mark.parametrize("key", ["kernel..sysrq", "../etc/passwd", "kernel.sys/rq", ".kernel"])
def test_malformed_keys_fail(run, key):
    result = run(settings={key: "1"})
    assert result["failed"] is True
    assert "not a kernel setting name" in result["msg"]


def test_real_proc_sys_is_read_without_changes(run):
    # kernel.osrelease is 0444 for everyone; reading it back unchanged needs no write.
    release = Path("/proc/sys/kernel/osrelease").read_text().strip()
    result = run(settings={"kernel.osrelease": release}, proc_root="/proc/sys", check=True)
    assert result["changed"] is False and result["refused"] == []
    refused = run(settings={"kernel.osrelease": "0.0"}, proc_root="/proc/sys", check=True, tolerate_refused=True)
    assert refused["refused"] == ["kernel.osrelease"]


def test_normalise():
    assert sysctl.normalise("4096\t65536  16777216\n") == "4096 65536 16777216"
    assert sysctl.normalise(True) == "1"
    assert sysctl.normalise(2) == "2"
