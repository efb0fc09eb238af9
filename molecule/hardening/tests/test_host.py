"""What the role leaves on each hardened host: kernel, accounts, audit rules, fail2ban, upgrades,
journal, time sync. Checked on the host itself."""

import ipaddress
import os

import pytest
from probes import AUDITOR, default_address
from testinfra.utils.ansible_runner import AnsibleRunner

testinfra_hosts = AnsibleRunner(os.environ["MOLECULE_INVENTORY_FILE"]).get_hosts("hardened")

# /proc/sys is read-only in a podman container, even with NET_ADMIN: none of the role's sysctls
# can be set here, so the tests check the file applied at boot and that the run reported them.
SYSCTL_FILE = "/etc/sysctl.d/90-pyops-hardening.conf"


def test_sysctl_file_sets_network_and_kernel_hardening(host):
    content = host.file(SYSCTL_FILE).content_string
    for line in ("net.ipv4.conf.all.accept_redirects = 0", "kernel.kptr_restrict = 2", "fs.suid_dumpable = 0"):
        assert line in content
    assert "ip_forward" not in content


def test_audit_rules_are_merged_and_cover_identity_sudo_ssh_and_privileged_programs(host):
    assert host.run("augenrules --check").stdout.strip().endswith("No change")
    rules = host.file("/etc/audit/audit.rules").content_string
    assert "-w /etc/shadow -p wa -k identity" in rules
    assert "-w /etc/sudoers.d -p wa -k sudoers" in rules
    assert "-w /etc/ssh/sshd_config -p wa -k sshd" in rules
    assert "-F path=/usr/bin/sudo -F perm=x" in rules
    assert "-F dir=/srv -F perm=wa -k app-releases" in rules


def test_auditd_is_not_started_in_a_container(host):
    # The kernel's audit netlink only serves the initial namespaces; starting it here would fail.
    assert host.service("auditd").is_enabled
    assert not host.service("auditd").is_running


def test_fail2ban_watches_sshd_through_the_journal(host):
    assert host.service("fail2ban").is_running
    status = host.check_output("fail2ban-client status sshd")
    assert "Journal matches:" in status


def networks(lines):
    return [ipaddress.ip_network(word, strict=False) for word in lines]


def test_fail2ban_never_bans_the_ssh_sources_the_firewall_admits(host):
    # converge admits SSH from the scenario's network (the controller, the auditor): the jail as
    # written and as fail2ban runs it ignores them, and loopback.
    auditor = ipaddress.ip_address(default_address(AUDITOR))
    jail = host.file("/etc/fail2ban/jail.local").content_string
    line = next(line for line in jail.splitlines() if line.startswith("ignoreip ="))
    written = line.split("=", 1)[1].split()
    assert written[:2] == ["127.0.0.1/8", "::1"], line
    assert any(auditor in network and network.prefixlen > 0 for network in networks(written[2:])), line
    # fail2ban-client lists them one a line, after "|-" or "`-".
    loaded = [row.split()[-1] for row in host.check_output("fail2ban-client get sshd ignoreip").splitlines()[1:]]
    assert any(auditor in network for network in networks(loaded)), loaded


def test_fail2ban_bans_through_its_own_nftables_table(host):
    host.check_output("fail2ban-client set sshd banip 192.0.2.7")
    try:
        assert "192.0.2.7" in host.check_output("nft list table inet f2b-table")
        assert "policy drop" in host.check_output("nft list table inet pyops_filter")
    finally:
        host.run("fail2ban-client set sshd unbanip 192.0.2.7")


def test_empty_password_account_is_locked(host):
    assert host.check_output("passwd -S pyops-empty").split()[1] == "L"
    assert "nullok" not in host.file("/etc/pam.d/common-auth").content_string


def test_password_policy(host):
    assert host.file("/etc/login.defs").contains("^PASS_MAX_DAYS\t365")
    assert host.file("/etc/security/pwquality.conf.d/90-pyops-hardening.conf").contains("minlen = 14")


def test_unattended_security_upgrades_are_on(host):
    config = host.check_output("apt-config dump")
    assert 'APT::Periodic::Unattended-Upgrade "1";' in config
    assert 'Unattended-Upgrade::Automatic-Reboot "false";' in config
    assert host.service("apt-daily-upgrade.timer").is_enabled


def test_journal_is_persistent(host):
    machine_id = host.file("/etc/machine-id").content_string.strip()
    assert host.file(f"/var/log/journal/{machine_id}").is_directory


def test_time_sync_is_enabled(host):
    assert host.service("systemd-timesyncd").is_enabled


def test_core_dumps_are_off(host):
    assert host.file("/etc/security/limits.d/90-pyops-hardening.conf").contains("hard\tcore\t0")
    assert host.file("/etc/systemd/coredump.conf.d/90-pyops-hardening.conf").contains("Storage=none")


@pytest.mark.parametrize(("path", "mode"), [("/etc/shadow", 0o640), ("/etc/ssh/sshd_config", 0o600)])
def test_sensitive_file_modes(host, path, mode):
    assert host.file(path).mode == mode
