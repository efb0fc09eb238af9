"""Log shipping: app and proxy log lines reach the collector as JSON, over TLS with trusted certificates only."""

import hashlib
import json
import os
import shlex
import stat
import uuid
from datetime import datetime
from pathlib import Path

import pytest
from scenario_hosts import scenario_host
from testinfra.utils.ansible_runner import AnsibleRunner

RUNNER = AnsibleRunner(os.environ["MOLECULE_INVENTORY_FILE"])
APP_NAME = RUNNER.get_hosts("appservers")[0]
COLLECTOR_NAME = RUNNER.get_hosts("monitoring")[0]
TLS = "/etc/ssl/pyops-log-shipping"
RECEIVED = "/var/log/pyops"
CONTROLLER_TLS = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "log_shipping_tls"


@pytest.fixture(scope="module")
def app():
    return scenario_host(APP_NAME)


@pytest.fixture(scope="module")
def collector():
    return scenario_host(COLLECTOR_NAME)


def marker():
    return "pyops-" + uuid.uuid4().hex


def received(collector, text, timeout=30):
    """The JSON records on the collector whose line holds `text`, waiting up to `timeout` seconds for one."""
    script = f"until grep -h -F {shlex.quote(text)} {RECEIVED}/*.json; do sleep 1; done"
    result = collector.run(f"timeout {timeout} sh -c {shlex.quote(script)}")
    return [json.loads(line) for line in result.stdout.splitlines()]


def send_tls(app, text, *client_args):
    """Sends one syslog line to the collector with openssl s_client on the app host; returns the handshake report."""
    line = f"<13>1 - {APP_NAME} pyops-test - - - {text}"
    argv = ["openssl", "s_client", "-connect", f"{COLLECTOR_NAME}:6514", "-no_ign_eof", *client_args]
    return app.run(f"printf '%s\\n' {shlex.quote(line)} | timeout 15 {shlex.join(argv)}")


def test_app_request_arrives_as_json(app, collector):
    text = marker()
    app.run_expect([0], f"curl -sS -o /dev/null http://127.0.0.1:8000/{text}")
    records = [r for r in received(collector, text) if r["unit"] == "sample.service"]
    assert len(records) == 1, records
    record = records[0]
    assert record["host"] == app.check_output("hostname")
    assert f"GET /{text}" in record["message"]
    assert record["source"] == "imjournal"
    assert record["severity"] == "info"
    assert datetime.fromisoformat(record["time"]).tzinfo is not None


def test_proxy_access_log_arrives_as_json(app, collector):
    text = marker()
    app.run_expect([0], f"curl -sS -o /dev/null http://127.0.0.1/{text}")
    records = [r for r in received(collector, text) if r["program"] == "nginx-access"]
    assert len(records) == 1, records
    assert records[0]["file"] == "/var/log/nginx/access.log"
    assert records[0]["host"] == app.check_output("hostname")
    assert f"GET /{text}" in records[0]["message"]


def test_the_collectors_own_journal_arrives_too(collector):
    # playbooks/log_shipping.yml ships the collectors' own logs from their play (log_shipping_collector_ship_own_logs).
    text = marker()
    collector.run_expect([0], f"logger -t pyops-own {text}")
    records = [r for r in received(collector, text) if r["program"] == "pyops-own"]
    assert len(records) == 1, records
    assert records[0]["host"] == collector.check_output("hostname")
    assert records[0]["source"] == "imjournal"


def test_only_trusted_tls_clients_are_heard(app, collector):
    app.run_expect(
        [0],
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 "
        f"-subj /CN={APP_NAME} -keyout /tmp/rogue.key -out /tmp/rogue.pem",
    )
    plain, no_cert, rogue, trusted = marker(), marker(), marker(), marker()
    app.run(
        f"printf '<13>1 - {APP_NAME} pyops-test - - - {plain}\\n'"
        f" | timeout 5 bash -c 'cat > /dev/tcp/{COLLECTOR_NAME}/6514'"
    )
    send_tls(app, no_cert, "-CAfile", f"{TLS}/ca.pem")
    send_tls(app, rogue, "-CAfile", f"{TLS}/ca.pem", "-cert", "/tmp/rogue.pem", "-key", "/tmp/rogue.key")
    # The control: the same client with the host's certificate is heard, and the collector's
    # certificate passes the checks the shippers make (CA and name).
    report = send_tls(
        app,
        trusted,
        *["-CAfile", f"{TLS}/ca.pem", "-verify_return_error", "-verify_hostname", COLLECTOR_NAME],
        *["-cert", f"{TLS}/host.pem", "-key", f"{TLS}/host.key"],
    )
    assert "Verify return code: 0 (ok)" in report.stdout, report.stdout + report.stderr
    assert [r["message"] for r in received(collector, trusted)] == [trusted]
    for refused in (plain, no_cert, rogue):
        assert collector.run(f"grep -r -F {refused} {RECEIVED}").rc == 1, refused


def test_lines_logged_while_the_collector_is_down_arrive_later(app, collector):
    texts = [marker() for _ in range(3)]
    collector.run_expect([0], "systemctl stop rsyslog")
    try:
        for text in texts:
            app.run_expect([0], f"curl -sS -o /dev/null http://127.0.0.1:8000/{text}")
        # Long enough for the shipper to find the collector gone and suspend the action.
        app.run("sleep 5")
    finally:
        collector.run_expect([0], "systemctl start rsyslog")
    for text in texts:
        assert [r["unit"] for r in received(collector, text, timeout=60)] == ["sample.service"], text


def test_received_logs_rotate(app, collector):
    collector.run_expect([0], "logrotate --force /etc/logrotate.d/pyops-log-collector")
    text = marker()
    app.run_expect([0], f"curl -sS -o /dev/null http://127.0.0.1:8000/{text}")
    assert received(collector, text)
    app_files = collector.check_output(f"grep -l -F {text} {RECEIVED}/*.json").split()
    assert len(app_files) == 1
    assert collector.file(app_files[0] + ".1").exists


def test_modes(app, collector):
    directory = collector.file(RECEIVED)
    assert (directory.mode, directory.user, directory.group) == (0o750, "root", "adm")
    files = collector.check_output(f"ls {RECEIVED}/*.json").split()
    assert len(files) >= 2  # the app host's and the collector's own
    for path in files:
        received_file = collector.file(path)
        assert (received_file.mode, received_file.user, received_file.group) == (0o640, "root", "adm"), path
    for host in (app, collector):
        assert host.file(f"{TLS}/host.key").mode == 0o600
        assert host.file("/etc/rsyslog.d/60-pyops-log-shipping.conf").mode == 0o644
    assert collector.file("/etc/rsyslog.d/50-pyops-log-collector.conf").mode == 0o644
    # The controller keeps the CA key to itself; the hosts have the same CA certificate.
    assert stat.S_IMODE(CONTROLLER_TLS.stat().st_mode) == 0o700
    assert stat.S_IMODE((CONTROLLER_TLS / "ca.key").stat().st_mode) == 0o600
    ca = hashlib.sha256((CONTROLLER_TLS / "ca.pem").read_bytes()).hexdigest()
    for host in (app, collector):
        assert host.check_output(f"sha256sum {TLS}/ca.pem").split()[0] == ca
        assert not host.file(f"{TLS}/ca.key").exists
