"""The app_server role's state read: a rerun that changes nothing reaches each host with one task per
app, a host that drifted is found out and repaired by the role's usual tasks, and a job for one host
runs on one only and moves when that host leaves.

The tests run serve.yml (converge's own app_server play) for both hosts at once, so they take no
`host` fixture. They run after test_app_server.py, which leaves the hosts as converge left them.
"""

import json
import re

import pytest
from scenario_hosts import scenario_host

SERVE = "molecule/app_server/serve.yml"
HOSTS = ["pyops-appsrv-debian12", "pyops-appsrv-debian13"]
ROLE = "pyops.deploy.app_server : "
READ = "Read the app's user, directories, files and units in one go"
ARG_SPEC = "Validating arguments against arg spec"
# What runs of the role when nothing differs: the argument spec's validation, the settings check,
# the state read (the one task that reaches the host) and the check of its server_missing.
UNCHANGED_RUN = {ARG_SPEC, "Check the app's settings", READ, "Check the release's venv holds the server"}
# The includes of the tasks that change the host, skipped then (with those of app_server_state absent and
# of the units of dropped jobs, tests/test_two_apps.py).
CHANGING = {
    "Take the app away",
    "Take away the units of the jobs dropped from app_server_jobs",
    "Create the app's user and files",
    "Write the server configuration and systemd units",
    "Start the app",
}


def role_tasks(stdout):
    """{task name: set of statuses} of the app_server role's tasks in a default-callback log."""
    tasks, name = {}, None
    for line in stdout.splitlines():
        header = re.match(r"TASK \[(.*)\] \*+$", line)
        if header:
            name = header.group(1)[len(ROLE) :] if header.group(1).startswith(ROLE) else None
            if name and name.startswith(ARG_SPEC):
                name = ARG_SPEC  # named after the entry point's description
            continue
        status = re.match(r"(ok|changed|skipping|failed|fatal): \[", line)
        if name and status:
            tasks.setdefault(name, set()).add(status.group(1))
    return tasks


def ran(tasks):
    return {name for name, statuses in tasks.items() if statuses & {"ok", "changed", "failed", "fatal"}}


def recaps(stdout):
    return {host: line for line in stdout.splitlines() for host in HOSTS if line.startswith(host) and "ok=" in line}


@pytest.fixture(scope="module")
def hosts():
    return {name: scenario_host(name) for name in HOSTS}


def test_a_rerun_that_changes_nothing_reads_each_host_once_per_app(ansible_playbook):
    run = ansible_playbook(SERVE)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    found = recaps(run.stdout)
    assert set(found) == set(HOSTS) and all(" changed=0 " in line for line in found.values()), found
    tasks = role_tasks(run.stdout)
    assert ran(tasks) == UNCHANGED_RUN, tasks
    assert {name for name, statuses in tasks.items() if statuses == {"skipping"}} == CHANGING, tasks
    assert "Write the socket unit" not in run.stdout


def failed_tasks(stdout):
    """The task banner and the first lines of each failure in a playbook's output (its tail may not hold them)."""
    lines = stdout.splitlines()
    found = []
    for index, line in enumerate(lines):
        if line.startswith(("fatal:", "failed:")):
            banner = next((lines[i] for i in range(index, -1, -1) if lines[i].startswith("TASK [")), "")
            found += [banner, *lines[index : index + 15], ""]
    return "\n".join(found) + "\n"


def test_a_drifted_app_is_found_out_and_repaired_without_showing_its_env_file(ansible_playbook, hosts, http_probe):
    for host in hosts.values():
        host.run_expect(
            [0],
            "chmod 0600 /etc/systemd/system/flask.socket"
            " && systemctl disable --now flask-heartbeat.timer"
            " && sed -i 's/^timeout = .*/timeout = 99/' /etc/flask/gunicorn.conf.py",
        )
    secrets = {"not-a-real-secret", "FAKEnotarealkey"}
    secrets |= {h.check_output("sha1sum /etc/flask/env").split()[0] for h in hosts.values()}
    # -vvv prints every task's arguments and every command sent over SSH: the env file's content
    # and digest must still not show.
    run = ansible_playbook(SERVE, "-vvv")
    output = run.stdout + run.stderr
    assert run.returncode == 0, failed_tasks(run.stdout) + run.stdout[-3000:] + run.stderr[-2000:]
    assert not [secret for secret in secrets if secret in output]
    found = recaps(run.stdout)
    assert set(found) == set(HOSTS) and not any(" changed=0 " in line for line in found.values()), found
    # The read says what differs (its result's differs, shown from -v on, maybe folded).
    words = " ".join(output.split())
    for reason in (
        "/etc/systemd/system/flask.socket mode 0600, not 0644",
        "flask-heartbeat.timer not enabled (disabled)",
        "flask-heartbeat.timer not active (inactive)",
        "/etc/flask/gunicorn.conf.py content",
    ):
        assert reason in words, reason
    tasks = role_tasks(run.stdout)
    for name in (
        "Write the socket unit",
        "Write the server configuration for gunicorn",
        "Run the server and its jobs once a release is in place",
    ):
        assert "changed" in tasks[name], (name, tasks[name])
    # The FastAPI app, unchanged, took the one-read path in the same run.
    assert "Write the server configuration for uvicorn" not in tasks
    assert all(tasks[name] == {"skipping"} for name in CHANGING), tasks
    for host in hosts.values():
        assert host.file("/etc/systemd/system/flask.socket").mode == 0o644
        assert host.check_output("systemctl is-enabled flask-heartbeat.timer") == "enabled"
        assert host.check_output("systemctl is-active flask-heartbeat.timer") == "active"
        assert "timeout = 30" in host.file("/etc/flask/gunicorn.conf.py").content_string
        for address in ("/run/flask.sock", "127.0.0.1:8001", "127.0.0.1:8002"):
            reply = http_probe(host, address)
            assert reply["failed"] == 0, (address, reply)
            assert json.loads(reply["body"])["release"] == "r1"


def test_a_job_for_one_host_runs_on_the_first_and_moves_when_that_host_leaves(ansible_playbook, hosts):
    def beat():
        verbs = ("is-enabled", "is-active")
        return {
            name: tuple(host.run(f"systemctl {verb} flask-beat.service").stdout.strip() for verb in verbs)
            for name, host in hosts.items()
        }

    first, second = sorted(HOSTS)
    # The default hosts are the play's, as this inventory has no appservers group.
    assert beat() == {first: ("enabled", "active"), second: ("disabled", "inactive")}
    # The first host leaves the hosts the job may run on: the job moves to the next, in the same run.
    run = ansible_playbook(SERVE, "-e", json.dumps({"app_server_job_hosts": [second]}))
    assert run.returncode == 0, failed_tasks(run.stdout) + run.stdout[-3000:] + run.stderr[-2000:]
    assert beat() == {first: ("disabled", "inactive"), second: ("enabled", "active")}
    assert "Stop the jobs that run on another host" in role_tasks(run.stdout)
    for host in hosts.values():  # a job for every host stays on every host
        assert host.check_output("systemctl is-active flask-worker.service") == "active"
