# -*- coding: utf-8 -*-  # noqa: UP009
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""``pyops.deploy.hardening_state``: the host state the hardening role decides by, in one read."""

from __future__ import annotations

import base64
import grp
import os
import pwd
import shutil
import struct
import subprocess

import pytest
from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pyops.deploy.plugins.module_utils import _hardening_state as hs
from ansible_collections.pyops.deploy.plugins.modules import hardening_state
from ansible_collections.pyops.deploy.tests.unit.plugins.modules.test_release_module import run_module

SHOW = (
    "ActiveState=active\nUnitFileState=enabled\n\n"
    "ActiveState=inactive\nUnitFileState=enabled\n\n"
    "ActiveState=active\nUnitFileState=static\n\n"
    "ActiveState=inactive\nUnitFileState=\n"
)
UNITS = ["ssh.service", "ssh.socket", "fail2ban.service", "auditd.service"]


def ssh_string(data):
    return struct.pack(">I", len(data)) + data


def rsa_pub(bits, kind=b"ssh-rsa"):
    modulus = (1 << (bits - 1)) | 1
    blob = ssh_string(kind) + ssh_string(b"\x01\x00\x01") + ssh_string(b"\x00" + modulus.to_bytes(bits // 8, "big"))
    return f"{kind.decode()} {base64.b64encode(blob).decode()} root@host\n"


class FakeRun:
    """Answers systemctl show with SHOW and nft with the loaded tables; records the calls."""

    def __init__(self, loaded=("inet pyops_filter",)):
        self.loaded = loaded
        self.calls = []

    def __call__(self, argv):
        self.calls.append(list(argv))
        if argv[1] == "show":
            return 0, SHOW, ""
        table = " ".join(argv[3:])
        return (0, f"table {table} {{\n}}\n", "") if table in self.loaded else (1, "", "Error: No such file")


STATUS = """Package: openssh-server
Status: install ok installed
Priority: optional
Version: 1:9.2p1-2+deb12u3
Description: secure shell (SSH) server
 a continuation line: Package: not-a-package
Architecture: amd64

Package: libc6
Status: install ok installed
Architecture: amd64
Version: 2.36-9+deb12u9

Package: libc6
Status: install ok installed
Architecture: i386
Version: 2.36-9+deb12u8

Package: chrony
Status: deinstall ok config-files
Version: 4.3-2

Package: ntp
Status: purge ok not-installed

Package: nginx
Status: install ok half-configured
Version: 1.22.1-9"""


def test_installed_packages_from_dpkg_status(tmp_path):
    status = tmp_path / "status"
    status.write_text(STATUS)
    assert hs.installed_packages(str(status)) == {
        "openssh-server": "1:9.2p1-2+deb12u3",
        "libc6": "2.36-9+deb12u9",
        "nginx": "1.22.1-9",
    }


def test_packages_match_dpkg_query_here():
    if not os.path.exists("/var/lib/dpkg/status") or not shutil.which("dpkg-query"):
        pytest.skip("needs dpkg")
    listed = subprocess.run(
        ["dpkg-query", "-W", "-f", "${db:Status-Status} ${Package} ${Version}\\n"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    expected = {}
    for line in listed:
        state, name, *version = line.split()
        if state not in hs.NOT_INSTALLED:
            expected.setdefault(name, version[0] if version else "")
    assert hs.installed_packages() == expected


def test_units_split_by_block_in_the_order_given():
    run = FakeRun()
    assert hs.units(UNITS, run) == (["ssh.service", "fail2ban.service"], ["ssh.service", "ssh.socket"])
    assert run.calls == [["systemctl", "show", "--no-pager", "-p", "ActiveState,UnitFileState", "--", *UNITS]]
    assert hs.units([], run) == ([], []), "no unit: no systemctl"
    assert len(run.calls) == 1


def test_a_failed_systemctl_fails():
    with pytest.raises(OSError, match="systemctl show failed"):
        hs.units(["ssh.service"], lambda argv: (1, "", "Failed to connect to bus"))


def test_group_and_users():
    me = pwd.getpwuid(os.getuid())
    group = grp.getgrgid(me.pw_gid)
    exists, missing, outside = hs.group_state(group.gr_name, [me.pw_name, "no-such-user-pyops"])
    assert exists is True
    assert missing == ["no-such-user-pyops"]
    assert outside == ([] if me.pw_name in group.gr_mem else [me.pw_name]), "a primary group only is outside"
    assert hs.group_state("no-such-group-pyops", [me.pw_name]) == (False, [], [me.pw_name])


def test_empty_password_accounts_names_only(tmp_path):
    shadow = tmp_path / "shadow"
    shadow.write_text(
        "root:$y$j9T$salt$hash:19000:0:99999:7:::\n"
        "guest::19000:0:99999:7:::\n"
        "daemon:*:19000:0:99999:7:::\n"
        "locked:!:19000::::::\n"
        "\n"
        "odd\n"
        "nopass::\n"
    )
    assert hs.empty_password_accounts(str(shadow)) == ["guest", "nopass"]


@pytest.mark.parametrize(
    ("content", "bits"),
    [
        (rsa_pub(3072), 3072),
        (rsa_pub(2048), 2048),
        (rsa_pub(1024, b"ssh-dss"), 0),
        ("ssh-rsa not-base64!\n", 0),
        ("ssh-rsa\n", 0),
        ("", 0),
        # A length field past the end of the blob.
        ("ssh-rsa " + base64.b64encode(struct.pack(">I", 500) + b"ssh-rsa").decode() + "\n", 0),
    ],
)
def test_rsa_public_key_bits(tmp_path, content, bits):
    key = tmp_path / "ssh_host_rsa_key.pub"
    key.write_text(content)
    assert hs.rsa_public_key_bits(str(key)) == bits
    assert hs.rsa_public_key_bits(str(tmp_path / "missing.pub")) == 0


def test_small_moduli_are_the_lines_the_drop_removes(tmp_path):
    moduli = tmp_path / "moduli"
    moduli.write_text(
        "#    $OpenBSD: moduli,v 1.38 $\n"
        "# Time Type Tests Tries Size Generator Modulus\n"
        "20230316052119 2 6 100 2047 5 D4F4\n"
        "20230316052119 2 6 100 3071 2 E8A2\n"
        "20230316052119 2 6 100 4095 5 F1C3\n"
        "20230316052119 2 6 100 3070 5 F1C5\n"
    )
    assert hs.small_moduli(str(moduli), 3071) == 2
    assert hs.small_moduli(str(moduli), 2047) == 0
    assert hs.small_moduli(str(tmp_path / "missing"), 3071) == 0, "no OpenSSH server yet"


def test_setid_programs_as_find_lists_them(tmp_path):
    bin_dir, lib = tmp_path / "bin", tmp_path / "lib"
    (lib / "sub").mkdir(parents=True)
    bin_dir.mkdir()
    for path, mode in (
        (bin_dir / "sudo", 0o4755),
        (bin_dir / "wall", 0o2755),
        (bin_dir / "ls", 0o755),
        (lib / "sub" / "helper", 0o4750),
    ):
        path.write_text("")
        path.chmod(mode)
    # A link to a setuid program is not one; a linked directory is not entered.
    (bin_dir / "sudo-link").symlink_to(bin_dir / "sudo")
    (lib / "linked").symlink_to(bin_dir)
    found = hs.setid_programs([str(bin_dir), str(lib), str(tmp_path / "missing"), str(bin_dir / "ls")])
    assert found == [str(bin_dir / "sudo"), str(bin_dir / "wall"), str(lib / "sub" / "helper")]


def test_nft_tables_loaded():
    run = FakeRun()
    assert hs.nft_tables_loaded(["inet pyops_filter", "ip other"], run, "/usr/sbin/nft") == ["inet pyops_filter"]
    assert run.calls[0] == ["/usr/sbin/nft", "list", "table", "inet", "pyops_filter"]
    assert hs.nft_tables_loaded(["inet pyops_filter"], run, None) == [], "no nft: nothing loaded"


@pytest.fixture
def host(tmp_path, monkeypatch):
    """A fake systemctl and nft behind AnsibleModule.run_command, and the files of a host in tmp."""
    fake = FakeRun()
    monkeypatch.setattr(AnsibleModule, "run_command", lambda self, argv, **kw: fake(argv))
    monkeypatch.setattr(
        AnsibleModule,
        "get_bin_path",
        lambda self, name, required=False, opt_dirs=None: f"/usr/bin/{name}",
    )
    (tmp_path / "ssh_host_rsa_key.pub").write_text(rsa_pub(2048))
    (tmp_path / "ssh_host_ed25519_key").write_text("key\n")
    (tmp_path / "moduli").write_text("20230316052119 2 6 100 2047 5 D4F4\n")
    (tmp_path / "status").write_text(STATUS)
    (tmp_path / "setuid").write_text("")
    (tmp_path / "setuid").chmod(0o4755)
    return tmp_path


def test_module_reads_the_same_in_check_mode_and_changes_nothing(capsys, host):
    me = pwd.getpwuid(os.getuid())
    args = {
        "units": UNITS,
        "group": grp.getgrgid(me.pw_gid).gr_name,
        "users": [me.pw_name, "no-such-user-pyops"],
        "rsa_public_key": str(host / "ssh_host_rsa_key.pub"),
        "paths": [str(host / "ssh_host_ed25519_key"), str(host / "missing")],
        "moduli": str(host / "moduli"),
        "nft_tables": ["inet pyops_filter"],
        "setid_directories": [str(host)],
        "packages": True,
        "dpkg_status": str(host / "status"),
    }
    before = sorted((p.name, p.read_bytes()) for p in host.iterdir())
    results = [run_module(hardening_state, capsys, args, check=check) for check in (True, False, True, False)]
    for result in results:
        assert result["changed"] is False
        result.pop("invocation", None)
    assert results[0] == results[1] == results[2] == results[3]
    result = results[0]
    assert result["units_active"] == ["ssh.service", "fail2ban.service"]
    assert result["units_enabled"] == ["ssh.service", "ssh.socket"]
    assert result["packages"] == {"openssh-server": "1:9.2p1-2+deb12u3", "libc6": "2.36-9+deb12u9", "nginx": "1.22.1-9"}
    assert result["group_exists"] is True
    assert result["users_missing"] == ["no-such-user-pyops"]
    assert result["empty_password_accounts"] == [], "not asked for"
    assert result["rsa_public_key_bits"] == 2048
    assert result["paths_present"] == [str(host / "ssh_host_ed25519_key")]
    assert result["small_moduli"] == 1
    assert result["nft_tables_loaded"] == ["inet pyops_filter"]
    assert result["setid_programs"] == [str(host / "setuid")]
    assert sorted((p.name, p.read_bytes()) for p in host.iterdir()) == before


def test_module_without_options_reads_nothing(capsys, host):
    result = run_module(hardening_state, capsys, {})
    assert result["changed"] is False
    assert result["units_active"] == result["units_enabled"] == result["paths_present"] == []
    assert result["packages"] == {}
    assert (result["group_exists"], result["rsa_public_key_bits"], result["small_moduli"]) == (False, 0, 0)


def test_module_fails_on_an_unreadable_moduli_file(capsys, host):
    (host / "moduli.d").mkdir()
    result = run_module(hardening_state, capsys, {"moduli": str(host / "moduli.d")})
    assert result["failed"] is True
    assert result["msg"].startswith("Reading the host state failed")
