"""A real zabbix_get on the monitoring host reads every item of the app hosts, with the PSK only."""

import json

import pytest
from monitoring_helpers import APP_HOSTS, ITEM_CHECKS, zabbix_get
from scenario_hosts import scenario_host

DISCOVERY = {
    "health": [{"{#APP}": "sample"}],
    "workers": [{"{#APP}": "sample", "{#WORKERS_MIN}": "1"}],
    "units": [{"{#APP}": "sample", "{#UNIT}": "sample.service"}],
    "tls": [{"{#APP}": "sample"}],
}


@pytest.mark.parametrize("key", ITEM_CHECKS)
@pytest.mark.parametrize("name", APP_HOSTS)
def test_item_is_read_with_the_psk(mon, psk_files, name, key):
    result = zabbix_get(mon, name, key, psk_files[name])
    assert result.rc == 0, result.stderr
    assert ITEM_CHECKS[key](result.stdout.strip()), result.stdout


@pytest.mark.parametrize("kind", DISCOVERY)
@pytest.mark.parametrize("name", APP_HOSTS)
def test_discovery_lists_the_app(mon, psk_files, name, kind):
    result = zabbix_get(mon, name, f"pyops.discovery[{kind}]", psk_files[name])
    assert json.loads(result.stdout) == DISCOVERY[kind]


@pytest.mark.parametrize("name", APP_HOSTS)
def test_unlisted_unit_is_not_probed(mon, psk_files, name):
    result = zabbix_get(mon, name, "pyops.unit.active[ssh.service]", psk_files[name])
    assert result.stdout.strip() not in ("0", "1")


@pytest.mark.parametrize("name", APP_HOSTS)
def test_without_psk_the_agent_refuses(mon, name):
    result = zabbix_get(mon, name, "agent.ping")
    assert result.rc != 0
    assert result.stdout.strip() != "1"


def test_given_psk_is_used_and_kept_private():
    host = scenario_host("pyops-monitoring-app12")
    psk = host.file("/etc/zabbix/pyops.psk")
    assert psk.content_string.strip() == "5f" * 32
    assert (psk.user, psk.group, psk.mode) == ("root", "zabbix", 0o640)


def test_generated_psk_is_a_256_bit_key():
    psk = scenario_host("pyops-monitoring-app13").file("/etc/zabbix/pyops.psk")
    key = psk.content_string.strip()
    assert len(key) == 64 and int(key, 16) and key != "5f" * 32
    assert (psk.user, psk.group, psk.mode) == ("root", "zabbix", 0o640)


@pytest.mark.parametrize("name", APP_HOSTS)
def test_agent_listens_only_on_its_port(name):
    """No StatusPort: the zabbix user's only TCP listener is 10050."""
    host = scenario_host(name)
    uid = host.user("zabbix").uid
    listeners = host.check_output("ss -Hltne 2>/dev/null").splitlines()
    ports = {line.split()[3].rsplit(":", 1)[1] for line in listeners if f" uid:{uid} " in line}
    assert ports == {"10050"}


def test_stopped_app_reads_as_down(mon, psk_files, stopped_app):
    for name in APP_HOSTS:
        for key in ("pyops.app.health[sample]", "pyops.app.workers[sample]", "pyops.unit.active[sample.service]"):
            assert zabbix_get(mon, name, key, psk_files[name]).stdout.strip() == "0", f"{name} {key}"
