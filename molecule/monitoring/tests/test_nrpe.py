"""A real check_nrpe on the monitoring host runs every configured NRPE command of the app hosts."""

import re

import pytest
from monitoring_helpers import APP_HOSTS, CHECK_NRPE, PKI
from scenario_hosts import scenario_host

SYSTEM = ["check_load", "check_disk", "check_swap", "check_memory", "check_procs", "check_ntp_time"]
APP = ["check_sample_health", "check_sample_workers", "check_sample_unit_sample", "check_sample_tls"]
# What stopping sample.service must break (the TLS endpoint belongs to the proxy and stays up).
BROKEN_BY_STOP = ["check_sample_health", "check_sample_workers", "check_sample_unit_sample"]


@pytest.mark.parametrize("name", APP_HOSTS)
def test_configured_commands_are_the_expected_ones(name):
    config = scenario_host(name).file("/etc/nagios/nrpe.cfg").content_string
    assert sorted(re.findall(r"^command\[(\w+)\]=", config, re.M)) == sorted(SYSTEM + APP)


@pytest.mark.parametrize("command", SYSTEM + APP)
@pytest.mark.parametrize("name", APP_HOSTS)
def test_check_is_ok_through_nrpe(mon, name, command):
    result = mon.run(f"{CHECK_NRPE} -H {name} -c {command}")
    assert result.rc == 0, result.stdout


def test_stopped_app_turns_its_checks_critical(mon, stopped_app):
    for name in APP_HOSTS:
        for command in BROKEN_BY_STOP:
            result = mon.run(f"{CHECK_NRPE} -H {name} -c {command}")
            assert result.rc == 2, f"{name} {command}: {result.stdout}"
        assert mon.run(f"{CHECK_NRPE} -H {name} -c check_sample_tls").rc == 0


@pytest.mark.parametrize("name", APP_HOSTS)
def test_monitor_without_client_certificate_is_refused(mon, name):
    result = mon.run(f"/usr/lib/nagios/plugins/check_nrpe -H {name} -A {PKI}/ca.pem -c check_load")
    assert result.rc != 0
    assert "LOAD" not in result.stdout


def test_host_outside_allowed_hosts_is_refused(mon):
    """The other app host holds a valid client certificate too: only allowed_hosts refuses it."""
    outsider, target = (scenario_host(name) for name in APP_HOSTS)
    for pem in ("ca.pem", "client.pem", "client.key"):
        outsider.check_output(
            f"install -d -m 0700 /root/pki && umask 077 && cat > /root/pki/{pem} <<'EOF'\n"
            + mon.file(f"{PKI}/{pem}").content_string
            + "EOF"
        )
    check = "/usr/lib/nagios/plugins/check_nrpe -A /root/pki/ca.pem -C /root/pki/client.pem -K /root/pki/client.key"
    since = target.check_output("date '+%Y-%m-%d %H:%M:%S'")
    result = outsider.run(f"{check} -H {APP_HOSTS[1]} -c check_load")
    assert result.rc != 0
    assert "LOAD" not in result.stdout
    source = next(a for a in outsider.interface("eth0").addresses if ":" not in a)
    log = target.check_output(f"journalctl --no-pager -q --since '{since}' -t nrpe")
    assert f"Host {source} is not allowed to talk to us" in log
