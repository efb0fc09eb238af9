"""Every role's README minimal example, applied alone to a one-host inventory (converge.yml,
run_examples.py): the first run reached the host and passed, the second changed nothing; then what a
user sees of each role on the host at the end, in the order they were applied. Hardening's example
runs alone in molecule/hardening (tests/test_alone.py) instead.
"""

import json
import os
import sys
from pathlib import Path

import pytest

PROJECT = Path(os.environ["MOLECULE_PROJECT_DIRECTORY"])
sys.path.insert(0, str(PROJECT / "tools"))
import readme_examples  # noqa: E402

RESULTS = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "alone" / "results.json"
CONNECT = 'python3 -c "import socket, sys; socket.create_connection((sys.argv[1], int(sys.argv[2])), 3)" {} {}'
GET = (
    'python3 -c "import http.client, ssl, sys; c = (http.client.HTTPSConnection(sys.argv[1], 443, timeout=10,'
    " context=ssl._create_unverified_context()) if sys.argv[2] == 'https' else http.client.HTTPConnection("
    "sys.argv[1], int(sys.argv[2]), timeout=10)); c.request('GET', sys.argv[3], headers={{'Host': sys.argv[4]}});"
    " r = c.getresponse(); print(r.status, r.getheader('Location', '')); print(r.read().decode())\" {} {} {} {}"
)


def name(host):
    return host.backend.get_hostname()


def get(host, address, port, path="/healthz", host_header="shop.example.org"):
    """(status, Location, body) of one GET from the host itself."""
    status, body = host.check_output(GET.format(address, port, path, host_header)).split("\n", 1)
    code, _, location = status.partition(" ")
    return int(code), location, body


@pytest.fixture(scope="module")
def results():
    return json.loads(RESULTS.read_text())


@pytest.mark.parametrize("role", readme_examples.IN_ALONE)
def test_the_example_alone_converges_then_changes_nothing(host, results, role):
    first, second = results[name(host)][role]
    assert first["good"], f"first run: rc={first['rc']} {first['recap']}\n{first.get('tail', '')}"
    assert second["good"], f"second run: rc={second['rc']} {second['recap']}\n{second.get('tail', '')}"


def test_python_makes_a_venv(host):
    host.check_output("/usr/bin/python3 -m venv /tmp/alone-venv && /tmp/alone-venv/bin/python -c 'import sys'")
    host.check_output("rm -rf /tmp/alone-venv")


def test_virtualenv_runs_the_locked_packages(host):
    host.check_output("/srv/tools/venv/bin/python -c 'import flask, gunicorn'")


def test_app_server_and_deploy_serve_the_app_on_its_port(host):
    assert host.service("shop.socket").is_running
    assert host.service("shop.service").is_running
    status, _, body = get(host, "127.0.0.1", 8000)
    assert status == 200 and '"status":"ok"' in body.replace(" ", "")


def test_the_jobs_of_the_app_server_example_went_with_the_deploy_example_which_drops_them(host):
    """app_server's example gives the shop a worker, a beat and a clearsessions timer; deploy's, run last
    with the same app and no app_server_jobs, stops, disables and removes their units."""
    for unit in ("shop-worker.service", "shop-beat.service", "shop-clearsessions.service", "shop-clearsessions.timer"):
        assert not host.file(f"/etc/systemd/system/{unit}").exists, unit
        state = host.run(f"systemctl show -p LoadState -p ActiveState --value {unit}").stdout.split()
        assert state == ["not-found", "inactive"], (unit, state)


def test_reverse_proxy_answers_on_80_and_443_with_the_app(host):
    status, location, _ = get(host, "127.0.0.1", 80, "/")
    assert status == 301 and location.startswith("https://shop.example.org/")
    status, _, body = get(host, "127.0.0.1", "https", "/healthz")
    assert status == 200 and '"status":"ok"' in body.replace(" ", "")


@pytest.mark.parametrize(
    ("service", "port"), [("rsyslog", None), ("nagios-nrpe-server", 5666), ("zabbix-agent2", 10050)]
)
def test_the_agents_run(host, service, port):
    assert host.service(service).is_running
    if port:
        host.check_output(CONNECT.format("127.0.0.1", port))
