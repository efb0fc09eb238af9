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


def reachable(source, target, port):
    return on(source).run(PROBE.format(target, port)).rc == 0
