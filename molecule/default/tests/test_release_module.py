"""pyops.deploy.release, run by converge on Debian 12 (Python 3.11) and 13 (Python 3.13)."""

import json

ROOT = "/srv/release-probe"


def test_current_is_a_relative_symlink_to_the_switched_release(host):
    current = host.file(f"{ROOT}/current")
    assert current.is_symlink
    assert current.linked_to == f"{ROOT}/releases/r2"
    assert host.check_output(f"readlink {ROOT}/current") == "releases/r2"


def test_shared_directory_is_linked_into_every_release(host):
    for release in ("r1", "r2"):
        assert host.file(f"{ROOT}/releases/{release}/log").linked_to == f"{ROOT}/shared/log"
    assert host.file(f"{ROOT}/shared/log").is_directory


def test_audit_log_records_each_change_once(host):
    # Converge ran twice (idempotence): a no-op second run must not add lines.
    lines = host.file(f"{ROOT}/deploy-audit.jsonl").content_string.splitlines()
    actions = [json.loads(line)["action"] for line in lines]
    assert actions == ["prepared", "prepared", "switched"]


def test_no_temporary_link_is_left_behind(host):
    entries = sorted(host.check_output(f"ls -A {ROOT}").split())
    assert entries == [".releases.json", "current", "deploy-audit.jsonl", "releases", "shared"]
