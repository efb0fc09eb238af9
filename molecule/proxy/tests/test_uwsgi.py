"""Site legacy: the Flask sample under uWSGI (app_server_kind uwsgi) on app2, through every proxy.

The proxies speak the uwsgi protocol to it (nginx uwsgi_pass, Apache mod_proxy_uwsgi).
"""

import json
import re
import uuid

import pytest
from conftest import NGINX, PROXIES
from scenario_hosts import scenario_host

APP_HOST = "pyops-proxy-app2"
UNIT = "legacy.service"
RELEASE = "/srv/legacy/releases/r1"


@pytest.fixture(scope="module")
def app2():
    return scenario_host(APP_HOST)


def main_pid(host):
    return int(host.check_output(f"systemctl show -p MainPID --value {UNIT}"))


@pytest.mark.parametrize("proxy", PROXIES)
def test_sample_answers_from_a_uwsgi_worker_of_the_unit(proxy, fetch, app2):
    marker = uuid.uuid4().hex
    reply = fetch(proxy, f"https://legacy.test/healthz?probe={marker}")
    assert reply.status == 200, reply
    body = json.loads(reply.body)
    assert body["status"] == "ok" and body["release"] == "r1" and body["host"] == APP_HOST, body
    # The worker that answered is a uWSGI process of the unit, forked by its master.
    pid = body["pid"]
    assert f"/system.slice/{UNIT}" in app2.file(f"/proc/{pid}/cgroup").content_string
    assert app2.file(f"/proc/{pid}/comm").content_string.strip() == "uwsgi"
    assert int(app2.check_output(f"ps -o ppid= -p {pid}")) == main_pid(app2)
    # uWSGI's request log, in the unit's journal.
    log = app2.check_output(f"journalctl --no-pager -o cat -u {UNIT} --grep {marker}")
    assert re.search(rf"\[pid: {pid}\|app: 0\|req: \d+/\d+\] .* GET /healthz\?probe={marker} => generated", log), log


def test_uwsgi_unit_is_sandboxed_to_exposure_2_5_or_less(app2):
    out = app2.check_output(f"systemd-analyze security --no-pager {UNIT}")
    score = float(re.search(r"Overall exposure level for \S+: ([0-9.]+)", out).group(1))
    assert score <= 2.5, out.splitlines()[-1]


def test_app_user_cannot_change_the_release(app2):
    assert app2.check_output(f"systemctl show -p User --value {UNIT}") == "legacy"
    for path in (f"{RELEASE}/pyops_sample_flask/__init__.py", f"{RELEASE}/venv/bin"):
        denied = app2.run(f"runuser -u legacy -- sh -c 'touch {path}/x 2>/dev/null || touch {path}'")
        assert denied.rc != 0, path
    assert app2.run("runuser -u legacy -- touch /srv/legacy/shared/log/probe").rc == 0


def test_restarts_and_a_reload_under_load_fail_no_request(app2, http_probe):
    # Requests go through an nginx proxy, sent from the proxy itself to the site by its name.
    proxy = scenario_host(NGINX[0])
    proxy.run_expect([0], "grep -q ' legacy.test$' /etc/hosts || echo '127.0.0.1 legacy.test' >> /etc/hosts")
    assert http_probe(proxy, "https://legacy.test")["failed"] == 0
    since = app2.check_output("date '+%Y-%m-%d %H:%M:%S'")
    pid = main_pid(app2)
    proxy.run_expect([0], f"python3 {http_probe.path} https://legacy.test /healthz 14 > /tmp/legacy-load.json 2>&1 &")
    for action in ("restart", "reload", "restart"):
        app2.run_expect([0], f"sleep 3; systemctl {action} {UNIT}")
    wait = "for i in $(seq 60); do test -s /tmp/legacy-load.json && exit 0; sleep 1; done; exit 1"
    proxy.run_expect([0], f"sleep 5; {wait}")
    reply = json.loads(proxy.file("/tmp/legacy-load.json").content_string)
    assert reply["failed"] == 0, reply
    assert reply["sent"] > 50, reply
    assert json.loads(reply["body"])["release"] == "r1"
    # Both restarts and the reload happened: a new master, which re-executed itself once.
    assert main_pid(app2) != pid
    log = app2.check_output(f"journalctl --no-pager -o cat -u {UNIT} --since '{since}'")
    assert log.count("graceful shutdown triggered") >= 2, log[-2000:]
    assert "gracefully (RE)spawned uWSGI master process" in log, log[-2000:]


def test_candidate_speaks_http_on_its_private_socket(app2, http_probe):
    app2.run_expect([0], "systemctl start legacy-candidate@r1.service")
    try:
        reply = http_probe(app2, "/run/legacy-candidate-r1/app.sock")
        assert reply["failed"] == 0, reply
        assert json.loads(reply["body"])["release"] == "r1"
        # The candidate did not take the service's address: the site still answers on it.
        assert app2.socket("tcp://0.0.0.0:8002").is_listening
    finally:
        app2.run_expect([0], "systemctl stop legacy-candidate@r1.service")


def test_candidate_of_code_that_cannot_import_fails_to_start(app2, broken_candidate):
    started, state, log = broken_candidate(app2, "legacy", "pyops_sample_flask")
    assert started.rc != 0 and state != "active", state
    assert "broken release" in log, log[-2000:]
