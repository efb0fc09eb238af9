"""The sample apps served by the app_server role, observed on the hosts."""

import json
import re

import pytest

UNITS = ["flask.service", "fastapi.service", "flask-worker.service", "flask-heartbeat.service"]


def test_wsgi_app_answers_on_unix_socket_and_port(host, http_probe):
    for address in ("/run/flask.sock", "127.0.0.1:8001"):
        reply = http_probe(host, address)
        assert reply["failed"] == 0, reply
        assert json.loads(reply["body"])["release"] == "r1"


def test_asgi_app_answers_through_uvicorn_workers(host, http_probe):
    reply = http_probe(host, "127.0.0.1:8002")
    assert reply["failed"] == 0, reply
    assert json.loads(reply["body"])["release"] == "r1"
    assert "uvicorn_worker.UvicornWorker" in host.file("/etc/fastapi/gunicorn.conf.py").content_string


@pytest.mark.parametrize("unit", UNITS)
def test_units_are_sandboxed_to_exposure_2_5_or_less(host, unit):
    out = host.check_output(f"systemd-analyze security --no-pager {unit}")
    score = float(re.search(r"Overall exposure level for \S+: ([0-9.]+)", out).group(1))
    assert score <= 2.5, out.splitlines()[-1]


def test_server_runs_as_app_user_which_cannot_change_code(host):
    assert host.check_output("systemctl show -p User --value flask.service") == "flask"
    for path in ("/srv/flask/releases/r1/pyops_sample_flask/__init__.py", "/srv/flask/releases/r1/venv/bin"):
        denied = host.run(f"runuser -u flask -- sh -c 'touch {path}/x 2>/dev/null || touch {path}'")
        assert denied.rc != 0, path
    assert host.run("runuser -u flask -- touch /srv/flask/shared/log/probe").rc == 0


def test_environment_file_is_private_to_the_app(host):
    env = host.file("/etc/flask/env")
    assert env.user == "root"
    assert env.group == "flask"
    assert env.mode == 0o640
    assert 'APP_SECRET="not-a-real-secret"' in env.content_string


def test_unix_socket_is_for_the_proxy_group_only(host):
    sock = host.file("/run/flask.sock")
    assert sock.is_socket
    assert sock.group == "www-data"
    assert sock.mode == 0o660


def test_background_worker_and_timer_run(host):
    assert host.service("flask-worker.service").is_running
    assert host.run("systemctl is-active flask-heartbeat.timer").stdout.strip() == "active"
    # The timer fires every 10 s; give it a chance if this test runs early.
    wait = "for i in $(seq 30); do test -s /srv/flask/shared/log/heartbeat && exit 0; sleep 1; done; exit 1"
    host.run_expect([0], wait)


def test_restarts_under_load_fail_no_request(host, http_probe):
    http_probe(host, "/run/flask.sock")
    host.run_expect([0], f"python3 {http_probe.path} /run/flask.sock /healthz 12 > /tmp/load.json 2>&1 &")
    for _ in range(3):
        host.run_expect([0], "sleep 2; systemctl restart flask.service")
    host.run_expect([0], "sleep 5; for i in $(seq 30); do test -s /tmp/load.json && exit 0; sleep 1; done; exit 1")
    reply = json.loads(host.file("/tmp/load.json").content_string)
    assert reply["sent"] > 100, reply
    assert reply["failed"] == 0, reply


def test_candidate_unit_runs_a_release_on_a_private_socket(host, http_probe):
    host.run_expect([0], "systemctl start flask-candidate@r1.service")
    try:
        reply = http_probe(host, "/run/flask-candidate-r1/app.sock")
        assert json.loads(reply["body"])["release"] == "r1"
    finally:
        host.run_expect([0], "systemctl stop flask-candidate@r1.service")


def test_candidate_of_code_that_cannot_import_fails_to_start(host, broken_candidate):
    started, state, _ = broken_candidate(host, "flask", "pyops_sample_flask")
    assert started.rc != 0 and state != "active", state
