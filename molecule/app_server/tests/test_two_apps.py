"""A second app on the same hosts (second_app.yml): it serves beside the Flask sample, a job dropped from
its app_server_jobs loses its units (an operator's unit under the app's prefix stays), and
app_server_state absent takes it away, in check mode first (nothing changes), then for real (units,
port, files, data and user gone), then again (nothing left to change); the Flask sample, untouched, serves
throughout. Runs after test_state_read.py and leaves the hosts as it found them.
"""

import json

import pytest
from scenario_hosts import scenario_host

PLAYBOOK = "molecule/app_server/second_app.yml"
HOSTS = ["pyops-appsrv-debian12", "pyops-appsrv-debian13"]
UNITS = "/etc/systemd/system"
# An operator's unit under the app's name prefix, not written by the role: it must survive everything.
OPERATORS = f"{UNITS}/second-backup.service"
CONNECT = "python3 -c 'import socket; socket.create_connection((\"127.0.0.1\", 8003), 3)'"


@pytest.fixture(scope="module")
def hosts():
    return {name: scenario_host(name) for name in HOSTS}


def recaps(stdout):
    return {host: line for line in stdout.splitlines() for host in HOSTS if line.startswith(host) and "ok=" in line}


def run_ok(ansible_playbook, *args):
    run = ansible_playbook(PLAYBOOK, *args)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    found = recaps(run.stdout)
    assert set(found) == set(HOSTS), run.stdout[-2000:]
    return run, found


def main_pids(host):
    return {
        u: host.check_output(f"systemctl show -p MainPID --value {u}")
        for u in ("flask.service", "flask-worker.service")
    }


def test_a_second_app_serves_loses_a_dropped_job_and_is_taken_away(ansible_playbook, hosts, http_probe):
    first = {name: main_pids(host) for name, host in hosts.items()}
    run, _ = run_ok(ansible_playbook)
    for host in hosts.values():
        reply = http_probe(host, "127.0.0.1:8003")
        assert reply["failed"] == 0 and json.loads(reply["body"])["release"] == "r1", reply
        assert host.check_output("systemctl is-active second-worker.service second-tick.timer").split() == [
            "active",
            "active",
        ]
        host.run_expect([0], f"printf '[Service]\\nExecStart=/bin/true\\n' > {OPERATORS}")

    # The worker leaves app_server_jobs: its unit is stopped, disabled and removed, the rest stays.
    tick = [{"name": "tick", "command": "/bin/true", "on_calendar": "hourly"}]
    run, _ = run_ok(ansible_playbook, "-e", json.dumps({"second_jobs": tick}))
    assert "Stop and disable the units that go" in run.stdout
    for host in hosts.values():
        assert not host.file(f"{UNITS}/second-worker.service").exists
        assert host.run("systemctl show -p LoadState --value second-worker.service").stdout.strip() == "not-found"
        assert host.run("pgrep -u second -f 'time.sleep'").rc == 1  # the worker's process is gone
        assert host.file(f"{UNITS}/second-tick.timer").exists and host.file(OPERATORS).exists
    # (The next run changing nothing after a dropped job is molecule/alone's: deploy's second run.)

    # Check mode says what absent would change, and changes nothing.
    absent = json.dumps({"second_state": "absent", "second_jobs": []})
    run, found = run_ok(ansible_playbook, "--check", "--diff", "-e", absent)
    assert not any(" changed=0 " in line for line in found.values()), found
    for host in hosts.values():
        assert http_probe(host, "127.0.0.1:8003")["failed"] == 0
        assert host.file("/etc/second/env").exists and host.user("second").exists

    # Taken away: the timer of a job no longer listed too, found by its mark.
    run, found = run_ok(ansible_playbook, "-e", absent)
    assert not any(" changed=0 " in line for line in found.values()), found
    for host in hosts.values():
        for unit in ("second.socket", "second.service", "second-tick.timer", "second-tick.service"):
            assert not host.file(f"{UNITS}/{unit}").exists, unit
            assert host.run(f"systemctl show -p LoadState --value {unit}").stdout.strip() == "not-found", unit
        assert not host.file(f"{UNITS}/second-candidate@.service").exists
        assert not host.file(f"{UNITS}/second-hook-.service.d").exists
        assert host.run(CONNECT).rc != 0  # nothing listens on its port
        assert not host.file("/etc/second").exists and not host.file("/srv/second").exists
        assert not host.user("second").exists
        # What it shared and what it did not write stay: the Flask sample's group and release, the operator's unit.
        assert host.group("flask").exists and host.file("/srv/flask/releases/r1/venv/bin/gunicorn").exists
        assert host.file(OPERATORS).exists
    run, found = run_ok(ansible_playbook, "-e", absent)
    assert all(" changed=0 " in line for line in found.values()), found

    # The first app was neither stopped nor restarted, and serves.
    for name, host in hosts.items():
        host.run_expect([0], f"rm -f {OPERATORS} && systemctl daemon-reload")
        assert main_pids(host) == first[name]
        for address in ("/run/flask.sock", "127.0.0.1:8001"):
            assert http_probe(host, address)["failed"] == 0
