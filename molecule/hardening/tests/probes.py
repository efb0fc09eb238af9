"""Helpers for the hardening scenario: the auditor is the outside world the hardened hosts face."""

import os
import time

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


def ssh(target, user="pyops-admin", options="", command="true"):
    """Log in from the auditor, waiting out sshd's per-source penalty if the auditor earned one."""
    for _ in range(8):
        result = on(AUDITOR).run(SSH.format(options=options, user=user, target=target, command=command))
        if PENALTY not in result.stderr:
            return result
        time.sleep(5)
    return result


def reachable(source, target, port):
    return on(source).run(PROBE.format(target, port)).rc == 0
