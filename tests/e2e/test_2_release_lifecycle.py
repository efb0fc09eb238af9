"""Interrupt, deploy, break, roll back and refuse releases of the Flask sample on the hardened sandbox.

The site test left the sample's first release on both app hosts. Every deploy here is what an
operator types (`ansible-playbook pyops.deploy.deploy ...` from their project); users are watched
through the proxy's published port.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
from sandbox_site import APPS, HTTPS, PROXY, ROOT, mitogen_env, podman_host, recap_changed, served

PROBE = ROOT / "molecule" / "http_probe.py"
pytestmark = pytest.mark.usefixtures("sandbox")


def variant(tmp_path_factory, name, patch):
    """A copy of the sample whose package __init__ gets `patch` appended."""
    path = tmp_path_factory.mktemp(name) / "app"
    shutil.copytree(ROOT / "examples" / "flask_app", path, ignore=shutil.ignore_patterns("__pycache__"))
    init = path / "pyops_sample_flask" / "__init__.py"
    init.write_text(init.read_text() + patch)
    return path


def releases_json(app):
    return json.loads(podman_host(app).file("/srv/sample/.releases.json").content_string)


@pytest.fixture(scope="module")
def v2(tmp_path_factory):
    """v2 as a directory that is also a git repository with the tag v2: deployed both ways."""
    path = variant(tmp_path_factory, "v2", "\nVERSION_MARK = 'v2'\n")
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "v2"], ["tag", "v2"]):
        subprocess.run(
            ["git", "-c", "user.name=e2e", "-c", "user.email=e2e@example.org", "-C", str(path), *args], check=True
        )
    return path


# v2's hooks: a `once` hook (a migration) that writes the host it ran on into the host's shared log
# dir, which the app may write; together, the hosts' files show where and how often it ran.
MIGRATIONS = "/srv/sample/shared/log/migrations"
V2_HOOKS = [{"name": "migrate", "once": True, "command": f"echo $(hostname) v2 >> {MIGRATIONS}"}]


def migrations():
    return {app: podman_host(app).run(f"cat {MIGRATIONS}").stdout.split() for app in APPS}


def deploy_v2_from_git(run_playbook, v2, *args, wait=True):
    """v2 from git, as prod deploys (a URL: the controller mirrors it), with its `once` hook."""
    return run_playbook(
        "pyops.deploy.deploy", "-e", "deploy_src_dir=", "-e", f"deploy_git_repo=file://{v2}",
        "-e", "deploy_git_ref=v2", "-e", "deploy_release=v2", "-e", json.dumps({"deploy_hooks": V2_HOOKS}),
        *args, wait=wait,
    )  # fmt: skip


def test_interrupted_deploy_leaves_the_site_serving(run_playbook, v2):
    before = served()[0]
    run = deploy_v2_from_git(run_playbook, v2, wait=False)
    first = podman_host(APPS[0])
    # Kill the run while it builds v2: once the release is unpacked, holding the lock.
    for _attempt in range(240):
        if first.file("/srv/sample/releases/v2").exists:
            break
        time.sleep(0.5)
    else:
        pytest.fail("the deploy never started building v2")
    os.killpg(run.pid, signal.SIGKILL)
    run.wait()
    assert served()[0] == before
    # The killed run's lock holds (its run id, not just its user@host): a new run waits for it.
    lock = json.loads(first.file("/srv/sample/.deploy.lock").content_string)
    assert lock["run_id"], lock
    again = deploy_v2_from_git(run_playbook, v2)
    assert again.returncode != 0
    assert "deploy lock on /srv/sample is held by" in again.stdout, again.stdout[-3000:]
    assert served()[0] == before


# The same release again after the killed run, with its lock broken on purpose (the AWX survey's
# question): the complete release it left is taken as it is, since it holds the same code.
def test_code_change_is_served_without_a_failed_request(run_playbook, v2):
    # Requests back to back through the proxy for the whole deploy, stopped when it ends.
    load = subprocess.Popen([sys.executable, str(PROBE), HTTPS, "/healthz", "3600"], stdout=subprocess.PIPE, text=True)
    run = deploy_v2_from_git(run_playbook, v2, "-e", "deploy_break_lock=true")
    load.terminate()
    report = json.loads(load.communicate(timeout=60)[0])
    assert run.returncode == 0, run.stdout[-3000:]
    assert report["sent"] > 100, report
    assert report["failed"] == 0, report
    releases, hosts = served()
    assert releases == {"v2"}
    assert hosts == set(APPS)
    # The running server is v2's venv (its interpreter path comes from v2's gunicorn script).
    for app in APPS:
        host = podman_host(app)
        pid = host.check_output("systemctl show -p MainPID --value sample")
        interpreter = host.file(f"/proc/{pid}/cmdline").content_string.split("\0")[0]
        assert interpreter == "/srv/sample/releases/v2/venv/bin/python"
        audit = host.file("/srv/sample/deploy-audit.jsonl").content_string.splitlines()
        assert any(f'"source": "git:file://{v2}@v2"' in line for line in audit), audit[-3:]
        assert not host.file("/srv/sample/.deploy.lock").exists
    # The migration ran once for the whole fleet, on one host.
    ran = [host for lines in migrations().values() for host in lines if host.startswith("pyops-")]
    assert len(ran) == 1 and ran[0] in APPS, migrations()


# Hooks run as the app's user, in its sandbox (the release is read-only to them). A release whose
# build fails on one host runs no `once` hook anywhere, and every host gives its lock back.
def test_a_host_that_fails_its_build_stops_the_once_hooks_everywhere(run_playbook, tmp_path_factory):
    v3b = variant(tmp_path_factory, "v3b", "\nVERSION_MARK = 'v3b'\n")
    before = migrations()
    probe = "/srv/sample/shared/log/hook-probe"
    probe_command = f"id -un > {probe}; touch /srv/sample/current/x 2>/dev/null && echo writable >> {probe}; true"
    fail_on_app2 = f'test "$(hostname)" != {APPS[1]} || {{ echo app2 cannot build v3b >&2; exit 3; }}'
    hooks = [
        {"name": "probe", "command": probe_command},
        {"name": "fails on app2", "command": fail_on_app2},
        {"name": "migrate", "once": True, "command": f"echo $(hostname) v3b >> {MIGRATIONS}"},
    ]
    run = run_playbook(
        "pyops.deploy.deploy", "-e", f"deploy_src_dir={v3b}", "-e", "deploy_release=v3b",
        "-e", json.dumps({"deploy_hooks": hooks}),
    )  # fmt: skip
    assert run.returncode != 0
    assert "hook fails on app2 failed (exit 3)" in run.stdout, run.stdout[-3000:]
    assert "app2 cannot build v3b" in run.stdout
    assert migrations() == before
    assert served()[0] == {"v2"}
    for app in APPS:
        host = podman_host(app)
        assert not host.file("/srv/sample/.deploy.lock").exists
        assert host.file(probe).content_string == "sample\n"


# The prod example names releases after the git ref: the same id with other code is refused before
# any host is locked or changed, instead of deploying nothing or unpacking over the old release.
def test_a_release_id_that_holds_other_code_is_refused(run_playbook, tmp_path_factory):
    other = variant(tmp_path_factory, "v2-other", "\nVERSION_MARK = 'not v2'\n")
    run = run_playbook("pyops.deploy.deploy", "-e", f"deploy_src_dir={other}", "-e", "deploy_release=v2")
    assert run.returncode != 0
    assert "Release v2 already exists on this host with other code" in run.stdout, run.stdout[-3000:]
    assert "pick a new deploy_release" in run.stdout
    assert "Take the deploy lock" not in run.stdout
    assert served()[0] == {"v2"}


def test_release_that_cannot_import_never_takes_traffic(run_playbook, tmp_path_factory):
    v3 = variant(tmp_path_factory, "v3", "\nraise RuntimeError('v3 is broken')\n")
    run = run_playbook("pyops.deploy.deploy", "-e", f"deploy_src_dir={v3}", "-e", "deploy_release=v3")
    assert run.returncode != 0
    assert "failed its health check" in run.stdout
    assert "v3 is broken" in run.stdout
    releases = served()[0]
    assert releases == {"v2"}
    # Every host built v3 and checked it as a candidate before any batch switched; a host may stop
    # before its own check when another's failure ends the play (max_fail_percentage 0).
    statuses = {app: releases_json(app)["releases"].get("v3", {}).get("status") for app in APPS}
    assert "failed" in statuses.values() and set(statuses.values()) <= {"failed", None}, statuses
    for app in APPS:
        assert not podman_host(app).file("/srv/sample/.deploy.lock").exists


# The failed v3 never took traffic: a plain rollback now has nothing to undo, and says so.
def test_rollback_after_a_failed_deploy_changes_nothing(run_playbook):
    before = {app: releases_json(app) for app in APPS}
    run = run_playbook("pyops.deploy.rollback")
    assert run.returncode == 0, run.stdout[-3000:]
    assert "failed before it took traffic" in run.stdout, run.stdout[-3000:]
    assert {app: recap_changed(run.stdout)[app] for app in APPS} == dict.fromkeys(APPS, 0)
    assert served()[0] == {"v2"}
    for app in APPS:
        assert releases_json(app)["releases"]["v2"]["status"] == "good"
        assert releases_json(app)["releases"] == before[app]["releases"]
        audit = podman_host(app).file("/srv/sample/deploy-audit.jsonl").content_string.splitlines()
        rollbacks = [entry for entry in map(json.loads, audit) if entry["action"] == "rolled_back"]
        assert rollbacks[-1]["result"] == "nothing to do", audit[-3:]


def test_rollback_returns_to_the_release_that_served_before(run_playbook):
    # v2 replaced the site's first release: that is where a rollback of v2 goes.
    first = json.loads(podman_host(APPS[0]).file("/srv/sample/.releases.json").content_string)
    before_v2 = first["releases"]["v2"]["served_from"]
    started = time.monotonic()
    run = run_playbook("pyops.deploy.rollback", "-e", f"deploy_rollback_to={before_v2}")
    elapsed = time.monotonic() - started
    assert run.returncode == 0, run.stdout[-3000:]
    releases, hosts = served()
    assert releases == {before_v2}, releases
    assert hosts == set(APPS)
    for app in APPS:
        assert releases_json(app)["releases"]["v2"]["status"] == "failed"
        assert not podman_host(app).file("/srv/sample/.deploy.lock").exists
    print(f"rollback of {len(APPS)} hosts: {elapsed:.1f} s wall time")


def test_release_left_by_a_rollback_is_refused_before_anything_is_built(run_playbook, v2):
    run = deploy_v2_from_git(run_playbook, v2)
    assert run.returncode != 0
    assert "Release v2 is marked failed on this host" in run.stdout, run.stdout[-3000:]
    assert "Take the deploy lock" not in run.stdout
    assert "Take this batch of app hosts out" not in run.stdout
    releases = served()[0]
    assert "v2" not in releases


# Also the tarball copied as a file (the others went inline), holding a shared dir of its own.
@pytest.fixture(scope="module")
def v4(tmp_path_factory):
    path = variant(tmp_path_factory, "v4", "\nVERSION_MARK = 'v4'\n")
    # log/ is a shared dir: the release's log stays the link to shared/log, whose owner stays the
    # app's. A package's own log/ is code like any other.
    (path / "log").mkdir()
    (path / "log" / ".gitkeep").write_text("")
    (path / "pyops_sample_flask" / "log").mkdir()
    (path / "pyops_sample_flask" / "log" / "__init__.py").write_text("")
    # Group-writable code, as git archive gives it (0664/0775): the release's must not be.
    (path / "pyops_sample_flask" / "__init__.py").chmod(0o664)
    (path / "pyops_sample_flask").chmod(0o775)
    # The tarball's own root entry is private: the release directory must not take its mode.
    path.chmod(0o700)
    return path


def test_code_shipped_without_configuring_the_server(run_playbook, v4):
    shared_log = {app: podman_host(app).check_output("stat -c '%U:%G %a' /srv/sample/shared/log") for app in APPS}
    units = {app: podman_host(app).file("/etc/systemd/system/sample.service").mtime for app in APPS}
    release_mode = {app: podman_host(app).file("/srv/sample/current").mode for app in APPS}
    run = run_playbook(
        "pyops.deploy.deploy", "-e", f"deploy_src_dir={v4}", "-e", "deploy_release=v4",
        "-e", "deploy_configure_server=false", "-e", "deploy_artifact_inline_max=0",
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-3000:]
    assert "Send the code to the host" in run.stdout
    assert served()[0] == {"v4"}
    for app in APPS:
        host = podman_host(app)
        assert host.check_output("stat -c '%U:%G %a' /srv/sample/shared/log") == shared_log[app]
        assert host.file("/srv/sample/releases/v4/log").linked_to == "/srv/sample/shared/log"
        assert host.file("/srv/sample/releases/v4/pyops_sample_flask/log/__init__.py").group == "sample"
        assert host.file("/srv/sample/releases/v4").mode == release_mode[app]
        assert host.file("/srv/sample/releases/v4").mode & 0o050 == 0o050
        # Root's code, readable by the app's group, writable by neither the app's user nor its group.
        code = host.file("/srv/sample/releases/v4/pyops_sample_flask/__init__.py")
        assert (code.user, code.group, code.mode & 0o022) == ("root", "sample", 0), oct(code.mode)
        package = host.file("/srv/sample/releases/v4/pyops_sample_flask")
        assert (package.user, package.mode & 0o022) == ("root", 0), oct(package.mode)
        assert host.run("runuser -u sample -- test -w /srv/sample/releases/v4/pyops_sample_flask/__init__.py").rc == 1
        # The copied tarball is gone once unpacked.
        assert host.run("ls /srv/sample/releases/.incoming-*").rc != 0
    # The app server's settings were read, but none of its tasks reached the hosts.
    assert "pyops.deploy.app_server : Write the service and candidate units" not in run.stdout
    assert {app: podman_host(app).file("/etc/systemd/system/sample.service").mtime for app in APPS} == units


# What an AWX job template of type "Check" runs: it says what the deploy would do, and does none of it.
def test_check_mode_reports_a_new_release_and_changes_nothing(run_playbook, tmp_path_factory, v4):
    v5 = variant(tmp_path_factory, "v5", "\nVERSION_MARK = 'v5'\n")
    before = {app: releases_json(app) for app in APPS}
    run = run_playbook(
        "pyops.deploy.deploy", "--check", "--diff", "-e", f"deploy_src_dir={v5}", "-e", "deploy_release=v5"
    )
    assert run.returncode == 0, run.stdout[-3000:]
    assert "current at v5 (now v4)" in run.stdout
    changed = recap_changed(run.stdout)
    assert all(changed[app] > 0 for app in APPS), changed
    assert served()[0] == {"v4"}
    for app in APPS:
        host = podman_host(app)
        assert not host.file("/srv/sample/releases/v5").exists
        assert not host.file("/srv/sample/.deploy.lock").exists
        assert releases_json(app) == before[app]
    # The release that runs already: nothing would change.
    run = run_playbook("pyops.deploy.deploy", "--check", "-e", f"deploy_src_dir={v4}", "-e", "deploy_release=v4")
    assert run.returncode == 0, run.stdout[-3000:]
    assert {app: recap_changed(run.stdout)[app] for app in APPS} == dict.fromkeys(APPS, 0)


# Mitogen is a supported engine (docs/mitogen.md): a code-only deploy under it, judged as the one above.
def test_a_code_change_under_mitogen_is_served_without_a_failed_request(run_playbook, tmp_path_factory):
    v5m = variant(tmp_path_factory, "v5m", "\nVERSION_MARK = 'v5m'\n")
    load = subprocess.Popen([sys.executable, str(PROBE), HTTPS, "/healthz", "3600"], stdout=subprocess.PIPE, text=True)
    run = run_playbook(
        "pyops.deploy.deploy", "-e", f"deploy_src_dir={v5m}", "-e", "deploy_release=v5m", env=mitogen_env()
    )
    load.terminate()
    report = json.loads(load.communicate(timeout=60)[0])
    assert run.returncode == 0, run.stdout[-3000:]
    assert "strategy plugins not included in ansible.builtin" in " ".join(run.stderr.split()), run.stderr[-2000:]
    assert report["sent"] > 100, report
    assert report["failed"] == 0, report
    assert served() == ({"v5m"}, set(APPS))
    for app in APPS:
        assert not podman_host(app).file("/srv/sample/.deploy.lock").exists
    # The same release again under Mitogen: nothing to do.
    again = run_playbook(
        "pyops.deploy.deploy", "-e", f"deploy_src_dir={v5m}", "-e", "deploy_release=v5m", env=mitogen_env()
    )
    assert again.returncode == 0, again.stdout[-3000:]
    assert {app: recap_changed(again.stdout)[app] for app in APPS} == dict.fromkeys(APPS, 0)


# A CI pipeline that builds the app's wheel ships it with its pinned requirements: the server imports
# the app from the release's virtualenv, and the release directory holds no source.
def test_a_wheel_is_served_from_the_releases_virtualenv(run_playbook, tmp_path_factory):
    v6 = variant(tmp_path_factory, "v6", "\nVERSION_MARK = 'v6'\n")
    dist = tmp_path_factory.mktemp("v6-dist")
    subprocess.run(["uv", "build", "--quiet", "--wheel", "--out-dir", str(dist), str(v6)], check=True)
    (wheel,) = dist.glob("*.whl")
    args = [
        "-e", "deploy_src_dir=", "-e", f"deploy_wheel={wheel}", "-e", "deploy_release=v6",
        "-e", f"deploy_wheel_requirements={ROOT / 'examples' / 'flask_app' / 'requirements.txt'}",
    ]  # fmt: skip
    run = run_playbook("pyops.deploy.deploy", *args)
    assert run.returncode == 0, run.stdout[-3000:]
    assert served()[0] == {"v6"}
    for app in APPS:
        host = podman_host(app)
        assert host.file(f"/srv/sample/releases/v6/{wheel.name}").exists
        assert not host.file("/srv/sample/releases/v6/pyops_sample_flask").exists
        # From / so that nothing but the venv can provide the package.
        where = host.check_output(
            "cd / && /srv/sample/releases/v6/venv/bin/python -c "
            "'import pyops_sample_flask as m; print(m.VERSION_MARK, m.__file__)'"
        )
        assert where.startswith("v6 /srv/sample/releases/v6/venv/lib/python3."), where
        audit = host.file("/srv/sample/deploy-audit.jsonl").content_string.splitlines()
        assert any(f'"source": "wheel:{wheel}"' in line for line in audit), audit[-3:]
    # The same wheel again: nothing to do.
    again = run_playbook("pyops.deploy.deploy", *args)
    assert again.returncode == 0, again.stdout[-3000:]
    assert {app: recap_changed(again.stdout)[app] for app in APPS} == dict.fromkeys(APPS, 0)


# The unpack task's result is hidden (it carries the code): its failure is told by the task after it.
def test_an_archive_that_cannot_be_unpacked_fails_with_the_reason(run_playbook, tmp_path_factory):
    archive = tmp_path_factory.mktemp("v7") / "build.tar.gz"
    archive.write_bytes(b"not a gzip stream\n")
    run = run_playbook("pyops.deploy.deploy", "-e", "deploy_src_dir=", "-e", f"deploy_archive={archive}")
    assert run.returncode != 0
    assert "Could not unpack the code into /srv/sample/releases/" in run.stdout, run.stdout[-3000:]
    assert "not in gzip format" in run.stdout, run.stdout[-3000:]
    assert served()[0] == {"v6"}
    for app in APPS:
        assert not podman_host(app).file("/srv/sample/.deploy.lock").exists


def journal_lines_of_ansible_modules(host):
    """(module, message) of every "Invoked with" line Ansible's modules logged on the host. Without
    python3-systemd a module logs through syslog (identifier ansible-<module>); with it, as the
    hardened hosts have, through journal.send with "ansible-<module> " ahead of the message."""
    out = host.check_output(
        "journalctl --no-pager -o json --output-fields=SYSLOG_IDENTIFIER,MESSAGE --grep 'Invoked with '"
    )
    lines = []
    for line in out.splitlines():
        entry = json.loads(line)
        message = entry.get("MESSAGE", "")
        if isinstance(message, list):  # journalctl's JSON gives a message with control characters as bytes
            message = bytes(message).decode(errors="replace")
        ident = entry.get("SYSLOG_IDENTIFIER", "")
        if message.startswith("ansible-"):
            ident, _space, message = message.partition(" ")
        if ident.startswith("ansible-"):
            lines.append((ident, message))
    return lines


# The tasks that send a script (and an inline tarball) in their arguments keep them out of the
# journal, which every deploy would otherwise grow by tens of kilobytes per host.
def test_scripts_sent_by_the_deploys_stay_out_of_the_hosts_journals():
    app_lines = journal_lines_of_ansible_modules(podman_host(APPS[0]))
    # Modules still log their calls: the release module's are there.
    assert any(ident.endswith(".release") for ident, _message in app_lines), app_lines[:5]
    for marker in ("def main(", "base64 -d"):
        assert not [msg[:300] for _ident, msg in app_lines if marker in msg]
    proxy_lines = journal_lines_of_ansible_modules(podman_host(PROXY))
    assert proxy_lines
    assert not [msg[:300] for _ident, msg in proxy_lines if "swapped in" in msg]
