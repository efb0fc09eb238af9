# -*- coding: utf-8 -*-  # noqa: UP009
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Drive ``pyops.deploy.file_modes`` through AnsibleModule on files in tmp."""

from __future__ import annotations

import grp
import os
import stat

import pytest

from ansible_collections.pyops.deploy.plugins.modules import file_modes
from ansible_collections.pyops.deploy.tests.unit.plugins.modules.test_release_module import run_module

ME = os.getuid()
MY_GROUP = os.getgid()


@pytest.fixture
def tree(tmp_path):
    (tmp_path / "passwd").write_text("root:x:0:0::/root:/bin/sh\n")
    (tmp_path / "passwd").chmod(0o666)
    (tmp_path / "crontab").write_text("# m h dom mon dow user command\n")
    (tmp_path / "crontab").chmod(0o644)
    (tmp_path / "cron.d").mkdir()
    (tmp_path / "cron.d").chmod(0o755)
    (tmp_path / "outside").write_text("not ours\n")
    (tmp_path / "outside").chmod(0o644)
    (tmp_path / "linked").symlink_to(tmp_path / "outside")
    return tmp_path


@pytest.fixture
def run(capsys):
    def run(check=False, diff=False, **args):
        return run_module(file_modes, capsys, args, check=check, diff=diff)

    return run


def modes(tree):
    return {
        path.name: (stat.S_IMODE(os.lstat(path).st_mode), os.lstat(path).st_uid, os.lstat(path).st_gid)
        for path in tree.iterdir()
    }


def entries(tree):
    owner = {"owner": str(ME), "group": str(MY_GROUP)}
    return [
        {"path": str(tree / "passwd"), "mode": "0644", **owner},
        {"path": str(tree / "crontab"), "mode": "0600", **owner},
        {"path": str(tree / "cron.d"), "mode": "0700", **owner},
        {"path": str(tree / "grub.cfg"), "mode": "0400", **owner},
        {"path": str(tree / "linked"), "mode": "0600", **owner},
    ]


def test_four_steps_change_what_differs_and_leave_absent_paths_and_links_alone(run, tree):
    before = modes(tree)
    first_check = run(files=entries(tree), check=True, diff=True)
    assert first_check["changed"] is True
    assert first_check["changed_paths"] == [str(tree / "passwd"), str(tree / "crontab"), str(tree / "cron.d")]
    assert first_check["absent"] == [str(tree / "grub.cfg")]
    assert first_check["symlinks"] == [str(tree / "linked")]
    assert first_check["diff"]["before"][str(tree / "passwd")] == f"{ME}:{MY_GROUP} 0666"
    assert first_check["diff"]["after"][str(tree / "passwd")] == f"{ME}:{MY_GROUP} 0644"
    assert modes(tree) == before, "check mode changed something"

    first_run = run(files=entries(tree), diff=True)
    for key in ("changed", "changed_paths", "absent", "symlinks", "diff"):
        assert first_run[key] == first_check[key], key
    now = modes(tree)
    assert now["passwd"][0] == 0o644
    assert now["crontab"][0] == 0o600
    assert now["cron.d"][0] == 0o700
    # The link's target is not ours: never followed.
    assert now["outside"] == before["outside"]
    assert not (tree / "grub.cfg").exists()

    for check in (True, False):
        again = run(files=entries(tree), check=check, diff=True)
        assert again["changed"] is False, again
        assert again["changed_paths"] == []
        assert again["absent"] == [str(tree / "grub.cfg")]
        assert again["diff"] == {"before": {}, "after": {}}
    assert modes(tree) == now


@pytest.mark.skipif(os.getuid() != 0, reason="changing a file's owner needs root")
def test_owner_and_group_are_set_and_setgid_survives_the_chown(run, tree):
    path = tree / "crontab"
    os.chown(path, 65534, 65534)
    group = grp.getgrgid(0).gr_name
    result = run(files=[{"path": str(path), "mode": "2750", "owner": "root", "group": group}])
    assert result["changed_paths"] == [str(path)]
    info = os.lstat(path)
    assert (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (0, 0, 0o2750)
    assert run(files=[{"path": str(path), "mode": "2750", "owner": "root", "group": group}])["changed"] is False


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"mode": "rw-r--r--"}, "is not an octal mode"),
        ({"mode": "0644", "group": "no-such-group-pyops"}, "group 'no-such-group-pyops' does not exist"),
        ({"mode": "0644", "owner": "no-such-user-pyops"}, "owner 'no-such-user-pyops' does not exist"),
        ({"mode": "0644", "path": "relative/path"}, "is not an absolute path"),
    ],
)
def test_bad_entries_fail_and_change_nothing(run, tree, entry, message):
    before = modes(tree)
    result = run(files=[{"path": str(tree / "passwd"), **entry}])
    assert result["failed"] is True
    assert message in result["msg"]
    assert modes(tree) == before


def test_a_path_swapped_for_a_link_after_the_check_is_refused(tree, monkeypatch):
    from ansible_collections.pyops.deploy.plugins.module_utils import _file_modes

    real_lstat = os.lstat
    target = tree / "passwd"

    def lstat_then_swap(path, *args, **kwargs):
        info = real_lstat(path, *args, **kwargs)
        if str(path) == str(target):
            target.unlink()
            target.symlink_to(tree / "outside")
        return info

    monkeypatch.setattr(_file_modes.os, "lstat", lstat_then_swap)
    with pytest.raises(_file_modes.FileModesError, match="without following links"):
        _file_modes.apply_modes([{"path": str(target), "mode": "0600", "owner": str(ME), "group": str(MY_GROUP)}])
    assert stat.S_IMODE(os.lstat(tree / "outside").st_mode) == 0o644
