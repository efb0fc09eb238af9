# -*- coding: utf-8 -*-  # noqa: UP009
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The logic of ``pyops.deploy.app_server_state``, the app_server role's one-task state read, on a scratch tree.

Files and directories here belong to whoever runs the tests; systemctl is a stub. The role's run on
real hosts (the fast path taken, a drift repaired) is molecule/app_server/tests/test_state_read.py.
"""

from __future__ import annotations

import fnmatch
import grp
import hashlib
import json
import os
import pwd

import pytest

from ansible_collections.pyops.deploy.plugins.module_utils._app_server_state import read_state

OWNER = pwd.getpwuid(os.getuid()).pw_name
GROUP = grp.getgrgid(os.getgid()).gr_name
CONTENT = b'APP_SECRET="not-a-real-secret"\n'


def show(*units):
    """`systemctl show` output for units given as {property: value} dicts."""
    return "\n\n".join("\n".join(f"{k}={v}" for k, v in unit.items()) for unit in units) + "\n"


def unit(name, **props):
    base = {"Id": name, "LoadState": "loaded", "ActiveState": "active", "UnitFileState": "enabled"}
    return {**base, "NeedDaemonReload": "no", **props}


SYSTEMCTL = {"units": {}, "rc": 0, "calls": []}


def run_command(argv):
    """A run_command answering `systemctl show` and `list-units` with the units set in SYSTEMCTL; records the calls."""
    SYSTEMCTL["calls"].append(argv)
    names = argv[argv.index("--") + 1 :]
    if "list-units" in argv:
        found = [u for n, u in SYSTEMCTL["units"].items() if any(fnmatch.fnmatchcase(n, p) for p in names)]
        lines = [f"{u['Id']} {u['LoadState']} {u['ActiveState']} running {u['Id']} unit" for u in found]
        return SYSTEMCTL["rc"], "".join(f"{line}\n" for line in lines), "Failed to connect to bus"
    stdout = show(*(SYSTEMCTL["units"].get(n, {"Id": n, "LoadState": "not-found"}) for n in names))
    return SYSTEMCTL["rc"], stdout, "Failed to connect to bus"


def read(query):
    return read_state(query, run_command)


@pytest.fixture(autouse=True)
def systemctl():
    """The stub's state, reset for each test: .units, .rc, .calls."""
    SYSTEMCTL.update(units={}, rc=0, calls=[])
    return SYSTEMCTL


@pytest.fixture
def tree(tmp_path):
    """An app laid out as the role lays it out, and the query that finds nothing to change."""
    (tmp_path / "root" / "shared" / "log").mkdir(parents=True)
    (tmp_path / "etc").mkdir()
    env = tmp_path / "etc" / "env"
    env.write_bytes(CONTENT)
    (tmp_path / "root").chmod(0o750)
    (tmp_path / "root" / "shared" / "log").chmod(0o750)
    (tmp_path / "etc").chmod(0o750)
    env.chmod(0o640)
    (tmp_path / "root" / "current").symlink_to("releases/r1")  # dangling: it still is there
    query = {
        "current": str(tmp_path / "root" / "current"),
        "group": "",
        "user": {},
        "dirs": [
            {
                "paths": [str(tmp_path / "root"), str(tmp_path / "root" / "shared" / "log")],
                "owner": OWNER,
                "group": GROUP,
                "mode": "0750",
            },
            {"paths": [str(tmp_path / "etc")], "owner": OWNER, "group": GROUP, "mode": "750"},
        ],
        "files": [
            {
                "path": str(env),
                "sha1": hashlib.sha1(CONTENT).hexdigest(),
                "owner": OWNER,
                "group": GROUP,
                "mode": "0640",
            },
        ],
        "units": [],
        "release_units": [],
        "reload_units": [],
    }
    return tmp_path, query


def test_a_host_as_the_role_left_it_differs_in_nothing(tree, systemctl):
    query = tree[1]
    assert read(query) == {"current": True, "differs": [], "daemon_reload": False}
    assert systemctl["calls"] == []  # no unit to ask about, no systemctl


def test_content_owner_and_mode_are_each_a_difference_that_names_no_content(tree):
    path, query = tree
    env = path / "etc" / "env"
    env.write_bytes(b'APP_SECRET="another"\n')
    env.chmod(0o644)
    query["dirs"][0]["mode"] = "0755"
    query["files"][0]["owner"] = "0" if os.getuid() != 0 else "1"
    differs = read(query)["differs"]
    assert differs == [
        f"{path / 'root'} mode 0750, not 0755",
        f"{path / 'root' / 'shared' / 'log'} mode 0750, not 0755",
        f"{env} content",
        f"{env} owner",
        f"{env} mode 0644, not 0640",
    ]
    text = json.dumps(differs)
    assert "another" not in text and query["files"][0]["sha1"] not in text
    assert hashlib.sha1(env.read_bytes()).hexdigest() not in text


def test_missing_paths_links_and_symbolic_modes_are_differences(tree):
    path, query = tree
    (path / "root" / "shared" / "log").rmdir()
    env = path / "etc" / "env"
    env.rename(path / "etc" / "env.real")
    env.symlink_to("env.real")  # the template module would write a file in its place
    query["dirs"][1]["mode"] = "u=rwx,g=rx"
    query["current"] = str(path / "root" / "nothing")
    answer = read(query)
    assert answer["current"] is False
    assert answer["differs"] == [
        f"{path / 'root' / 'shared' / 'log'} missing",
        f"{path / 'etc'} mode u=rwx,g=rx not comparable",
        f"{env} not a regular file",
    ]


def test_a_linked_directory_is_followed_as_the_file_module_follows_it(tree):
    path, query = tree
    (path / "elsewhere").mkdir(mode=0o750)
    (path / "elsewhere").chmod(0o750)
    (path / "linked").symlink_to("elsewhere")
    query["dirs"][1]["paths"] = [str(path / "linked")]
    assert read(query)["differs"] == []
    (path / "elsewhere").chmod(0o700)
    assert read(query)["differs"] == [f"{path / 'linked'} mode 0700, not 0750"]


def test_unknown_owner_is_a_difference_not_an_error(tree):
    query = tree[1]
    query["dirs"][1]["owner"] = "pyops-no-such-user"
    query["dirs"][1]["group"] = "pyops-no-such-group"
    etc = query["dirs"][1]["paths"][0]
    assert read(query)["differs"] == [
        f"{etc} owner pyops-no-such-user unknown",
        f"{etc} group pyops-no-such-group unknown",
    ]


def test_user_and_group_are_read_as_the_user_and_group_modules_read_them(tree):
    query = tree[1]
    me = pwd.getpwuid(os.getuid())
    query["group"] = GROUP
    query["user"] = {"name": OWNER, "group": grp.getgrgid(me.pw_gid).gr_name, "home": me.pw_dir, "shell": me.pw_shell}
    assert read(query)["differs"] == []
    query["user"].update(home="/srv/elsewhere", shell="/usr/sbin/nologin-not")
    assert read(query)["differs"] == [f"user {OWNER} shell", f"user {OWNER} home"]
    query["group"] = "pyops-no-such-group"
    query["user"]["name"] = "pyops-no-such-user"
    assert read(query)["differs"] == ["group pyops-no-such-group missing", "user pyops-no-such-user missing"]


def test_units_are_read_in_one_systemctl_call(tree, systemctl):
    query = tree[1]
    query.update(
        units=["app.socket"],
        release_units=["app.service", "app-worker.service", "app-job.timer"],
        reload_units=["app.socket", "app.service", "app-worker.service", "app-job.service", "app-job.timer"],
    )
    systemctl["units"] = {
        name: unit(name)
        for name in ("app.socket", "app.service", "app-worker.service", "app-job.service", "app-job.timer")
    }
    systemctl["units"]["app-job.service"].update(ActiveState="inactive", UnitFileState="static")
    assert read(query) == {"current": True, "differs": [], "daemon_reload": False}
    assert len(systemctl["calls"]) == 1
    assert systemctl["calls"][0][-5:] == [
        "app.socket",
        "app.service",
        "app-worker.service",
        "app-job.timer",
        "app-job.service",
    ]

    systemctl["units"]["app.socket"].update(NeedDaemonReload="yes")
    systemctl["units"]["app-worker.service"].update(UnitFileState="disabled", ActiveState="failed")
    systemctl["units"]["app-job.timer"].update(ActiveState="activating", UnitFileState="enabled-runtime")
    answer = read(query)
    assert answer["daemon_reload"] is True
    assert answer["differs"] == [
        "app.socket changed on disk since systemd read it",
        "app-worker.service not enabled (disabled)",
        "app-worker.service not active (failed)",
        "app-job.timer not enabled (enabled-runtime)",
    ]


def test_units_of_a_release_are_left_alone_until_there_is_one(tree, systemctl):
    path, query = tree
    query.update(current=str(path / "nothing"), units=["app.socket"], release_units=["app.service"])
    query["reload_units"] = ["app.socket", "app.service"]
    systemctl["units"] = {"app.socket": unit("app.socket"), "app.service": unit("app.service", ActiveState="inactive")}
    systemctl["units"]["app.service"]["UnitFileState"] = "disabled"
    assert read(query) == {"current": False, "differs": [], "daemon_reload": False}
    query["current"] = str(path / "root" / "current")
    assert read(query)["differs"] == [
        "app.service not enabled (disabled)",
        "app.service not active (inactive)",
    ]


def test_a_missing_unit_or_a_failing_systemctl_is_a_difference(tree, systemctl):
    query = tree[1]
    query.update(units=["app.socket"], reload_units=["app.socket"])
    assert read(query)["differs"] == [
        "app.socket not loaded (not-found)",
        "app.socket not enabled (unknown)",
        "app.socket not active (unknown)",
    ]
    systemctl["rc"] = 1
    assert read(query)["differs"] == ["systemctl show failed: Failed to connect to bus"]


def test_a_directory_the_app_may_write_is_not_followed(tree):
    path, query = tree
    shared = path / "root" / "shared"
    (shared / "log").rmdir()
    (shared / "log").symlink_to(path / "etc")  # a directory with the right owner and mode, elsewhere
    query["dirs"][0]["follow"] = False
    assert read(query)["differs"] == [f"{shared / 'log'} a symbolic link, not a directory"]
    (shared / "log").unlink()
    (shared / "log").mkdir(mode=0o750)
    (shared / "log").chmod(0o750)
    assert read(query)["differs"] == []


def test_a_file_is_opened_without_following_a_link(tree, monkeypatch):
    """A link swapped in between the lstat and the open is refused by O_NOFOLLOW, not read."""
    path, query = tree
    env = path / "etc" / "env"
    real_lstat = os.lstat

    def lstat_then_swap(name, *args, **kwargs):
        found = real_lstat(name, *args, **kwargs)
        if str(name) == str(env):
            env.rename(path / "etc" / "env.real")
            env.symlink_to("env.real")
        return found

    monkeypatch.setattr(os, "lstat", lstat_then_swap)
    assert read(query)["differs"] == [f"{env} a symbolic link"]


def test_a_fifo_in_place_of_a_file_is_a_difference_not_a_hang(tree):
    path, query = tree
    env = path / "etc" / "env"
    env.unlink()
    os.mkfifo(env)
    assert read(query)["differs"] == [f"{env} not a regular file"]


# The server in the release's venv


def release_with(tmp_path, executable=True, module=True):
    release = tmp_path / "root" / "releases" / "r1"
    (release / "venv" / "bin").mkdir(parents=True)
    site = release / "venv" / "lib" / "python3.11" / "site-packages"
    site.mkdir(parents=True)
    if executable:
        (release / "venv" / "bin" / "gunicorn").write_text("#!/bin/sh\n")
        (release / "venv" / "bin" / "gunicorn").chmod(0o755)
    if module:
        (site / "uvicorn_worker").mkdir()
    return release


SERVER = {"venv": "venv", "executable": "gunicorn", "modules": ["uvicorn_worker"]}


def test_a_release_with_its_server_lacks_nothing(tree):
    path, query = tree
    release_with(path)
    assert read(dict(query, server=SERVER))["server_missing"] == []


def test_a_release_without_its_server_names_what_it_lacks(tree):
    path, query = tree
    release_with(path, executable=False, module=False)
    assert read(dict(query, server=SERVER))["server_missing"] == [
        "venv/bin/gunicorn (missing)",
        "the module uvicorn_worker (in venv/lib/python3*/site-packages)",
    ]


def test_a_module_may_be_a_single_file_and_a_non_executable_server_is_missing(tree):
    path, query = tree
    release = release_with(path, module=False)
    (release / "venv" / "lib" / "python3.11" / "site-packages" / "uvicorn_worker.py").write_text("")
    (release / "venv" / "bin" / "gunicorn").chmod(0o644)
    assert read(dict(query, server=SERVER))["server_missing"] == ["venv/bin/gunicorn (not an executable file)"]


def test_a_linked_server_executable_is_not_followed(tree):
    path, query = tree
    release = release_with(path, executable=False)
    (release / "venv" / "bin" / "gunicorn").symlink_to("/bin/sh")
    assert read(dict(query, server=SERVER))["server_missing"] == ["venv/bin/gunicorn (not an executable file)"]


def test_no_release_no_server_to_check(tree):
    path, query = tree
    (path / "root" / "current").unlink()
    assert read(dict(query, server=SERVER)) == {
        "current": False,
        "differs": [],
        "daemon_reload": False,
        "server_missing": [],
    }
    assert "server_missing" not in read(query)  # asked only when given


def test_a_job_that_runs_on_another_host_must_be_neither_enabled_nor_running(tree, systemctl):
    query = tree[1]
    query.update(stopped_units=["app-beat.service"], reload_units=["app-beat.service"])
    beat = unit("app-beat.service", UnitFileState="disabled", ActiveState="inactive")
    systemctl["units"] = {"app-beat.service": beat}
    assert read(query) == {"current": True, "differs": [], "daemon_reload": False}
    assert systemctl["calls"][0][-1:] == ["app-beat.service"]  # the same single systemctl call

    systemctl["units"]["app-beat.service"].update(UnitFileState="enabled", ActiveState="activating")
    assert read(query)["differs"] == ["app-beat.service enabled (enabled)", "app-beat.service active (activating)"]
    # What systemd_service would leave alone with enabled: false is no difference either.
    systemctl["units"]["app-beat.service"].update(UnitFileState="enabled-runtime", ActiveState="failed")
    assert read(query)["differs"] == []


MARKER = "# pyops.deploy.app_server: a unit of a job of the app app"


@pytest.fixture
def units_dir(tmp_path):
    """Unit files as the role and an operator leave them: the app's jobs marked, the operator's not."""
    units = tmp_path / "units"
    units.mkdir()
    for name in ("app-worker.service", "app-nightly.service", "app-nightly.timer", "app-gone.service"):
        (units / name).write_text(f"# Ansible managed\n{MARKER}\n[Unit]\nDescription={name}\n")
    # Another app whose name starts with this one's, and its job: marked for that app, not this one.
    (units / "app-api.service").write_text("[Unit]\n")
    (units / "app-api-worker.service").write_text(f"{MARKER.replace('app app', 'app app-api')}\n[Unit]\n")
    # The operator's: no marker, or the marker inside a longer line.
    (units / "app-backup.service").write_text("[Unit]\nDescription=mine\n")
    (units / "app-note.service").write_text(f"# not {MARKER}\n")
    (units / "app.service").write_text("[Unit]\n")
    (units / "app-candidate@.service").write_text("[Unit]\n")
    return units


def remove_query(units_dir, **remove):
    return {"unit_dir": str(units_dir), "prefix": "app-", "marker": MARKER, **remove}


def test_only_marked_unit_files_of_dropped_jobs_are_left_over(tree, units_dir, systemctl):
    query = tree[1]
    systemctl["units"] = {
        "app-gone.service": unit("app-gone.service"),
        "app-nightly.timer": unit("app-nightly.timer", UnitFileState="disabled", ActiveState="inactive"),
        "app-nightly.service": unit("app-nightly.service", UnitFileState="static", ActiveState="inactive"),
    }
    query["remove"] = remove_query(units_dir, keep=["app-worker.service"])
    state = read(query)
    assert state["differs"] == []  # what is taken away is no difference: the role's tasks for it run
    # The operator's units and another app's jobs are not listed. The timer and its static service are
    # neither running nor enabled: nothing to stop or disable, so no task's round trip for them.
    assert state["leftovers"] == {
        "units": ["app-gone.service"],
        "instances": [],
        "files": [str(units_dir / n) for n in ("app-nightly.timer", "app-gone.service", "app-nightly.service")],
        "paths": [],
    }
    assert [call[1] for call in systemctl["calls"]] == ["show"]  # one call; no instance pattern, no list-units

    systemctl["units"]["app-nightly.timer"].update(UnitFileState="enabled", ActiveState="active")
    systemctl["units"]["app-nightly.service"].update(ActiveState="activating")
    # Running or enabled: listed, the timer before its service (stopped first, it cannot start it again).
    assert read(query)["leftovers"]["units"] == ["app-nightly.timer", "app-gone.service", "app-nightly.service"]

    query["remove"] = remove_query(units_dir, keep=["app-worker.service", "app-gone.service", "app-nightly.service"])
    assert read(query)["leftovers"]["files"] == [str(units_dir / "app-nightly.timer")]  # on_calendar dropped


def test_nothing_left_over_asks_systemd_nothing(tree, units_dir, systemctl):
    query = tree[1]
    keep = ["app-worker.service", "app-nightly.service", "app-nightly.timer", "app-gone.service"]
    query["remove"] = remove_query(units_dir, keep=keep)
    assert read(query)["leftovers"] == {"units": [], "instances": [], "files": [], "paths": []}
    assert systemctl["calls"] == []
    query["remove"] = remove_query(units_dir / "none", keep=[])  # no unit directory: nothing left either
    assert read(query)["leftovers"]["files"] == []


def test_a_linked_or_unreadable_marked_file_is_not_followed_nor_listed(tree, units_dir, tmp_path):
    query = tree[1]
    outside = tmp_path / "outside.service"
    outside.write_text(f"{MARKER}\n")
    (units_dir / "app-linked.service").symlink_to(outside)
    os.mkfifo(units_dir / "app-fifo.service")
    query["remove"] = remove_query(units_dir, keep=["app-worker.service", "app-nightly.service", "app-nightly.timer"])
    assert read(query)["leftovers"]["files"] == [str(units_dir / "app-gone.service")]


def test_an_app_removed_lists_its_units_instances_and_paths(tree, units_dir, systemctl, tmp_path):
    query = tree[1]
    systemctl["units"] = {
        "app.service": unit("app.service"),
        "app-worker.service": unit("app-worker.service"),
        "app-candidate@r1.service": unit("app-candidate@r1.service"),
        "app-candidate@r0.service": unit("app-candidate@r0.service", ActiveState="inactive"),
    }
    query["remove"] = remove_query(
        units_dir,
        units=["app.socket", "app.service", "app-candidate@.service"],
        instances=["app-candidate@*.service"],
        paths=[str(tmp_path / "etc"), str(tmp_path / "gone"), str(tmp_path / "root" / "current")],
    )
    left = read(query)["leftovers"]
    # app.socket has no file here: not listed. The units systemd has loaded, timers first; the candidate's
    # template has no state of its own, its running instance is stopped.
    assert left["units"] == ["app-worker.service", "app.service"]
    assert left["instances"] == ["app-candidate@r1.service"]
    names = ["app-nightly.timer", "app-candidate@.service", "app-gone.service", "app-nightly.service"]
    assert left["files"] == [str(units_dir / n) for n in [*names, "app-worker.service", "app.service"]]
    assert systemctl["calls"][-1][1:3] == ["list-units", "--all"]
    # A dangling link is a path to remove (the link, not what it names).
    assert left["paths"] == [str(tmp_path / "etc"), str(tmp_path / "root" / "current")]


def test_a_failing_systemctl_fails_the_read_of_leftovers(tree, units_dir, systemctl):
    query = tree[1]
    systemctl["rc"] = 1
    query["remove"] = remove_query(units_dir, keep=[])
    with pytest.raises(OSError, match="Failed to connect to bus"):
        read(query)
