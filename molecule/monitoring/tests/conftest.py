"""Fixtures of the monitoring scenario's tests."""

import pytest
from monitoring_helpers import APP_HOSTS, HEALTH_PROBE, MONITOR, wait_for
from scenario_hosts import scenario_host


@pytest.fixture(scope="session")
def mon():
    return scenario_host(MONITOR)


@pytest.fixture(scope="session")
def psk_files(mon):
    """Each app host's PSK, copied to the monitoring host as a Zabbix server would hold it."""
    paths = {}
    for name in APP_HOSTS:
        key = scenario_host(name).file("/etc/zabbix/pyops.psk").content_string.strip()
        path = f"/root/psk-{name}"
        mon.check_output(f"umask 077 && printf '%s\\n' {key} > {path}")
        paths[name] = path
    return paths


@pytest.fixture
def stopped_app():
    """Stops sample.service on every app host for the test, and starts it again after."""
    hosts = [scenario_host(name) for name in APP_HOSTS]
    for host in hosts:
        host.check_output("systemctl stop sample.service")
    yield hosts
    for host in hosts:
        host.check_output("systemctl start sample.service")
    for host in hosts:
        assert wait_for(lambda h=host: h.run(HEALTH_PROBE).rc == 0, timeout=30)
