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
from sandbox_site import APPS, HTTPS, ROOT, podman_host, served

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
    return variant(tmp_path_factory, "v2", "\nVERSION_MARK = 'v2'\n")


def test_interrupted_deploy_leaves_the_site_serving(run_playbook, v2):
    before = served()[0]
    run = run_playbook("pyops.deploy.deploy", "-e", f"deploy_src_dir={v2}", "-e", "deploy_release=v2", wait=False)
    first = podman_host(APPS[0])
    # Kill the run while it builds v2 on the first batch: after the release directory exists.
    for _attempt in range(240):
        if first.file("/srv/sample/releases/v2").exists:
            break
        time.sleep(0.5)
    else:
        pytest.fail("the deploy never started building v2")
    os.killpg(run.pid, signal.SIGKILL)
    run.wait()
    assert served()[0] == before


# The same release again, after the killed run: its lock and half-built release do not stop it.
def test_code_change_is_served_without_a_failed_request(run_playbook, v2):
    # Requests back to back through the proxy for the whole deploy, stopped when it ends.
    load = subprocess.Popen([sys.executable, str(PROBE), HTTPS, "/healthz", "3600"], stdout=subprocess.PIPE, text=True)
    run = run_playbook("pyops.deploy.deploy", "-e", f"deploy_src_dir={v2}", "-e", "deploy_release=v2")
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


def test_rollback_returns_to_the_previous_good_release(run_playbook):
    started = time.monotonic()
    run = run_playbook("pyops.deploy.rollback")
    elapsed = time.monotonic() - started
    assert run.returncode == 0, run.stdout[-3000:]
    releases, hosts = served()
    assert len(releases) == 1 and "v2" not in releases, releases
    assert hosts == set(APPS)
    print(f"rollback of {len(APPS)} hosts: {elapsed:.1f} s wall time")


def test_release_left_by_a_rollback_is_refused_before_anything_is_built(run_playbook):
    run = run_playbook("pyops.deploy.deploy", "-e", "deploy_release=v2")
    assert run.returncode != 0
    assert "Release v2 is marked failed on this host" in run.stdout, run.stdout[-3000:]
    assert "Take the deploy lock" not in run.stdout
    assert "Take this batch of app hosts out" not in run.stdout
    releases = served()[0]
    assert "v2" not in releases


def test_code_shipped_without_configuring_the_server(run_playbook, tmp_path_factory):
    v4 = variant(tmp_path_factory, "v4", "\nVERSION_MARK = 'v4'\n")
    units = {app: podman_host(app).file("/etc/systemd/system/sample.service").mtime for app in APPS}
    run = run_playbook(
        "pyops.deploy.deploy", "-e", f"deploy_src_dir={v4}", "-e", "deploy_release=v4",
        "-e", "deploy_configure_server=false",
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-3000:]
    assert served()[0] == {"v4"}
    # The app server's settings were read, but none of its tasks reached the hosts.
    assert "pyops.deploy.app_server : Write the service and candidate units" not in run.stdout
    assert {app: podman_host(app).file("/etc/systemd/system/sample.service").mtime for app in APPS} == units
