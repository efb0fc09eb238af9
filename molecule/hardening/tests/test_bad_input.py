"""A bad value fails the run before anything is applied, and the host stays reachable.

Each case runs the role again (only the part concerned) with one bad value, over SSH as the admin
where the case is about SSH, through the harness link otherwise.
"""

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
from probes import APP, AUDITOR, PROXY, default_address, on, reachable, ssh

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
    env = {
        **os.environ,
        "ANSIBLE_COLLECTIONS_PATH": str(PROJECT / "collections"),
        "ANSIBLE_FORCE_COLOR": "false",
        # JSON results: messages are searched as they are, not as YAML folds them.
        "ANSIBLE_CALLBACK_RESULT_FORMAT": "json",
    }
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
    # No backup left behind by a refused sshd_config (the restore's backups are made before sshd -t).
    assert leftovers(PROXY) == ([], "inactive")


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


RESTORE = "pyops-hardening-ssh-restore"


def leftovers(target):
    """Backups of sshd_config or of the rule set (the restore's), and its timer, left on the host."""
    host = on(target)
    files = host.check_output("ls /etc/ssh /etc/nftables.d").split()
    timer = host.run(f"systemctl is-active {RESTORE}.timer").stdout.strip()
    return [name for name in files if name.endswith("~")], timer


@pytest.fixture
def ssh_as_converged():
    """Puts back the app server's sshd_config and rule set as converge left them, and applies them."""
    host = on(APP)
    paths = ("/etc/ssh/sshd_config", "/etc/nftables.d/pyops_filter.nft")
    host.check_output(" && ".join(f"cp -a {path} {path}.pyops-test" for path in paths))
    yield host
    host.check_output(
        " && ".join(f"mv {path}.pyops-test {path}" for path in paths)
        + " && systemctl reload ssh.service && systemctl reload pyops-firewall.service"
    )


def test_new_port_and_key_exchange_are_proven_by_a_new_connection(ssh_as_converged):
    # sshd and the firewall move to port 2222 together, and the run goes on over a new connection
    # there; the old code reloaded sshd before the firewall opened 2222, and its next task found no
    # sshd on port 22.
    kex = ["sntrup761x25519-sha512@openssh.com", "curve25519-sha256"]
    values = {"hardening_firewall_enabled": True, "hardening_ssh_port": 2222, "hardening_ssh_kex_algorithms": kex}
    result = run_role(APP, "ssh", values, over_ssh=True)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr
    # profile_tasks (molecule's config) may put its timing line between the task's banner and its result.
    ran = rf"Log in over a new connection\] \**\n(?:[^\n]*\(\d+:\d\d:\d\d\.\d+\)[^\n]*\n)?ok: \[{APP}\]"
    assert re.search(ran, result.stdout), result.stdout[-4000:]
    host = ssh_as_converged
    assert host.socket("tcp://0.0.0.0:2222").is_listening
    assert not host.socket("tcp://0.0.0.0:22").is_listening
    assert f"kexalgorithms {','.join(kex)}" in host.check_output("sshd -T")
    # From outside: a fresh login on the new port; the old one is closed.
    assert ssh(APP, options="-p 2222").rc == 0
    assert not reachable(AUDITOR, APP, 22)
    # The restore was called off and cleaned up.
    assert leftovers(APP) == ([], "inactive")


def test_config_that_shuts_out_new_connections_is_put_back():
    # sshd -t and the lockout guard accept a key exchange no client here speaks; only a new
    # connection shows that nobody gets in any more. The old code kept it and succeeded.
    before = checksums(PROXY, "/etc/ssh/sshd_config")
    values = {
        "hardening_ssh_kex_algorithms": ["diffie-hellman-group14-sha1"],
        "hardening_ssh_lockout_guard_timeout": 10,
    }
    result = run_role(PROXY, "ssh", values, over_ssh=True)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "The new SSH configuration was put back: after sshd was reloaded, 'Log in over a new connection'" in output
    assert "reloaded sshd; a new connection gets in again." in output
    assert checksums(PROXY, "/etc/ssh/sshd_config") == before
    assert "diffie-hellman-group14-sha1" not in on(PROXY).check_output("sshd -T")
    assert ssh(PROXY).rc == 0
    assert leftovers(PROXY) == ([], "inactive")
