# -*- coding: utf-8 -*-  # noqa: UP009
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""``pyops.deploy.hardening_connection``: the connected account and the SSH client's address."""

from __future__ import annotations

import grp
import os
import pwd

import pytest

from ansible_collections.pyops.deploy.plugins.module_utils import _hardening_connection as hc
from ansible_collections.pyops.deploy.plugins.modules import hardening_connection
from ansible_collections.pyops.deploy.tests.unit.plugins.modules.test_release_module import run_module


@pytest.mark.parametrize(
    ("client", "sources", "source", "is_outside"),
    [
        ("10.0.0.5 50000 22", ["10.0.0.0/24"], "10.0.0.5", False),
        ("10.0.0.5 50000 22", ["192.0.2.0/24", "2001:db8::/32"], "10.0.0.5", True),
        # An IPv4-mapped client is its IPv4 address.
        ("::ffff:10.0.0.5 50000 22", ["10.0.0.0/8"], "10.0.0.5", False),
        ("2001:db8::7 50000 22", ["::/0"], "2001:db8::7", False),
        # A malformed source is skipped, not an error (nft -c names it).
        ("10.0.0.5 50000 22", ["10.0.0.300/8", "10.0.0.5"], "10.0.0.5", False),
        # Not SSH, or sshd on a pipe: no address, nothing to shut out.
        ("", ["192.0.2.0/24"], "", False),
        ("UNKNOWN 0 0", ["192.0.2.0/24"], "", False),
    ],
)
def test_ssh_source_and_whether_the_sources_leave_it_out(client, sources, source, is_outside, tmp_path):
    result = hc.read_connection(sources, environ={"SSH_CLIENT": client, "HOME": str(tmp_path)})
    assert result["ssh_source"] == source
    assert result["ssh_source_outside"] is is_outside


def test_account_groups_and_keys(tmp_path):
    me = pwd.getpwuid(os.getuid())
    result = hc.account(environ={"HOME": str(tmp_path)})
    assert result["user"] == me.pw_name
    assert result["groups"][0] == grp.getgrgid(me.pw_gid).gr_name
    assert result["authorized_keys"] is False
    (tmp_path / ".ssh").mkdir()
    (tmp_path / ".ssh" / "authorized_keys").write_text("")
    assert hc.account(environ={"HOME": str(tmp_path)})["authorized_keys"] is False, "an empty file holds no key"
    (tmp_path / ".ssh" / "authorized_keys2").write_text("ssh-ed25519 AAAA test\n")
    assert hc.account(environ={"HOME": str(tmp_path)})["authorized_keys"] is True


def test_module_reads_in_check_mode_and_changes_nothing(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("SSH_CLIENT", "192.0.2.9 40000 22")
    monkeypatch.setenv("HOME", str(tmp_path))
    for check in (True, False):
        result = run_module(hardening_connection, capsys, {"ssh_sources": ["10.0.0.0/8"]}, check=check)
        assert result["changed"] is False
        assert result["ssh_source"] == "192.0.2.9"
        assert result["ssh_source_outside"] is True
