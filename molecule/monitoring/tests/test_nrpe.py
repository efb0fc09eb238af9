"""A real check_nrpe on the monitoring host runs every configured NRPE command of the app hosts."""

import re

import pytest
from monitoring_helpers import APP_HOSTS, CHECK_NRPE, PKI, wait_for
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


# openssl s_client from the monitoring host (inside allowed_hosts, so NRPE gets to the handshake), in
# TLS 1.2: TLS 1.3 has no anonymous suites and asks for the client certificate after the handshake.
S_CLIENT = "openssl s_client -connect {name}:5666 -tls1_2 {options} </dev/null 2>&1"
# OpenSSL 3 offers anonymous suites only at security level 0: without it the client alone would
# give up ("no ciphers available"), and the test would prove nothing about NRPE.
ANONYMOUS = "-cipher 'aNULL:@SECLEVEL=0'"
CA_ONLY = f"-CAfile {PKI}/ca.pem -verify_return_error"


@pytest.mark.parametrize("name", APP_HOSTS)
def test_tls12_handshake_with_the_client_certificate_succeeds(mon, name):
    """The control of the two tests below: the same client gets through with check_nrpe's certificate."""
    result = mon.run(S_CLIENT.format(name=name, options=f"{CA_ONLY} -cert {PKI}/client.pem -key {PKI}/client.key"))
    assert result.rc == 0, result.stdout
    assert re.search(r"Cipher is ECDHE-\S+-GCM-", result.stdout), result.stdout


@pytest.mark.parametrize("name", APP_HOSTS)
def test_anonymous_handshake_is_refused(mon, name):
    """NRPE has no anonymous suite in common with the client: it answers with a handshake_failure alert.

    With NRPE's defaults (ssl_use_adh=1, ALL:!MD5:@STRENGTH:@SECLEVEL=0) it picks an ADH suite instead:
    with ssl_client_certs 0 or 1 the anonymous handshake completes; with 2 OpenSSL then sends a certificate
    request that the client rejects as "unexpected message", not as the server's alert.
    """
    result = mon.run(S_CLIENT.format(name=name, options=ANONYMOUS))
    assert result.rc != 0, result.stdout
    assert "alert handshake failure" in result.stdout, result.stdout
    assert "Cipher is (NONE)" in result.stdout, result.stdout


@pytest.mark.parametrize("name", APP_HOSTS)
def test_tls12_handshake_without_client_certificate_is_refused(mon, name):
    result = mon.run(S_CLIENT.format(name=name, options=CA_ONLY))
    assert result.rc != 0, result.stdout
    assert "alert handshake failure" in result.stdout, result.stdout


def test_nagios_check_nrpe_refuses_an_anonymous_server(mon):
    """Something in an agent's place that has no certificate can offer only an anonymous suite. check_nrpe
    checks -A only against a certificate that is sent, so with its defaults (ADH and AECDH allowed) it
    would talk to it; the objects' command line (-d 0 and the agents' cipher list) refuses it."""
    fleet = mon.file(f"{PKI}/fleet.cfg").content_string
    line = re.search(r"command_name\s+pyops_check_nrpe\n\s+command_line\s+(.*)", fleet).group(1)
    for macro, value in {"$USER1$": "/usr/lib/nagios/plugins", "$HOSTADDRESS$": "127.0.0.1"}.items():
        line = line.replace(macro, value)
    command = line.replace("$_HOSTNRPE_PORT$", "5667").replace("$ARG1$", "check_load")
    pid = mon.check_output(
        "setsid openssl s_server -accept 127.0.0.1:5667 -nocert -tls1_2 -cipher 'aNULL:@SECLEVEL=0' -www"
        " </dev/null >/tmp/anonymous-nrpe.log 2>&1 & echo $!"
    )
    try:
        assert wait_for(lambda: mon.run("ss -Hltn 'sport = :5667'").stdout.strip(), timeout=15)
        result = mon.run(command)
    finally:
        mon.run(f"kill {pid}")
    assert result.rc != 0, result.stdout
    assert "Could not complete SSL handshake" in result.stdout, result.stdout
    assert "no shared cipher" in mon.file("/tmp/anonymous-nrpe.log").content_string
