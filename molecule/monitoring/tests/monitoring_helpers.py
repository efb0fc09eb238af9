"""Hosts, paths and small helpers shared by the monitoring scenario's tests."""

import os
import time

from testinfra.utils.ansible_runner import AnsibleRunner

INVENTORY = AnsibleRunner(os.environ["MOLECULE_INVENTORY_FILE"])
APP_HOSTS = sorted(INVENTORY.get_hosts("appservers"))
MONITOR = "pyops-monitoring-mon"
PKI = "/etc/nagios4/pyops"
CHECK_NRPE = f"/usr/lib/nagios/plugins/check_nrpe -A {PKI}/ca.pem -C {PKI}/client.pem -K {PKI}/client.key"
# Each Zabbix item of the sample app, and what its value must satisfy while the app runs.
ITEM_CHECKS = {
    "agent.ping": lambda v: v == "1",
    "pyops.app.health[sample]": lambda v: v == "1",
    "pyops.app.latency[sample]": lambda v: 0 < float(v) < 3,
    "pyops.app.workers[sample]": lambda v: int(v) >= 1,
    "pyops.unit.active[sample.service]": lambda v: v == "1",
    "pyops.app.tls_days[sample]": lambda v: 88 < float(v) <= 90,
}
HEALTH_PROBE = "python3 -c \"import urllib.request as u; u.urlopen('http://127.0.0.1:8000/healthz')\""


def zabbix_get(mon, host, key, psk_file=None):
    tls = f"--tls-connect psk --tls-psk-identity {host} --tls-psk-file {psk_file}" if psk_file else ""
    return mon.run(f"zabbix_get -s {host} -k '{key}' {tls}")


def wait_for(predicate, timeout=90, interval=2):
    """predicate's last result, once truthy or when timeout seconds have passed."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(interval)
