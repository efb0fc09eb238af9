"""roles/app_server/files/app_state.py, the app_server role's one-task state read, on a scratch tree.

Files and directories here belong to whoever runs the tests; systemctl is a stub. The role's run on
real hosts (the fast path taken, a drift repaired) is molecule/app_server/tests/test_state_read.py.
"""

import grp
import hashlib
import json
import os
import pwd
import subprocess
import sys
from pathlib import Path

import pytest

from ansible_collections.pyops.deploy.tests.unit.role_files import load_role_file

app_state = load_role_file("app_server", "app_state.py")
SCRIPT = Path(app_state.__file__)

OWNER = pwd.getpwuid(os.getuid()).pw_name
GROUP = grp.getgrgid(os.getgid()).gr_name
CONTENT = b'APP_SECRET="not-a-real-secret"\n'


def show(*units):
    """`systemctl show` output for units given as {property: value} dicts."""
    return "\n\n".join("\n".join(f"{k}={v}" for k, v in unit.items()) for unit in units) + "\n"


def unit(name, **props):
    base = {"Id": name, "LoadState": "loaded", "ActiveState": "active", "UnitFileState": "enabled"}
    return {**base, "NeedDaemonReload": "no", **props}


@pytest.fixture
def systemctl(monkeypatch):
    """Answers `systemctl show` with the units set in .units; records the calls."""
    calls, state = [], {"units": {}, "rc": 0}

    def run(argv, **kwargs):
        calls.append(argv)
        names = argv[argv.index("--") + 1 :]
        stdout = show(*(state["units"].get(n, {"Id": n, "LoadState": "not-found"}) for n in names))
        return subprocess.CompletedProcess(argv, state["rc"], stdout, "Failed to connect to bus")

    monkeypatch.setattr(app_state.subprocess, "run", run)
    state["calls"] = calls
    return state


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
    assert app_state.main(query) == {"current": True, "differs": [], "daemon_reload": False}
    assert systemctl["calls"] == []  # no unit to ask about, no systemctl


def test_content_owner_and_mode_are_each_a_difference_that_names_no_content(tree):
    path, query = tree
    env = path / "etc" / "env"
    env.write_bytes(b'APP_SECRET="another"\n')
    env.chmod(0o644)
    query["dirs"][0]["mode"] = "0755"
    query["files"][0]["owner"] = "0" if os.getuid() != 0 else "1"
    differs = app_state.main(query)["differs"]
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
    answer = app_state.main(query)
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
    assert app_state.main(query)["differs"] == []
    (path / "elsewhere").chmod(0o700)
    assert app_state.main(query)["differs"] == [f"{path / 'linked'} mode 0700, not 0750"]


def test_unknown_owner_is_a_difference_not_an_error(tree):
    query = tree[1]
    query["dirs"][1]["owner"] = "pyops-no-such-user"
    query["dirs"][1]["group"] = "pyops-no-such-group"
    etc = query["dirs"][1]["paths"][0]
    assert app_state.main(query)["differs"] == [
        f"{etc} owner pyops-no-such-user unknown",
        f"{etc} group pyops-no-such-group unknown",
    ]


def test_user_and_group_are_read_as_the_user_and_group_modules_read_them(tree):
    query = tree[1]
    me = pwd.getpwuid(os.getuid())
    query["group"] = GROUP
    query["user"] = {"name": OWNER, "group": grp.getgrgid(me.pw_gid).gr_name, "home": me.pw_dir, "shell": me.pw_shell}
    assert app_state.main(query)["differs"] == []
    query["user"].update(home="/srv/elsewhere", shell="/usr/sbin/nologin-not")
    assert app_state.main(query)["differs"] == [f"user {OWNER} shell", f"user {OWNER} home"]
    query["group"] = "pyops-no-such-group"
    query["user"]["name"] = "pyops-no-such-user"
    assert app_state.main(query)["differs"] == ["group pyops-no-such-group missing", "user pyops-no-such-user missing"]


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
    assert app_state.main(query) == {"current": True, "differs": [], "daemon_reload": False}
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
    answer = app_state.main(query)
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
    assert app_state.main(query) == {"current": False, "differs": [], "daemon_reload": False}
    query["current"] = str(path / "root" / "current")
    assert app_state.main(query)["differs"] == [
        "app.service not enabled (disabled)",
        "app.service not active (inactive)",
    ]


def test_a_missing_unit_or_a_failing_systemctl_is_a_difference(tree, systemctl):
    query = tree[1]
    query.update(units=["app.socket"], reload_units=["app.socket"])
    assert app_state.main(query)["differs"] == [
        "app.socket not loaded (not-found)",
        "app.socket not enabled (unknown)",
        "app.socket not active (unknown)",
    ]
    systemctl["rc"] = 1
    assert app_state.main(query)["differs"] == ["systemctl show failed: Failed to connect to bus"]


def test_the_script_answers_one_json_line_and_a_bad_query_with_an_error(tree):
    query = tree[1]
    run = subprocess.run(
        [sys.executable, "-c", SCRIPT.read_text()], input=json.dumps(query), capture_output=True, text=True, check=False
    )
    assert run.returncode == 0 and run.stderr == ""
    assert json.loads(run.stdout) == {"current": True, "differs": [], "daemon_reload": False}
    bad = subprocess.run(
        [sys.executable, str(SCRIPT)], input='{"current": "/"}', capture_output=True, text=True, check=False
    )
    assert json.loads(bad.stdout) == {"error": "app_state.py: KeyError: 'group'"}
