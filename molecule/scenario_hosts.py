"""testinfra hosts of the running scenario by inventory name, over the same multiplexed SSH link as
Ansible (harness/ssh-via-podman): a command costs one SSH session, not a `podman exec`."""

import json
import os
import subprocess

from testinfra.utils.ansible_runner import AnsibleRunner


def scenario_host(name):
    return AnsibleRunner.get_runner(os.environ["MOLECULE_INVENTORY_FILE"]).get_host(name)


def connection_of(name):
    """The ansible_* variables that reach a scenario host, for an inventory of one's own that holds it."""
    shown = subprocess.run(
        ["ansible-inventory", "-i", os.environ["MOLECULE_INVENTORY_FILE"], "--host", name],
        capture_output=True,
        text=True,
        check=True,
    )
    return {key: value for key, value in json.loads(shown.stdout).items() if key.startswith("ansible_")}
