# -*- coding: utf-8 -*-  # noqa: UP009
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""``release_info`` and ``running_release`` (``_release.info``)."""

from __future__ import annotations

import os
import shutil

import pytest

from ansible_collections.pyops.deploy.plugins.module_utils._release import audit as audit_module
from ansible_collections.pyops.deploy.plugins.module_utils._release.info import (
    parse_systemctl_show,
    release_info,
    running_release,
)
from ansible_collections.pyops.deploy.plugins.module_utils._release.layout import AUDIT_FILE
from ansible_collections.pyops.deploy.tests.unit.plugins.module_utils._release.helpers import deploy, tree


def test_info_on_a_missing_root(root):
    info = release_info(str(root))
    assert info == {
        "exists": False,
        "current": None,
        "previous_good": None,
        "releases": [],
        "prepared_not_serving": [],
        "serving": None,
        "lock": None,
        "last_deploys": [],
        "directories": {"releases": None, "shared": None},
        "changed": False,
    }


def test_info_reports_the_directories_a_caller_may_have_to_fix(make, root, clock):
    deploy(make, clock, "r1")
    os.chmod(root / "releases", 0o750)
    (root / "shared").rmdir()
    (root / "shared").symlink_to(root / "releases")

    directories = release_info(str(root), clock=clock)["directories"]

    assert directories["releases"] == {
        "path": str(root / "releases"),
        "is_dir": True,
        "mode": "0750",
        "uid": os.getuid(),
        "gid": os.getgid(),
    }
    # A symlink is reported as one, not as the directory it points at.
    assert directories["shared"]["is_dir"] is False
    (root / "shared").unlink()
    assert release_info(str(root), clock=clock)["directories"]["shared"] is None


def test_info_reports_everything_and_changes_nothing(make, root, clock):
    deploy(make, clock, "r1", "r2", "r3")
    make().mark("r1", "good")
    make(lock_owner="alice").lock(pid=99)
    with open(root / AUDIT_FILE, "a") as handle:
        handle.write("{torn\n")
    before = tree(root)
    clock.advance(10)

    info = release_info(str(root), history=2, clock=clock, hostname="web1", alive=lambda pid: False)

    assert tree(root) == before
    assert info["exists"] is True
    assert info["current"] == "r3"
    assert info["previous_good"] == "r2"
    assert [r["is_current"] for r in info["releases"]] == [False, False, True]
    assert info["lock"]["owner"] == "alice"
    assert info["lock"]["stale"] is True
    assert info["lock"]["stale_reason"] == "process 99 on web1 is gone"
    assert [e["action"] for e in info["last_deploys"]] == ["marked", "locked"]
    assert release_info(str(root), history=0)["last_deploys"] == []


def test_previous_good_with_a_dangling_current(make, root, clock):
    deploy(make, clock, "r1", "r2")
    shutil.rmtree(root / "releases" / "r2")
    info = release_info(str(root), clock=clock)
    assert info["current"] == "r2"
    assert info["previous_good"] == "r1"
    assert make().rollback()["current"] == "r1"


def test_systemctl_show_is_parsed():
    assert parse_systemctl_show("MainPID=42\nExecMainStartTimestampMonotonic=5000000\n") == (42, 5.0)
    assert parse_systemctl_show("MainPID=0\nExecMainStartTimestampMonotonic=0\n") == (0, 0.0)
    assert parse_systemctl_show("MainPID=\n") == (0, 0.0)
    assert parse_systemctl_show("garbage") == (0, 0.0)


def _current_changed_at(root, epoch):
    os.utime(root / "current", (epoch, epoch), follow_symlinks=False)


def test_a_server_started_after_the_switch_runs_current(make, root, clock):
    deploy(make, clock, "r1", "r2")
    _current_changed_at(root, 1000)

    # Started at 1010 by the wall clock: now 1100, monotonic now 500, started at monotonic 410.
    assert running_release(str(root), 42, 410, 1100, 500) == "r2"


def test_a_server_started_before_the_switch_may_run_an_older_release(make, root, clock):
    deploy(make, clock, "r1", "r2")
    _current_changed_at(root, 1050)

    assert running_release(str(root), 42, 410, 1100, 500) is None


def test_a_stopped_server_or_a_missing_current_runs_nothing(make, root, clock):
    root.mkdir()
    assert running_release(str(root), 42, 410, 1100, 500) is None
    deploy(make, clock, "r1")
    assert running_release(str(root), 0, 0, 1100, 500) is None


def test_info_shows_the_lock_of_a_run(make, root, clock):
    deploy(make, clock, "r1")
    make(lock_owner="alice@ctl", run_id="run-a").lock()
    clock.advance(120)
    make(lock_owner="alice@ctl", run_id="run-a").prepare("r2")
    clock.advance(1000)

    lock = release_info(str(root), lock_ttl=900, clock=clock, hostname="web1")["lock"]

    assert lock == {
        "owner": "alice@ctl",
        "run_id": "run-a",
        "host": "web1",
        "pid": None,
        "time": "2024-05-01T08:01:00Z",
        "heartbeat": "2024-05-01T08:03:00Z",
        "stale": True,
        "stale_reason": "not seen for more than lock_ttl (900s)",
    }


def test_info_lists_releases_prepared_after_current_that_never_served(make, root, clock):
    deploy(make, clock, "r1", "r2")
    make().prepare("r3")
    make().mark("r3", "failed")
    make().prepare("r4")

    info = release_info(str(root), clock=clock)

    assert info["prepared_not_serving"] == ["r3", "r4"]
    assert info["serving"] is None
    assert [r["served"] for r in info["releases"]] == [True, True, False, False]


def test_history_zero_reads_no_audit_log(make, root, clock, monkeypatch):
    deploy(make, clock, "r1")

    def no_reading(*args, **kwargs):
        raise AssertionError("the audit log was opened")

    monkeypatch.setattr(audit_module, "open", no_reading, raising=False)

    assert release_info(str(root), history=0, clock=clock)["last_deploys"] == []
    with pytest.raises(AssertionError, match="audit log was opened"):
        release_info(str(root), history=1, clock=clock)
