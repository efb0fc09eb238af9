"""A bad value fails the run before anything is applied, and the host stays reachable.

Each case runs the role again (only the part concerned) with one bad value, over SSH as the admin
where the case is about SSH, through the harness link otherwise.
"""

import json
import os
import subprocess
from pathlib import Path

import pytest
from probes import APP, PROXY, default_address, on, reachable, ssh

SCENARIO = Path(__file__).resolve().parent.parent
PROJECT = SCENARIO.parent.parent
ONLY = {
    f"hardening_{part}_enabled": False
    for part in (
        "ssh",
        "firewall",
        "sysctl",
        "system",
        "accounts",
        "auditd",
        "fail2ban",
        "upgrades",
        "journald",
        "timesync",
    )
}
OVER_SSH = {
    "ansible_connection": "ansible.builtin.ssh",
    "ansible_user": "pyops-admin",
    "ansible_ssh_private_key_file": os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "id_ed25519"),
    "ansible_ssh_args": "-o ControlMaster=no -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null",
    # Over the network, not the harness's link through podman (harness/ssh-via-podman).
    "ansible_ssh_common_args": "",
}


def run_role(target, part, values, over_ssh=False):
    extra = {**ONLY, f"hardening_{part}_enabled": True, "target": target, **values}
    if over_ssh:
        address = default_address(target)
        extra.update(OVER_SSH, ansible_host=address)
    env = {**os.environ, "ANSIBLE_COLLECTIONS_PATH": str(PROJECT / "collections"), "ANSIBLE_FORCE_COLOR": "false"}
    return subprocess.run(
        [
            "ansible-playbook",
            "-i",
            os.environ["MOLECULE_INVENTORY_FILE"],
            str(SCENARIO / "bad_input.yml"),
            "-e",
            json.dumps(extra),
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


def checksums(target, *paths):
    return on(target).check_output("sha256sum " + " ".join(paths))


@pytest.mark.parametrize(
    ("part", "values", "expected"),
    [
        ("ssh", {"hardening_ssh_extra_options": {"NoSuchOption": "yes"}}, "failed to validate"),
        ("firewall", {"hardening_firewall_ssh_sources": ["not-an-address"]}, "is not an IPv4/IPv6 address"),
        ("firewall", {"hardening_firewall_ssh_sources": ["10.0.0.300/8"]}, "failed to validate"),
    ],
)
def test_bad_value_fails_and_changes_nothing(part, values, expected):
    before = checksums(PROXY, "/etc/ssh/sshd_config", "/etc/nftables.d/pyops_filter.nft")
    ruleset = on(PROXY).check_output("nft list table inet pyops_filter")
    result = run_role(PROXY, part, values)
    assert result.returncode != 0
    assert expected in result.stdout + result.stderr
    assert checksums(PROXY, "/etc/ssh/sshd_config", "/etc/nftables.d/pyops_filter.nft") == before
    assert on(PROXY).check_output("nft list table inet pyops_filter") == ruleset
    assert ssh(PROXY).rc == 0


def test_firewall_that_would_shut_out_the_connected_admin_is_refused():
    before = checksums(APP, "/etc/nftables.d/pyops_filter.nft")
    result = run_role(
        APP, "firewall", {"hardening_firewall_ssh_sources": ["192.0.2.0/24", "2001:db8::/32"]}, over_ssh=True
    )
    assert result.returncode != 0
    assert "Refusing to load the firewall: this run connects over SSH from" in result.stdout + result.stderr
    assert checksums(APP, "/etc/nftables.d/pyops_filter.nft") == before
    assert ssh(APP).rc == 0


def test_config_that_would_lock_out_the_connected_admin_is_refused():
    before = checksums(APP, "/etc/ssh/sshd_config")
    result = run_role(APP, "ssh", {"hardening_ssh_allow_groups": ["wheel"]}, over_ssh=True)
    assert result.returncode != 0
    assert "Refusing to change sshd: Ansible is connected as 'pyops-admin'" in result.stdout + result.stderr
    assert checksums(APP, "/etc/ssh/sshd_config") == before
    assert ssh(APP).rc == 0
    assert reachable(PROXY, APP, 22)
