"""Deploy, redeploy, break, roll back and interrupt the Flask sample, watched through the proxy.

The tests run in file order and each builds on the state the previous one left: converge deployed
release v1 to both app hosts behind the proxy.
"""

import json
import os
import shutil
import signal
import time
from pathlib import Path

import pytest
from testinfra.utils.ansible_runner import AnsibleRunner

INVENTORY = os.environ["MOLECULE_INVENTORY_FILE"]
PROJECT = Path(os.environ["MOLECULE_PROJECT_DIRECTORY"])
SAMPLE = PROJECT / "examples" / "flask_app"
RUNNER = AnsibleRunner(INVENTORY)
PROXY = RUNNER.get_hosts("proxies")[0]
APPS = RUNNER.get_hosts("appservers")
SITE = "https://localhost"

testinfra_hosts = [PROXY]


def variant(tmp_path_factory, name, patch):
    """A copy of the sample whose package __init__ gets `patch` appended."""
    path = tmp_path_factory.mktemp(name) / "app"
    shutil.copytree(SAMPLE, path, ignore=shutil.ignore_patterns("__pycache__"))
    init = path / "pyops_sample_flask" / "__init__.py"
    init.write_text(init.read_text() + patch)
    return path


def served(host, http_probe, requests=20):
    """Releases and hosts that answered `requests` health checks through the proxy."""
    seen = set()
    for _ in range(requests):
        reply = http_probe(host, SITE)
        assert reply["failed"] == 0, reply
        body = json.loads(reply["body"])
        seen.add((body["release"], body["host"]))
    return {release for release, _ in seen}, {h for _, h in seen}


def recap_changed(output):
    return {
        line.split()[0]: int(line.split("changed=")[1].split()[0]) for line in output.splitlines() if "changed=" in line
    }


def test_v1_is_served_by_both_app_hosts(host, http_probe):
    releases, hosts = served(host, http_probe)
    assert releases == {"v1"}
    assert hosts == set(APPS)


def test_same_release_again_changes_and_restarts_nothing(ansible_playbook, host):
    pids = {app: RUNNER.get_host(app).check_output("systemctl show -p MainPID --value sample") for app in APPS}
    run = ansible_playbook("playbooks/deploy.yml")
    assert run.returncode == 0, run.stdout[-3000:]
    assert set(recap_changed(run.stdout).values()) == {0}, run.stdout[-2000:]
    assert pids == {app: RUNNER.get_host(app).check_output("systemctl show -p MainPID --value sample") for app in APPS}


def test_code_change_is_served_without_a_failed_request(ansible_playbook, host, http_probe, tmp_path_factory):
    v2 = variant(tmp_path_factory, "v2", "\nVERSION_MARK = 'v2'\n")
    http_probe(host, SITE)
    host.run_expect([0], f"python3 {http_probe.path} {SITE} /healthz 40 > /tmp/deploy-load.json 2>&1 &")
    run = ansible_playbook("playbooks/deploy.yml", "-e", f"deploy_src_dir={v2}", "-e", "deploy_release=v2")
    assert run.returncode == 0, run.stdout[-3000:]
    host.run_expect([0], "for i in $(seq 60); do test -s /tmp/deploy-load.json && exit 0; sleep 1; done; exit 1")
    load = json.loads(host.file("/tmp/deploy-load.json").content_string)
    assert load["sent"] > 200, load
    assert load["failed"] == 0, load
    releases, _ = served(host, http_probe)
    assert releases == {"v2"}
    # The running server is v2's venv (its interpreter path comes from v2's gunicorn script).
    for app in APPS:
        pid = RUNNER.get_host(app).check_output("systemctl show -p MainPID --value sample")
        interpreter = RUNNER.get_host(app).file(f"/proc/{pid}/cmdline").content_string.split("\0")[0]
        assert interpreter == "/srv/sample/releases/v2/venv/bin/python"


def test_release_that_cannot_import_never_takes_traffic(ansible_playbook, host, http_probe, tmp_path_factory):
    v3 = variant(tmp_path_factory, "v3", "\nraise RuntimeError('v3 is broken')\n")
    run = ansible_playbook("playbooks/deploy.yml", "-e", f"deploy_src_dir={v3}", "-e", "deploy_release=v3")
    assert run.returncode != 0
    assert "failed its health check" in run.stdout
    assert "v3 is broken" in run.stdout
    releases, _ = served(host, http_probe)
    assert releases == {"v2"}
    # The first batch built v3 and recorded it failed; max_fail_percentage 0 kept the others off it.
    statuses = {}
    for app in APPS:
        records = json.loads(RUNNER.get_host(app).file("/srv/sample/.releases.json").content_string)
        statuses[app] = records["releases"].get("v3", {}).get("status")
        assert not RUNNER.get_host(app).file("/srv/sample/.deploy.lock").exists
    assert "failed" in statuses.values() and set(statuses.values()) <= {"failed", None}, statuses


def test_rollback_returns_to_the_previous_good_release(ansible_playbook, host, http_probe):
    started = time.monotonic()
    run = ansible_playbook("playbooks/rollback.yml", "-e", "deploy_serial=100%")
    elapsed = time.monotonic() - started
    assert run.returncode == 0, run.stdout[-3000:]
    releases, _ = served(host, http_probe)
    assert releases == {"v1"}
    print(f"rollback of {len(APPS)} hosts: {elapsed:.1f} s wall time")


def test_release_left_by_a_rollback_is_refused_before_anything_is_built(ansible_playbook, host, http_probe):
    run = ansible_playbook("playbooks/deploy.yml", "-e", "deploy_release=v2")
    assert run.returncode != 0
    assert "Release v2 is marked failed on this host" in run.stdout, run.stdout[-3000:]
    assert "Take the deploy lock" not in run.stdout
    assert "Take this batch of app hosts out" not in run.stdout
    releases, hosts = served(host, http_probe)
    assert releases == {"v1"}
    assert hosts == set(APPS)


def test_interrupted_deploy_leaves_the_site_serving_and_the_next_one_succeeds(
    ansible_playbook, host, http_probe, tmp_path_factory
):
    v4 = variant(tmp_path_factory, "v4", "\nVERSION_MARK = 'v4'\n")
    run = ansible_playbook("playbooks/deploy.yml", "-e", f"deploy_src_dir={v4}", "-e", "deploy_release=v4", wait=False)
    app = RUNNER.get_host(APPS[0])
    # Kill the run while it builds v4 on the first batch: after the release directory exists.
    for _ in range(120):
        if app.file("/srv/sample/releases/v4").exists:
            break
        time.sleep(0.5)
    else:
        pytest.fail("the deploy never started building v4")
    os.killpg(run.pid, signal.SIGKILL)
    run.wait()
    releases, _ = served(host, http_probe)
    assert releases == {"v1"}
    rerun = ansible_playbook("playbooks/deploy.yml", "-e", f"deploy_src_dir={v4}", "-e", "deploy_release=v4")
    assert rerun.returncode == 0, rerun.stdout[-3000:]
    releases, hosts = served(host, http_probe)
    assert releases == {"v4"}
    assert hosts == set(APPS)
