"""testinfra hosts of the running scenario by inventory name, over the same multiplexed SSH link as
Ansible (harness/ssh-via-podman): a command costs one SSH session, not a `podman exec`."""

import os

from testinfra.utils.ansible_runner import AnsibleRunner


def scenario_host(name):
    return AnsibleRunner.get_runner(os.environ["MOLECULE_INVENTORY_FILE"]).get_host(name)
