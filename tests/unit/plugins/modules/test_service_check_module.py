# -*- coding: utf-8 -*-  # noqa: UP009
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Drive ``pyops.deploy.service_check`` through AnsibleModule: systemctl is a stub, the HTTP server is real."""

from __future__ import annotations

import pytest
from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pyops.deploy.plugins.modules import service_check
from ansible_collections.pyops.deploy.tests.unit.plugins.module_utils.test_service_check import (
    FakeSystemd,
    http_servers,
)
from ansible_collections.pyops.deploy.tests.unit.plugins.modules.test_release_module import run_module


@pytest.fixture
def systemd(monkeypatch):
    fake = FakeSystemd()
    monkeypatch.setattr(AnsibleModule, "run_command", lambda self, argv, check_rc=False: fake(argv[:], check_rc))
    monkeypatch.setattr(AnsibleModule, "get_bin_path", lambda self, name, *args, **kwargs: name)
    return fake


@pytest.fixture
def server(tmp_path):
    with http_servers(tmp_path) as start:
        yield start


def test_check_mode_changes_nothing_and_reports_the_restart(capsys, systemd, server):
    srv, where = server("unix", (200, "ok"))
    args = {"name": "app.service", "socket": where["socket_path"], "enabled": True}
    result = run_module(service_check, capsys, args, check=True)
    result.pop("invocation")
    assert result == {"changed": True, "status": None, "attempts": 0}
    assert systemd.calls == [] and srv.seen == []


def test_restart_enable_and_check_over_tcp_with_the_host_header(capsys, systemd, server):
    srv, where = server("tcp", (503, "booting"), (200, '{"release": "r3"}'))
    args = {
        "name": "app.service",
        "url": "http://" + where["url"],
        "enabled": True,
        "path": "/healthz",
        "host_header": "shop.example.com",
        "expect": "r3",
        "delay": 0,
    }
    result = run_module(service_check, capsys, args)
    assert (result["changed"], result["status"], result["attempts"]) == (True, 200, 2)
    assert systemd.calls == [
        "systemctl is-enabled app.service",
        "systemctl enable --quiet app.service",
        "systemctl restart app.service",
    ]
    assert srv.seen == [{"path": "/healthz", "host": "shop.example.com"}] * 2


def test_a_failed_check_fails_the_task_with_the_reason_and_journal(capsys, systemd, server):
    where = server("unix", (200, "r1"))[1]
    args = {"name": "app.service", "socket": where["socket_path"], "expect": "r2", "retries": 2, "delay": 0}
    result = run_module(service_check, capsys, args)
    assert result["failed"] is True and result["attempts"] == 2 and result["status"] == 200
    assert result["msg"] == (
        "app.service failed its health check / after 2 requests: status 200, body 'r1' (expected 'r2')\n"
        "Log of app.service:\nline 1\nline 2"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({}, "one of the following is required: socket, url"),
        ({"socket": "/run/a.sock", "url": "127.0.0.1:1"}, "mutually exclusive: socket|url"),
        ({"url": "/run/a.sock"}, "url must be host:port or http://host:port"),
    ],
)
def test_where_to_ask_is_one_valid_address(capsys, systemd, args, message):
    result = run_module(service_check, capsys, {"name": "app.service", **args})
    assert result["failed"] is True and message in result["msg"], result
    assert systemd.calls == []


def test_a_venv_the_apps_user_cannot_load_is_refused_before_anything_starts(capsys, systemd, server, tmp_path):
    srv, where = server("unix", (200, "ok"))
    extension = tmp_path / "venv" / "lib" / "_speedups.so"
    extension.parent.mkdir(parents=True)
    extension.write_bytes(b"\x7fELF")
    for directory in (tmp_path / "venv", extension.parent):
        directory.chmod(0o755)
    args = {"name": "app-candidate@r2.service", "socket": where["socket_path"], "stop_first": "app-candidate@*"}
    args.update(readable_tree=str(tmp_path / "venv"), readable_by="nobody")
    extension.chmod(0o644)
    assert run_module(service_check, capsys, args)["status"] == 200
    systemd.calls.clear()
    extension.chmod(0o640)  # as a cache filled under umask 0027 leaves it: root:root 0640
    result = run_module(service_check, capsys, args)
    assert result["failed"] is True and result["attempts"] == 0, result
    assert result["msg"].startswith(f"1 extension module(s) or directories of {tmp_path / 'venv'} are not readable")
    assert str(extension) in result["msg"]
    assert systemd.calls == [] and len(srv.seen) == 1


def test_the_readable_check_needs_both_a_tree_and_a_known_user(capsys, systemd, tmp_path):
    base = {"name": "app.service", "socket": "/run/a.sock"}
    result = run_module(service_check, capsys, {**base, "readable_tree": str(tmp_path)})
    assert result["failed"] is True and "parameters are required together" in result["msg"], result
    result = run_module(service_check, capsys, {**base, "readable_tree": str(tmp_path), "readable_by": "no-such-pyops"})
    assert result["msg"] == "readable_by: there is no user 'no-such-pyops' on this host"
    assert systemd.calls == []
