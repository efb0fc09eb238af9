"""A converge at -vvv --diff that has to write every key again prints none of them.

The test puts stale content in the NRPE key and certificate of each app host, check_nrpe's key on the
monitoring host and the given Zabbix PSK, then runs the scenario's converge at -vvv --diff: the copy
tasks change each file back to what converge wrote, so the hosts end as they were for the other tests.
The certificates' diff must show (the output would show a key the same way); the keys and PSKs must not.
"""

import hashlib
import os
from pathlib import Path

from monitoring_helpers import APP_HOSTS, MONITOR, PKI, wait_for
from scenario_hosts import scenario_host

CONVERGE = "molecule/monitoring/converge.yml"
CONTROLLER_PKI = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "pki"
AGENT_PKI = "/etc/nagios/pki"
PSK_FILE = "/etc/zabbix/pyops.psk"
GIVEN_PSK_HOST = "pyops-monitoring-app12"


def pem_lines(text):
    """The base64 lines of a PEM file: enough of each to be found in any output that holds it."""
    return {line for line in text.splitlines() if len(line) >= 16 and not line.startswith("-----")}


def sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def hidden(text, planted):
    """text with every planted value replaced, for failure messages."""
    for values in planted.values():
        for value in values:
            text = text.replace(value, "<planted secret>")
    return text


def test_rewriting_the_keys_at_vvv_diff_prints_none_of_them(ansible_playbook):
    agents = [scenario_host(name) for name in APP_HOSTS]
    mon = scenario_host(MONITOR)
    planted = {
        "agent.key": pem_lines((CONTROLLER_PKI / "agent.key").read_text()),
        "client.key": pem_lines((CONTROLLER_PKI / "client.key").read_text()),
        "psk": {host.file(PSK_FILE).content_string.strip() for host in agents},
    }
    assert all(planted.values()) and "5f" * 32 in planted["psk"], planted.keys()
    # printf into the files keeps their owner and mode: only the content differs from the role's.
    for host in agents:
        host.run_expect([0], f"printf 'stale\\n' > {AGENT_PKI}/agent.key && printf 'stale\\n' > {AGENT_PKI}/agent.pem")
    scenario_host(GIVEN_PSK_HOST).run_expect([0], f"printf '%s\\n' {'00' * 32} > {PSK_FILE}")
    mon.run_expect([0], f"printf 'stale\\n' > {PKI}/client.key")

    run = ansible_playbook(CONVERGE, "-vvv", "--diff")
    output = run.stdout + run.stderr
    assert run.returncode == 0, hidden(run.stdout[-3000:] + run.stderr[-2000:], planted)

    # The run did write each file again (compared by digest: a failed comparison prints both sides),
    # with --diff on: the certificate's diff is in the output.
    for host in agents:
        assert host.file(f"{AGENT_PKI}/agent.key").sha256sum == sha256(CONTROLLER_PKI / "agent.key")
    assert mon.file(f"{PKI}/client.key").sha256sum == sha256(CONTROLLER_PKI / "client.key")
    assert scenario_host(GIVEN_PSK_HOST).file(PSK_FILE).sha256sum == hashlib.sha256(b"5f" * 32 + b"\n").hexdigest()
    assert all(line in output for line in pem_lines((CONTROLLER_PKI / "agent.pem").read_text())), "no diff shown"

    # The handlers restarted NRPE and the Zabbix agent: the tests after this one need them listening.
    for host in agents:
        for port in (5666, 10050):
            assert wait_for(lambda h=host, p=port: h.run(f"ss -Hltn 'sport = :{p}'").stdout.strip(), timeout=30), port

    leaked = sorted(what for what, values in planted.items() if any(value in output for value in values))
    assert not leaked, f"shown in the -vvv --diff output: {leaked}"
