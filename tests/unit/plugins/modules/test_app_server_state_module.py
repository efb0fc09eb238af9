# -*- coding: utf-8 -*-  # noqa: UP009
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Drive ``pyops.deploy.app_server_state`` through AnsibleModule on the scratch tree of its module_utils tests."""

from __future__ import annotations

import hashlib
import json

import pytest
from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pyops.deploy.plugins.module_utils._systemd_units import SHOW_PROPERTIES
from ansible_collections.pyops.deploy.plugins.modules import app_server_state
from ansible_collections.pyops.deploy.tests.unit.plugins.module_utils.test_app_server_state import (
    CONTENT,
    SYSTEMCTL,
    run_command,
    unit,
)
from ansible_collections.pyops.deploy.tests.unit.plugins.module_utils.test_app_server_state import (
    tree as tree_fixture,
)
from ansible_collections.pyops.deploy.tests.unit.plugins.modules.test_release_module import run_module

tree = tree_fixture


@pytest.fixture
def systemctl(monkeypatch):
    SYSTEMCTL.update(units={}, rc=0, calls=[])
    monkeypatch.setattr(AnsibleModule, "run_command", lambda self, argv, **kwargs: run_command(argv))
    monkeypatch.setattr(AnsibleModule, "get_bin_path", lambda self, name, *args, **kwargs: name)
    return SYSTEMCTL


def arguments(query):
    """The role's query as the module's options: no user is an omitted user."""
    return {name: value for name, value in query.items() if value != {}}


@pytest.mark.parametrize("check", [False, True])
def test_the_module_answers_what_the_read_found_and_changes_nothing(tree, systemctl, capsys, check):
    query = tree[1]
    query.update(units=["app.socket"], reload_units=["app.socket"])
    systemctl["units"] = {"app.socket": unit("app.socket")}
    result = run_module(app_server_state, capsys, arguments(query), check=check)
    result.pop("invocation")
    assert result == {"changed": False, "current": True, "differs": [], "daemon_reload": False}
    assert systemctl["calls"] == [["systemctl", "show", "--no-pager", "-p", SHOW_PROPERTIES, "--", "app.socket"]]


def test_neither_content_nor_digest_shows_in_the_result(tree, systemctl, capsys):
    path, query = tree
    env = path / "etc" / "env"
    env.write_bytes(b'APP_SECRET="another"\n')
    result = run_module(app_server_state, capsys, arguments(query))
    assert result["differs"] == [f"{env} content"]
    text = json.dumps(result)
    assert "not-a-real-secret" not in text and "another" not in text
    assert hashlib.sha1(CONTENT).hexdigest() not in text
    assert hashlib.sha1(env.read_bytes()).hexdigest() not in text
    assert result["invocation"]["module_args"]["files"][0]["sha1"] == "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"


def test_a_bad_query_fails_with_words_and_no_digest(tree, systemctl, capsys):
    query = tree[1]
    del query["files"][0]["owner"]
    result = run_module(app_server_state, capsys, arguments(query))
    assert result["failed"] is True
    assert "missing required arguments: owner" in result["msg"]
    assert hashlib.sha1(CONTENT).hexdigest() not in json.dumps(result)
    bad = run_module(app_server_state, capsys, {"current": "/"})
    assert bad == {
        "changed": False,
        "current": True,
        "differs": [],
        "daemon_reload": False,
        "invocation": bad["invocation"],
    }


def test_an_unexpected_error_is_reported_by_type_and_words(tree, systemctl, capsys, monkeypatch):
    query = tree[1]

    def broken(*args):
        raise KeyError("group")

    monkeypatch.setattr(app_server_state, "read_state", broken)
    result = run_module(app_server_state, capsys, arguments(query))
    assert result["failed"] is True and result["msg"] == "app_server_state: KeyError: 'group'"


def test_the_module_checks_a_release_directory_for_its_server(tree, systemctl, capsys):
    path, _query = tree
    release = path / "root" / "releases" / "r2"
    (release / "venv" / "bin").mkdir(parents=True)
    result = run_module(
        app_server_state, capsys, {"current": str(release), "server": {"executable": "uwsgi"}}, check=True
    )
    assert result["changed"] is False and result["current"] is True
    assert result["server_missing"] == ["venv/bin/uwsgi (missing)"]
    assert systemctl["calls"] == []


@pytest.mark.parametrize("check", [False, True])
def test_the_module_lists_the_leftovers_of_dropped_jobs_and_changes_nothing(tree, systemctl, capsys, check, tmp_path):
    query = tree[1]
    units = tmp_path / "units"
    units.mkdir()
    marker = "# pyops.deploy.app_server: a unit of a job of the app app"
    for name in ("app-worker.service", "app-gone.service"):
        (units / name).write_text(f"{marker}\n[Unit]\n")
    systemctl["units"] = {"app-gone.service": unit("app-gone.service")}
    query["remove"] = {"unit_dir": str(units), "prefix": "app-", "marker": marker, "keep": ["app-worker.service"]}
    result = run_module(app_server_state, capsys, arguments(query), check=check)
    assert result["changed"] is False
    assert result["leftovers"] == {
        "units": ["app-gone.service"],
        "instances": [],
        "files": [str(units / "app-gone.service")],
        "paths": [],
    }
    assert sorted(p.name for p in units.iterdir()) == ["app-gone.service", "app-worker.service"]
