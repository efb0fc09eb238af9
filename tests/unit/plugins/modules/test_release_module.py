# -*- coding: utf-8 -*-  # noqa: UP009
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Drive ``pyops.deploy.release`` and ``pyops.deploy.release_info`` end to end through AnsibleModule."""

from __future__ import annotations

import json
import os
import pwd
import stat

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.pyops.deploy.plugins.modules import release, release_info


def run_module(module, capsys, args, check=False, diff=False):
    """Run ``module.main()`` with ``args``; return its JSON result with ``failed`` set on failure."""
    args = dict(args)
    if check:
        args["_ansible_check_mode"] = True
    if diff:
        args["_ansible_diff"] = True
    with patch_module_args(args), pytest.raises(SystemExit) as exc:
        module.main()
    result = json.loads(capsys.readouterr().out)
    assert bool(exc.value.code) == bool(result.get("failed")), result
    return result


def tree(path):
    path = str(path)
    if not os.path.lexists(path):
        return None
    found = {}
    for dirpath, dirnames, filenames in os.walk(path):
        for name in dirnames + filenames:
            full = os.path.join(dirpath, name)
            info = os.lstat(full)
            key = os.path.relpath(full, path)
            if stat.S_ISLNK(info.st_mode):
                found[key] = ("link", os.readlink(full))
            elif stat.S_ISDIR(info.st_mode):
                found[key] = ("dir", stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid)
            else:
                with open(full, "rb") as handle:
                    found[key] = ("file", handle.read(), stat.S_IMODE(info.st_mode))
    return found


def four_step(run, root, audited_noop=False, **args):
    """Check mode, run, check mode, run: the idempotence contract every state must keep.

    ``audited_noop``: the second run changes nothing but appends an audit line (a rollback does).
    """
    before = tree(root)
    first_check = run(check=True, **args)
    assert first_check["changed"] is True, first_check
    assert tree(root) == before, "check mode changed the disk"

    first_run = run(**args)
    assert first_run["changed"] is True, first_run
    after = tree(root)
    assert after != before

    second_check = run(check=True, **args)
    assert second_check["changed"] is False, second_check
    second_run = run(**args)
    assert second_run["changed"] is False, second_run
    final = tree(root)
    if audited_noop:
        assert final.pop("deploy-audit.jsonl")[1].startswith(after.pop("deploy-audit.jsonl")[1])
    assert final == after
    return first_check, first_run


def audit_actions(root):
    with open(root / "deploy-audit.jsonl") as handle:
        return [json.loads(line)["action"] for line in handle]


def test_prepare_four_step(run, root):
    me = pwd.getpwuid(os.getuid()).pw_name
    args = {
        "state": "prepared",
        "release": "r1",
        "shared_dirs": ["log", "public/media"],
        "shared_files": [".env"],
        "owner": me,
        "mode": "0750",
    }

    check, real = four_step(run, root, **args)

    assert check["current"] is None
    assert check["releases"] == real["releases"]
    assert real["release_path"] == str(root / "releases" / "r1")
    assert os.readlink(root / "releases" / "r1" / "public" / "media") == "../../../shared/public/media"
    for directory in ("releases", "releases/r1", "shared", "shared/log", "shared/public/media"):
        assert stat.S_IMODE(os.stat(root / directory).st_mode) == 0o750, directory
    assert stat.S_IMODE(os.stat(root / "shared" / ".env").st_mode) == 0o600
    assert audit_actions(root) == ["prepared"]


def test_prepare_mode_drift_is_a_change(run, root):
    run(state="prepared", release="r1")
    os.chmod(root / "releases" / "r1", 0o700)

    assert run(check=True, state="prepared", release="r1", mode="0755")["changed"] is True
    assert stat.S_IMODE(os.stat(root / "releases" / "r1").st_mode) == 0o700
    assert run(state="prepared", release="r1", mode="0755")["changed"] is True
    assert stat.S_IMODE(os.stat(root / "releases" / "r1").st_mode) == 0o755
    assert run(state="prepared", release="r1", mode="0755")["changed"] is False


def test_switch_four_step(run, root):
    run(state="prepared", release="r1")
    run(state="switched", release="r1")
    run(state="prepared", release="r2")

    check, real = four_step(run, root, state="switched", release="r2")

    assert check["previous"] == real["previous"] == "r1"
    assert check["current"] == real["current"] == "r2"
    assert os.readlink(root / "current") == "releases/r2"


def test_prune_four_step(run, root):
    for release_id in ("r1", "r2", "r3", "r4"):
        run(state="prepared", release=release_id)
        run(state="switched", release=release_id)

    check, real = four_step(run, root, state="pruned", keep=2)

    assert check["removed"] == real["removed"] == ["r1", "r2"]
    assert sorted(os.listdir(root / "releases")) == ["r3", "r4"]


def test_rollback_four_step(run, root):
    for release_id in ("r1", "r2"):
        run(state="prepared", release=release_id)
        run(state="switched", release=release_id)
    run(state="marked", release="r1", status="good")

    check, real = four_step(run, root, audited_noop=True, state="rolled_back")

    assert check["current"] == real["current"] == "r1"
    assert real["rolled_back_from"] == "r2"
    assert {r["id"]: r["status"] for r in real["releases"]} == {"r1": "good", "r2": "failed"}


def test_rollback_taking_the_lock_four_step(run, root):
    for release_id in ("r1", "r2"):
        run(state="prepared", release=release_id)
        run(state="switched", release=release_id)

    check, real = four_step(run, root, audited_noop=True, state="rolled_back", take_lock=True, lock_owner="alice")

    assert check["current"] == real["current"] == "r1"
    assert check["lock"]["owner"] == real["lock"]["owner"] == "alice"
    assert json.loads((root / ".deploy.lock").read_text())["owner"] == "alice"
    # The repeated rollback changed nothing but is in the audit log.
    assert audit_actions(root)[-3:] == ["locked", "rolled_back", "rolled_back"]


def test_absent_and_marked_four_step(run, root):
    for release_id in ("r1", "r2"):
        run(state="prepared", release=release_id)
    run(state="switched", release="r2")

    four_step(run, root, state="marked", release="r2", status="good")
    four_step(run, root, state="absent", release="r1")
    assert os.listdir(root / "releases") == ["r2"]


def test_finalized_releasing_the_lock_four_step(run, root):
    for release_id in ("r1", "r2", "r3"):
        run(state="prepared", release=release_id)
        run(state="switched", release=release_id)
    run(state="marked", release="r2", status="good")
    run(state="locked", lock_owner="alice")

    check, real = four_step(run, root, state="finalized", release="r3", keep=2, release_lock=True, lock_owner="alice")

    assert check["removed"] == real["removed"] == ["r1"]
    assert check["lock"] is real["lock"] is None
    assert not (root / ".deploy.lock").exists()
    assert {r["id"]: r["status"] for r in real["releases"]} == {"r2": "good", "r3": "good"}
    assert audit_actions(root)[-2:] == ["finalized", "unlocked"]


def test_lock_four_step_and_unlock(run, root):
    root.mkdir()
    locked = four_step(run, root, state="locked", lock_owner="alice", lock_pid=os.getpid(), run_id="run-7")[1]
    assert locked["lock"]["owner"] == "alice"
    assert locked["lock"]["pid"] == os.getpid()
    assert locked["lock"]["stale"] is False

    refused = run(state="locked", lock_owner="bob")
    assert refused["failed"] is True
    assert "held by alice" in refused["msg"]

    foreign = run(state="unlocked", lock_owner="bob")
    assert foreign["failed"] is True

    four_step(run, root, state="unlocked", lock_owner="alice")
    assert not (root / ".deploy.lock").exists()


def test_diff_is_returned_only_in_diff_mode(run, root):
    run(state="prepared", release="r1")

    plain = run(check=True, state="switched", release="r1")
    with_diff = run(check=True, diff=True, state="switched", release="r1")

    assert "diff" not in plain
    assert with_diff["diff"] == {
        "before": {"current": None, "releases": {"r1": "prepared"}, "lock": None},
        "after": {"current": "r1", "releases": {"r1": "prepared"}, "lock": None},
    }


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"path": "relative/app", "state": "pruned"}, "path must be absolute"),
        ({"state": "prepared", "release": "../../etc"}, "invalid"),
        ({"state": "prepared", "release": "a/b"}, "invalid"),
        ({"state": "prepared", "release": ".."}, "invalid"),
        ({"state": "switched"}, "state is switched but all of the following are missing: release"),
        ({"state": "marked", "release": "r1"}, "missing: status"),
        ({"state": "locked"}, "missing: lock_owner"),
        ({"state": "rolled_back", "take_lock": True}, "take_lock is True but all of the following are missing"),
        ({"state": "finalized"}, "state is finalized but all of the following are missing: release"),
        ({"state": "pruned", "release_lock": True}, "release_lock is True but all of the following are missing"),
        ({"state": "pruned", "keep": 0}, "keep must be an integer >= 1"),
        ({"state": "unlocked", "lock_ttl": 0}, "lock_ttl"),
        ({"state": "prepared", "release": "r1", "shared_dirs": ["/etc"]}, "must be relative"),
        ({"state": "prepared", "release": "r1", "shared_files": ["../x"]}, "must not contain"),
        ({"state": "switched", "release": "nope"}, "does not exist"),
        ({"state": "teleported"}, "value of state must be one of"),
    ],
)
def test_bad_input_fails_cleanly_and_changes_nothing(run, root, args, message):
    root.mkdir()
    result = run(**args)
    assert result["failed"] is True
    assert message in result["msg"]
    assert tree(root) == {}


def test_current_that_is_not_a_symlink_fails(run, root):
    run(state="prepared", release="r1")
    (root / "current").mkdir()
    before = tree(root)

    result = run(state="switched", release="r1")

    assert result["failed"] is True
    assert "not a symlink" in result["msg"]
    assert tree(root) == before


def test_symlinked_releases_escaping_the_root_fails(run, root, tmp_path):
    (tmp_path / "elsewhere" / "r1").mkdir(parents=True)
    root.mkdir()
    (root / "releases").symlink_to(tmp_path / "elsewhere")

    result = run(state="switched", release="r1")

    assert result["failed"] is True
    assert "outside of" in result["msg"]
    assert not (root / "current").exists()


def test_audit_line_carries_source_and_run_id(run, root):
    run(state="prepared", release="r1", source="git:abc123", run_id="run-9")
    with open(root / "deploy-audit.jsonl") as handle:
        entry = json.loads(handle.readline())
    assert entry["source"] == "git:abc123"
    assert entry["run_id"] == "run-9"
    assert entry["user"] == "tester"


def test_audit_user_has_a_default(capsys, root):
    result = run_module(release, capsys, {"path": str(root), "state": "prepared", "release": "r1"})
    assert result["changed"] is True
    with open(root / "deploy-audit.jsonl") as handle:
        assert json.loads(handle.readline())["user"]


# --------------------------------------------------------------------------------------------
# release_info
# --------------------------------------------------------------------------------------------


def test_info_on_a_missing_root(capsys, root):
    result = run_module(release_info, capsys, {"path": str(root)})
    assert result["changed"] is False
    assert result["exists"] is False
    assert result["releases"] == []


def test_info_reports_state_and_never_changes_anything(run, capsys, root):
    for release_id in ("r1", "r2"):
        run(state="prepared", release=release_id)
        run(state="switched", release=release_id)
    run(state="locked", lock_owner="alice", run_id="run-3")
    before = tree(root)

    for check in (False, True):
        result = run_module(release_info, capsys, {"path": str(root), "history": 3}, check=check)

        assert result["changed"] is False
        assert result["exists"] is True
        assert result["current"] == "r2"
        assert result["previous_good"] == "r1"
        assert [r["id"] for r in result["releases"]] == ["r1", "r2"]
        assert result["lock"]["owner"] == "alice"
        assert result["lock"]["stale"] is False
        assert [e["action"] for e in result["last_deploys"]] == ["prepared", "switched", "locked"]
    assert tree(root) == before


def test_info_rejects_a_relative_path(capsys):
    result = run_module(release_info, capsys, {"path": "srv/app"})
    assert result["failed"] is True
    assert "path must be absolute" in result["msg"]


def test_rollback_after_a_failed_deploy_reports_nothing_to_do(run, root):
    for release_id in ("r1", "r2"):
        run(state="prepared", release=release_id)
        run(state="switched", release=release_id)
        run(state="finalized", release=release_id)
    run(state="prepared", release="r3")
    run(state="marked", release="r3", status="failed")

    result = run(state="rolled_back", take_lock=True, lock_owner="alice", run_id="rollback-1")

    assert result["current"] == "r2"
    assert result["rolled_back_from"] is None
    assert result["msg"].startswith("release r3 failed before it took traffic; r2 still serves")
    assert result["changed"] is True  # the lock it took, nothing else
    assert audit_actions(root)[-2:] == ["locked", "rolled_back"]


def test_lock_is_held_per_run(run, root):
    root.mkdir()
    assert run(state="locked", lock_owner="alice", run_id="run-a")["changed"] is True

    refused = run(state="locked", lock_owner="alice", run_id="run-b")
    assert refused["failed"] is True
    assert "held by alice (run run-a" in refused["msg"]

    assert run(state="unlocked", lock_owner="alice", run_id="run-b")["failed"] is True
    assert run(state="unlocked", lock_owner="alice", run_id="run-a")["changed"] is True


def test_info_reports_the_run_holding_the_lock_and_releases_that_never_served(run, capsys, root):
    for release_id in ("r1", "r2"):
        run(state="prepared", release=release_id)
        run(state="switched", release=release_id)
    run(state="prepared", release="r3")
    run(state="locked", lock_owner="alice", run_id="run-3")

    result = run_module(release_info, capsys, {"path": str(root), "history": 0})

    assert result["lock"]["run_id"] == "run-3"
    assert result["lock"]["heartbeat"] == result["lock"]["time"]
    assert result["prepared_not_serving"] == ["r3"]
    assert result["serving"] is None
    assert [r["sha256"] for r in result["releases"]] == [None, None, None]
    assert result["last_deploys"] == []
