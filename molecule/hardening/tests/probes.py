"""Helpers for the hardening scenario: the auditor is the outside world the hardened hosts face."""

import os
import time
from dataclasses import dataclass

from scenario_hosts import scenario_host
from testinfra.utils.ansible_runner import AnsibleRunner

INVENTORY = os.environ["MOLECULE_INVENTORY_FILE"]
HARDENED = AnsibleRunner(INVENTORY).get_hosts("hardened")
PROXY = "pyops-hardening-debian12"
APP = "pyops-hardening-debian13"
AUDITOR = "pyops-hardening-auditor"
# The second network (prepare.yml): the auditor's service address, which the inventory names as its
# hardening_firewall_host_addresses, and the app server's address there.
AUDITOR_SERVICE_ADDRESS = "192.168.213.10"
APP_SERVICE_ADDRESS = "192.168.213.11"
SSH = (
    "ssh -i /root/.ssh/id_ed25519 -o BatchMode=yes -o StrictHostKeyChecking=no "
    "-o UserKnownHostsFile=/dev/null -o ConnectTimeout=5 {options} {user}@{target} {command}"
)
PROBE = "python3 -c 'import socket, sys; socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3)' {} {}"
# OpenSSH 9.8+ answers this while a source address serves a penalty (PerSourcePenalties) for the
# unauthenticated connections the scanners and the refused logins make.
PENALTY = "Not allowed at this time"


def on(name):
    return scenario_host(name)


@dataclass
class Login:
    rc: int
    stdout: str
    stderr: str


def ssh(target, user="pyops-admin", options="", command="true"):
    """Log in from the auditor, waiting out sshd's per-source penalty if the auditor earned one.

    testinfra's SSH backend takes an exit status of 255 for its own link failing, and a refused
    login exits 255 too: the login's status is printed on the last line instead."""
    for _ in range(8):
        line = SSH.format(options=options, user=user, target=target, command=command)
        result = on(AUDITOR).run(f'{line}; echo "login-exit=$?"')
        stdout, _, status = result.stdout.rstrip("\n").rpartition("login-exit=")
        login = Login(int(status), stdout, result.stderr)
        if PENALTY not in login.stderr:
            return login
        time.sleep(5)
    return login


def default_address(name):
    """The host's address on the scenario's first network (not the service network)."""
    addresses = on(name).check_output("hostname -I").split()
    return next(address for address in addresses if not address.startswith("192.168.213."))


def reachable(source, target, port):
    return on(source).run(PROBE.format(target, port)).rc == 0
