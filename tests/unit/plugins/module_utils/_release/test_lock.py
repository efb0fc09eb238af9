# -*- coding: utf-8 -*-  # noqa: UP009
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The deploy lock (``_release.lock``) and the lock handling of ``ReleaseManager``."""

from __future__ import annotations

import json
import os

import pytest

from ansible_collections.pyops.deploy.plugins.module_utils._release import manager as manager_module
from ansible_collections.pyops.deploy.plugins.module_utils._release.layout import LOCK_FILE, ReleaseError
from ansible_collections.pyops.deploy.plugins.module_utils._release.lock import (
    create_lock_file,
    pid_alive,
    refresh_heartbeat,
    take_over_lock,
)
from ansible_collections.pyops.deploy.tests.unit.plugins.module_utils._release.helpers import (
    START,
    audit_lines,
    deploy,
    tree,
)


def read_lock_file(root):
    return json.loads((root / LOCK_FILE).read_text())


def test_lock_writes_holder_details(make, root):
    result = make(lock_owner="alice", run_id="run-1").lock(pid=4242, host="ctl")

    assert result["changed"] is True
    assert read_lock_file(root) == {
        "owner": "alice",
        "run_id": "run-1",
        "host": "ctl",
        "pid": 4242,
        "time": "2024-05-01T08:00:00Z",
        "heartbeat": "2024-05-01T08:00:00Z",
    }
    assert result["lock"]["owner"] == "alice"
    assert result["lock"]["stale"] is False
    assert audit_lines(root)[-1]["action"] == "locked"


def test_lock_defaults_host_to_this_host(make, root):
    make(lock_owner="alice").lock()
    assert read_lock_file(root)["host"] == "web1"
    assert read_lock_file(root)["pid"] is None


def test_lock_is_reentrant_and_refreshes_only_the_heartbeat(make, root, clock):
    make(lock_owner="alice").lock(pid=1)
    before = read_lock_file(root)
    clock.advance(7200)

    result = make(lock_owner="alice").lock(pid=2)

    assert result["changed"] is False
    assert read_lock_file(root) == dict(before, heartbeat="2024-05-01T10:00:00Z")
    assert result["lock"]["heartbeat"] == "2024-05-01T10:00:00Z"
    assert result["lock"]["stale"] is False


def test_lock_held_by_another_owner_fails_naming_the_holder(make, root, clock):
    make(lock_owner="alice", run_id="run-1").lock(pid=77, host="ctl")
    before = tree(root)
    clock.advance(60)

    with pytest.raises(
        ReleaseError,
        match=r"held by alice \(run run-1, since 2024-05-01T08:00:00Z, last seen 2024-05-01T08:00:00Z, "
        r"host ctl, pid 77\)",
    ):
        make(lock_owner="bob").lock()

    assert tree(root) == before


def test_stale_lock_by_ttl_is_taken_over(make, root, clock):
    make(lock_owner="alice").lock(pid=77, host="ctl")
    clock.advance(3601)

    result = make(lock_owner="bob").lock()

    assert result["changed"] is True
    assert read_lock_file(root)["owner"] == "bob"
    assert result["stale_lock_replaced"]["owner"] == "alice"
    assert "lock_ttl" in result["stale_lock_replaced"]["stale_reason"]
    assert not [n for n in os.listdir(root) if ".stale-" in n]
    assert audit_lines(root)[-1]["details"]["stale_lock_replaced"]["owner"] == "alice"


def test_lock_ttl_is_configurable(make, root, clock):
    make(lock_owner="alice").lock()
    clock.advance(120)
    with pytest.raises(ReleaseError, match="held by alice"):
        make(lock_owner="bob").lock()
    assert make(lock_owner="bob", lock_ttl=60).lock()["changed"] is True


def test_stale_lock_by_dead_pid_on_this_host_is_taken_over(make, root, clock):
    make(lock_owner="alice").lock(pid=4242)
    clock.advance(5)

    result = make(lock_owner="bob", alive=lambda pid: pid != 4242).lock()

    assert read_lock_file(root)["owner"] == "bob"
    assert result["stale_lock_replaced"]["stale_reason"] == "process 4242 on web1 is gone"


def test_dead_pid_on_another_host_does_not_make_a_lock_stale(make, root, clock):
    make(lock_owner="alice").lock(pid=4242, host="controller")
    with pytest.raises(ReleaseError, match="held by alice"):
        make(lock_owner="bob", alive=lambda pid: False).lock()


def test_lock_without_pid_goes_stale_only_by_ttl(make, root, clock):
    make(lock_owner="alice").lock()
    with pytest.raises(ReleaseError, match="held by alice"):
        make(lock_owner="bob", alive=lambda pid: False).lock()


def test_real_pid_check_uses_os_kill():
    assert pid_alive(os.getpid()) is True
    assert pid_alive(0) is True
    assert pid_alive(2**22 + 12345) is False


def test_unreadable_lock_blocks_until_it_is_old(make, root, clock):
    root.mkdir()
    (root / LOCK_FILE).write_text("")
    os.utime(root / LOCK_FILE, (START - 60, START - 60))
    with pytest.raises(ReleaseError, match="unreadable lock file"):
        make(lock_owner="bob").lock()

    clock.advance(3600)
    assert make(lock_owner="bob").lock()["changed"] is True
    assert read_lock_file(root)["owner"] == "bob"


def test_lock_creation_race_is_reported(make, root):
    root.mkdir()
    manager = make(lock_owner="bob")
    manager._now = START
    (root / LOCK_FILE).write_text(json.dumps({"owner": "alice", "time": "2024-05-01T08:00:00Z"}))
    with pytest.raises(ReleaseError, match="just taken by alice"):
        create_lock_file(manager.layout, {"owner": "bob"})


def test_takeover_race_restores_the_new_holder(make, root):
    root.mkdir()
    fresh = {"owner": "carol", "host": "x", "pid": None, "time": "2024-05-01T08:00:00Z", "run_id": None}
    (root / LOCK_FILE).write_text(json.dumps(fresh))
    stale = dict(fresh, owner="alice")

    with pytest.raises(ReleaseError, match="changed while taking it over"):
        take_over_lock(make(lock_owner="bob").layout, stale, {"owner": "bob"})

    assert read_lock_file(root) == fresh
    assert not [n for n in os.listdir(root) if ".stale-" in n]


def test_lock_creates_a_missing_root(make, root):
    make(lock_owner="alice").lock()
    assert (root / LOCK_FILE).is_file()


def test_lock_requires_an_owner(make, root):
    with pytest.raises(ReleaseError, match="lock_owner is required"):
        make().lock()


def test_lock_check_mode_changes_nothing(make, root):
    root.mkdir()
    result = make(check_mode=True, lock_owner="alice").lock()
    assert result["changed"] is True
    assert result["lock"]["owner"] == "alice"
    assert tree(root) == {}


def test_take_lock_rolls_back_and_keeps_the_lock(make, root, clock):
    deploy(make, clock, "r1", "r2")
    make().mark("r1", "good")

    result = make(lock_owner="alice").run("rolled_back", take_lock=True)

    assert result["changed"] is True
    assert result["current"] == "r1"
    assert read_lock_file(root)["owner"] == "alice"
    assert result["lock"]["owner"] == "alice"
    assert result["actions"][0] == "take deploy lock as alice"
    assert result["diff"]["before"]["lock"] is None
    assert result["diff"]["after"] == {"current": "r1", "releases": {"r1": "good", "r2": "failed"}, "lock": "alice"}
    assert [line["action"] for line in audit_lines(root)[-2:]] == ["locked", "rolled_back"]


def test_take_lock_refuses_another_owners_live_lock_and_changes_nothing(make, root, clock):
    deploy(make, clock, "r1", "r2")
    make(lock_owner="bob").lock()
    before = tree(root)

    with pytest.raises(ReleaseError, match="held by bob"):
        make(lock_owner="alice").run("rolled_back", take_lock=True)

    assert tree(root) == before


def test_take_lock_gives_the_lock_back_when_the_change_is_refused(make, root, clock):
    deploy(make, clock, "r1")
    make().prepare("r2")

    with pytest.raises(ReleaseError, match="nothing to roll back to"):
        make(lock_owner="alice").run("rolled_back", take_lock=True)

    assert not (root / LOCK_FILE).exists()
    assert os.readlink(root / "current") == "releases/r1"


def test_take_lock_keeps_a_lock_the_owner_already_held_when_the_change_is_refused(make, root, clock):
    deploy(make, clock, "r1")
    make(lock_owner="alice").lock()

    with pytest.raises(ReleaseError, match="nothing to roll back to"):
        make(lock_owner="alice").run("rolled_back", take_lock=True)

    assert read_lock_file(root)["owner"] == "alice"


def test_take_lock_in_check_mode_reports_both_changes_and_writes_nothing(make, root, clock):
    deploy(make, clock, "r1", "r2")
    before = tree(root)

    result = make(check_mode=True, lock_owner="alice").run("rolled_back", take_lock=True)

    assert result["changed"] is True
    assert result["current"] == "r1"
    assert result["diff"]["after"]["lock"] == "alice"
    assert tree(root) == before


def test_take_lock_is_not_for_the_lock_states(make, root):
    with pytest.raises(ReleaseError, match="take_lock and release_lock are for the changing states"):
        make(lock_owner="alice").run("locked", take_lock=True)


def test_release_lock_finalizes_and_gives_the_lock_back(make, root, clock):
    deploy(make, clock, "r1")
    make(lock_owner="alice").lock()

    result = make(lock_owner="alice").run("finalized", release_lock=True, release="r1")

    assert result["changed"] is True
    assert result["lock"] is None
    assert not (root / LOCK_FILE).exists()
    assert result["actions"][-1].startswith("release deploy lock of alice ")
    assert result["diff"]["before"]["lock"] == "alice"
    assert result["diff"]["after"] == {"current": "r1", "releases": {"r1": "good"}, "lock": None}
    assert [line["action"] for line in audit_lines(root)[-2:]] == ["finalized", "unlocked"]


def test_release_lock_keeps_the_lock_when_the_change_fails(make, root, clock):
    deploy(make, clock, "r1", "r2")
    make(lock_owner="alice").lock()

    with pytest.raises(ReleaseError, match="not the current release"):
        make(lock_owner="alice").run("finalized", release_lock=True, release="r1")

    assert read_lock_file(root)["owner"] == "alice"


def test_release_lock_in_check_mode_predicts_both_and_writes_nothing(make, root, clock):
    deploy(make, clock, "r1")
    make(lock_owner="alice").lock()
    before = tree(root)

    result = make(check_mode=True, lock_owner="alice").run("finalized", release_lock=True, release="r1")

    assert tree(root) == before
    assert result["changed"] is True
    assert result["diff"]["after"] == {"current": "r1", "releases": {"r1": "good"}, "lock": None}


def test_take_lock_and_release_lock_together_are_refused(make, root, clock):
    deploy(make, clock, "r1")
    with pytest.raises(ReleaseError, match="take_lock and release_lock together"):
        make(lock_owner="alice").run("finalized", take_lock=True, release_lock=True, release="r1")


def test_unlock_by_the_holder(make, root):
    make(lock_owner="alice").lock()

    result = make(lock_owner="alice").unlock()

    assert result["changed"] is True
    assert result["lock"] is None
    assert not (root / LOCK_FILE).exists()
    assert audit_lines(root)[-1]["action"] == "unlocked"


def test_unlock_without_a_lock_changes_nothing(make, root):
    root.mkdir()
    result = make(lock_owner="alice").unlock()
    assert result["changed"] is False
    assert tree(root) == {}


def test_unlock_by_another_owner_is_refused(make, root):
    make(lock_owner="alice").lock()
    with pytest.raises(ReleaseError, match="held by alice.*not by bob"):
        make(lock_owner="bob").unlock()
    assert read_lock_file(root)["owner"] == "alice"


def test_unlock_without_owner_is_refused(make, root):
    make(lock_owner="alice").lock()
    with pytest.raises(ReleaseError, match="lock_owner is required"):
        make().unlock()


def test_forced_unlock_breaks_a_foreign_lock_and_audits_it(make, root):
    make(lock_owner="alice").lock()

    assert make(lock_owner="bob").unlock(force=True)["changed"] is True

    assert not (root / LOCK_FILE).exists()
    assert audit_lines(root)[-1]["details"]["broken_lock"]["owner"] == "alice"


def test_unlock_check_mode_changes_nothing(make, root):
    make(lock_owner="alice").lock()
    before = tree(root)
    result = make(check_mode=True, lock_owner="alice").unlock()
    assert result["changed"] is True
    assert result["lock"] is None
    assert tree(root) == before


def test_a_foreign_lock_blocks_changing_states(make, root, clock):
    deploy(make, clock, "r1", "r2")
    make(lock_owner="alice").lock()
    before = tree(root)

    for call in (
        lambda m: m.prepare("r3"),
        lambda m: m.switch("r1"),
        lambda m: m.rollback(),
        lambda m: m.prune(keep=1),
        lambda m: m.remove("r1"),
        lambda m: m.mark("r1", "good"),
    ):
        with pytest.raises(ReleaseError, match="held by alice"):
            call(make(lock_owner="bob"))
        with pytest.raises(ReleaseError, match="held by alice"):
            call(make())
    assert tree(root) == before

    assert make(lock_owner="alice").switch("r1")["current"] == "r1"


def test_a_stale_lock_does_not_block(make, root, clock):
    deploy(make, clock, "r1", "r2")
    make(lock_owner="alice").lock()
    clock.advance(4000)
    assert make(lock_owner="bob").switch("r1")["changed"] is True


# --------------------------------------------------------------------------------------------
# The holder is one run: (lock_owner, run_id)
# --------------------------------------------------------------------------------------------


def test_two_runs_of_one_owner_exclude_each_other(make, root, clock):
    make(lock_owner="alice@ctl", run_id="run-a").lock()
    before = tree(root)
    clock.advance(30)

    with pytest.raises(ReleaseError, match=r"held by alice@ctl \(run run-a, since .*, last seen .*\); wait"):
        make(lock_owner="alice@ctl", run_id="run-b").lock()

    assert tree(root) == before


def test_the_same_run_reenters(make, root, clock):
    make(lock_owner="alice@ctl", run_id="run-a").lock()
    result = make(lock_owner="alice@ctl", run_id="run-a").lock()
    assert result["changed"] is False
    assert read_lock_file(root)["run_id"] == "run-a"


def test_a_run_without_run_id_is_matched_by_owner_alone(make, root, clock):
    deploy(make, clock, "r1", "r2")
    make(lock_owner="alice", run_id="run-a").lock()

    assert make(lock_owner="alice").switch("r1")["current"] == "r1"
    assert make(lock_owner="alice").unlock()["changed"] is True


def test_changing_states_need_the_holding_run(make, root, clock):
    deploy(make, clock, "r1", "r2")
    make(lock_owner="alice", run_id="run-a").lock()
    before = tree(root)

    with pytest.raises(ReleaseError, match="held by alice \\(run run-a"):
        make(lock_owner="alice", run_id="run-b").switch("r1")
    assert tree(root) == before

    assert make(lock_owner="alice", run_id="run-a").switch("r1")["current"] == "r1"


def test_a_rollback_refuses_while_a_deploy_run_holds_the_lock_and_leaves_it(make, root, clock):
    deploy(make, clock, "r1", "r2")
    make(lock_owner="alice@ctl", run_id="deploy-7").lock()
    before = tree(root)

    with pytest.raises(ReleaseError, match="held by alice@ctl \\(run deploy-7.*wait.*deploy_break_lock"):
        make(lock_owner="alice@ctl", run_id="rollback-8").run("rolled_back", take_lock=True)

    assert tree(root) == before
    assert read_lock_file(root)["run_id"] == "deploy-7"


def test_the_holder_refreshes_the_heartbeat_and_keeps_the_lock_live(make, root, clock):
    deploy(make, clock, "r1", "r2")
    make(lock_owner="alice", run_id="run-a").lock()
    taken = read_lock_file(root)
    clock.advance(3000)

    assert make(check_mode=True, lock_owner="alice", run_id="run-a").switch("r1")["changed"] is True
    assert read_lock_file(root) == taken  # check mode writes nothing, not even the heartbeat
    make(lock_owner="alice", run_id="run-a").switch("r1")
    assert read_lock_file(root) == dict(taken, heartbeat="2024-05-01T08:52:00Z")
    clock.advance(3000)  # 6000 s after the lock was taken, 3000 s after it was last seen

    with pytest.raises(ReleaseError, match="last seen 2024-05-01T08:52:00Z"):
        make(lock_owner="bob", run_id="run-b").lock()


def test_a_lock_whose_heartbeat_is_older_than_ttl_is_taken_over_with_the_reason(make, root, clock):
    make(lock_owner="alice", run_id="run-a").lock()
    clock.advance(901)

    result = make(lock_owner="alice", run_id="run-b", lock_ttl=900).lock()

    assert result["changed"] is True
    assert read_lock_file(root)["run_id"] == "run-b"
    assert result["stale_lock_replaced"]["run_id"] == "run-a"
    assert result["stale_lock_replaced"]["stale_reason"] == "not seen for more than lock_ttl (900s)"
    assert audit_lines(root)[-1]["details"]["stale_lock_replaced"]["stale_reason"].startswith("not seen")


def test_heartbeat_is_not_rewritten_over_a_lock_that_changed(make, root, clock):
    make(lock_owner="alice", run_id="run-a").lock()
    manager = make(lock_owner="alice", run_id="run-a")
    expected = read_lock_file(root)
    other = dict(expected, run_id="run-z")
    (root / LOCK_FILE).write_text(json.dumps(other))

    assert refresh_heartbeat(manager.layout, expected, "2024-05-01T09:00:00Z") is None

    assert read_lock_file(root) == other
    assert not [n for n in os.listdir(root) if ".tmp-" in n]


def test_unlock_by_a_run_that_holds_nothing_is_a_no_op_when_there_is_no_lock(make, root):
    root.mkdir()
    result = make(lock_owner="alice", run_id="run-b").unlock()
    assert result["changed"] is False
    assert tree(root) == {}


def test_unlock_by_another_run_is_refused_and_force_breaks_it(make, root, clock):
    make(lock_owner="alice", run_id="run-a").lock()
    before = tree(root)

    with pytest.raises(ReleaseError, match="held by alice \\(run run-a.*not by alice \\(run run-b\\); refusing"):
        make(lock_owner="alice", run_id="run-b").unlock()
    assert tree(root) == before

    result = make(lock_owner="alice", run_id="run-b").unlock(force=True)

    assert result["changed"] is True
    assert not (root / LOCK_FILE).exists()
    broken = audit_lines(root)[-1]["details"]["broken_lock"]
    assert (broken["owner"], broken["run_id"]) == ("alice", "run-a")


def test_unlock_by_the_holding_run(make, root):
    make(lock_owner="alice", run_id="run-a").lock()
    assert make(lock_owner="alice", run_id="run-a").unlock()["changed"] is True
    assert not (root / LOCK_FILE).exists()


def test_a_run_whose_lock_was_taken_while_it_worked_stops(make, root, clock, monkeypatch):
    deploy(make, clock, "r1", "r2")
    make(lock_owner="alice", run_id="run-a").lock()
    clock.advance(120)
    thief = {"owner": "bob", "run_id": "run-b", "time": "2024-05-01T08:04:00Z"}
    real_refresh = manager_module.refresh_heartbeat

    def taken_meanwhile(layout, expected, heartbeat):
        (root / LOCK_FILE).write_text(json.dumps(thief))
        return real_refresh(layout, expected, heartbeat)

    monkeypatch.setattr(manager_module, "refresh_heartbeat", taken_meanwhile)

    with pytest.raises(ReleaseError, match=r"taken from alice \(run run-a\) while it worked; it is now held by bob"):
        make(lock_owner="alice", run_id="run-a").switch("r1")

    assert os.readlink(root / "current") == "releases/r2"
    assert read_lock_file(root) == thief
