# -*- coding: utf-8 -*-  # noqa: UP009
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Drive ``pyops.deploy.file_set`` through AnsibleModule on files in tmp."""

from __future__ import annotations

import os
import stat

import pytest

from ansible_collections.pyops.deploy.plugins.modules import file_set
from ansible_collections.pyops.deploy.tests.unit.plugins.modules.test_release_module import run_module, tree

ME = str(os.getuid())
MY_GROUP = str(os.getgid())
OWNER = {"owner": ME, "group": MY_GROUP}


@pytest.fixture
def run(capsys):
    def run(check=False, diff=False, **args):
        return run_module(file_set, capsys, args, check=check, diff=diff)

    return run


def arguments(base, plugin="#!/bin/sh\necho ok\n"):
    return {
        "directories": [{"path": str(base / "plugins"), "mode": "0750", **OWNER}],
        "files": [
            {"path": str(base / "plugins" / "check_one"), "content": plugin, "mode": "0755", **OWNER},
            {"path": str(base / "plugins" / "settings.json"), "content": '{"apps": []}\n', "mode": "0640", **OWNER},
        ],
    }


def test_check_run_check_run(run, tmp_path):
    args = arguments(tmp_path)
    first_check = run(check=True, diff=True, **args)
    assert first_check["changed"] is True
    assert first_check["changed_paths"] == [str(tmp_path / "plugins")] + [f["path"] for f in args["files"]]
    assert [d["after_header"] for d in first_check["diff"]] == first_check["changed_paths"]
    assert "echo ok" in first_check["diff"][1]["after"]
    assert tree(tmp_path) == {}, "check mode wrote something"

    first_run = run(diff=True, **args)
    assert first_run["changed_paths"] == first_check["changed_paths"]
    assert first_run["diff"] == first_check["diff"]
    written = tree(tmp_path)
    assert written["plugins"][:2] == ("dir", 0o750)
    assert written["plugins/check_one"] == ("file", b"#!/bin/sh\necho ok\n", 0o755)
    assert written["plugins/settings.json"] == ("file", b'{"apps": []}\n', 0o640)
    assert len(written) == 3, "a temporary file was left behind"

    for check in (True, False):
        again = run(check=check, diff=True, **args)
        assert again["changed"] is False, again
        assert again["changed_paths"] == []
        assert again["diff"] == []
    assert tree(tmp_path) == written


def test_content_and_mode_changes_are_the_only_changes(run, tmp_path):
    run(**arguments(tmp_path))
    (tmp_path / "plugins" / "settings.json").chmod(0o666)
    changed = run(diff=True, **arguments(tmp_path, plugin="#!/bin/sh\necho new\n"))
    assert changed["changed_paths"] == [str(tmp_path / "plugins" / n) for n in ("check_one", "settings.json")]
    plugin_diff, settings_diff = changed["diff"]
    assert (plugin_diff["before"], plugin_diff["after"]) == ("#!/bin/sh\necho ok\n", "#!/bin/sh\necho new\n")
    assert settings_diff["before"].startswith(f"# {ME}:{MY_GROUP} 0666\n")
    assert settings_diff["after"].startswith(f"# {ME}:{MY_GROUP} 0640\n")
    assert (tmp_path / "plugins" / "check_one").read_text() == "#!/bin/sh\necho new\n"
    assert stat.S_IMODE((tmp_path / "plugins" / "settings.json").stat().st_mode) == 0o640
    assert "diff" not in run(**arguments(tmp_path)), "a diff without --diff"


def test_a_link_in_place_of_a_file_is_replaced_and_never_followed(run, tmp_path):
    run(**arguments(tmp_path))
    outside = tmp_path / "outside"
    outside.write_text("not ours\n")
    outside.chmod(0o600)
    link = tmp_path / "plugins" / "settings.json"
    link.unlink()
    link.symlink_to(outside)
    result = run(diff=True, **arguments(tmp_path))
    assert result["changed_paths"] == [str(link)]
    assert result["diff"][0]["before"].startswith("(a symbolic link, replaced")
    assert outside.read_text() == "not ours\n"
    assert stat.S_IMODE(outside.stat().st_mode) == 0o600
    assert not os.path.islink(link)
    assert link.read_text() == '{"apps": []}\n'


def test_a_link_in_place_of_the_directory_is_refused(run, tmp_path):
    (tmp_path / "elsewhere").mkdir(mode=0o700)
    (tmp_path / "plugins").symlink_to(tmp_path / "elsewhere")
    result = run(**arguments(tmp_path))
    assert result["failed"] is True
    assert "is not a directory" in result["msg"]
    assert list((tmp_path / "elsewhere").iterdir()) == []
    assert stat.S_IMODE((tmp_path / "elsewhere").stat().st_mode) == 0o700


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"mode": "rw-r--r--"}, "is not an octal mode"),
        ({"group": "no-such-group-pyops"}, "group 'no-such-group-pyops' does not exist"),
        ({"path": "relative/key"}, "is not an absolute path"),
    ],
)
def test_bad_entries_fail_without_showing_the_content(run, tmp_path, entry, message):
    result = run(files=[{"path": str(tmp_path / "key"), "content": "SECRET-KEY\n", **OWNER, **entry}])
    assert result["failed"] is True
    assert message in result["msg"]
    assert "SECRET-KEY" not in result["msg"]
    assert not (tmp_path / "key").exists()


def test_check_mode_on_a_new_host_before_the_package_made_the_group(run, tmp_path):
    """The role runs this in check mode right after an apt task that would create the group."""
    args = {
        "directories": [{"path": str(tmp_path / "pki"), "owner": ME, "group": "no-such-group-pyops", "mode": "0750"}],
        "files": [{"path": str(tmp_path / "pki" / "agent.pem"), "content": "cert\n", "group": "no-such-group-pyops"}],
    }
    check = run(check=True, diff=True, **args)
    assert check["changed_paths"] == [str(tmp_path / "pki"), str(tmp_path / "pki" / "agent.pem")]
    assert check["diff"][0]["after"] == f"directory {ME}:no-such-group-pyops 0750\n"
    assert tree(tmp_path) == {}
    real = run(**args)
    assert real["failed"] is True
    assert "group 'no-such-group-pyops' does not exist" in real["msg"]


def test_the_hosts_log_gets_the_paths_not_the_contents(run, tmp_path, monkeypatch):
    logged = []
    monkeypatch.setattr(file_set.AnsibleModule, "log", lambda self, msg, log_args=None: logged.append(msg))
    run(**arguments(tmp_path, plugin="#!/bin/sh\ndef main(): secret-script-body\n"))
    assert logged == [
        f"Invoked with paths {tmp_path / 'plugins'} {tmp_path / 'plugins' / 'check_one'} "
        f"{tmp_path / 'plugins' / 'settings.json'}"
    ]


def test_missing_parents_of_the_directory_are_made(run, tmp_path):
    args = arguments(tmp_path / "usr" / "local")
    assert run(check=True, **args)["changed_paths"][0] == str(tmp_path / "usr" / "local" / "plugins")
    assert tree(tmp_path) == {}
    assert run(**args)["changed"] is True
    assert (tmp_path / "usr" / "local" / "plugins" / "check_one").read_text() == "#!/bin/sh\necho ok\n"
    assert stat.S_IMODE((tmp_path / "usr" / "local" / "plugins").stat().st_mode) == 0o750
    assert run(**args)["changed"] is False


def test_made_parents_get_the_directorys_mode_whatever_the_umask(run, tmp_path):
    # As ansible.builtin.file makes them: under a hardened umask (0027, root's on Debian 13 with the
    # hardening role), a parent left at 0750 root:root keeps NRPE's plugins out of the nagios user's reach.
    args = {"directories": [{"path": str(tmp_path / "lib" / "nagios" / "plugins"), "mode": "0755", **OWNER}]}
    old = os.umask(0o027)
    try:
        assert run(**args)["changed"] is True
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "lib").stat().st_mode) == 0o755
    assert stat.S_IMODE((tmp_path / "lib" / "nagios").stat().st_mode) == 0o755
    assert stat.S_IMODE((tmp_path / "lib" / "nagios" / "plugins").stat().st_mode) == 0o755
    assert run(**args)["changed"] is False
