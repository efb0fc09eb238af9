"""Shared by every scenario's testinfra tests (pyproject.toml makes the repo root pytest's rootdir).

testinfra runs commands on an Ansible host through its own backend when it knows the host's
connection, and otherwise through one `ansible` call per command, which is ~20x slower. It does not
know containers.podman.podman, so such hosts are handed to its podman backend (`podman exec`), the
same transport the connection plugin uses.
"""

import testinfra
from testinfra.utils import ansible_runner

_PODMAN_CONNECTIONS = {"podman", "containers.podman.podman"}
_ansible_host = ansible_runner.get_ansible_host


def _get_ansible_host(config, inventory, host, **kwargs):
    hostvars = inventory["_meta"].get("hostvars", {}).get(host, {})
    if hostvars.get("ansible_connection") in _PODMAN_CONNECTIONS:
        return testinfra.get_host("podman://" + hostvars.get("ansible_host", host), **kwargs)
    return _ansible_host(config, inventory, host, **kwargs)


ansible_runner.get_ansible_host = _get_ansible_host
