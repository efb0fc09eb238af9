"""Only the app servers converge the python role."""

import os

from testinfra.utils.ansible_runner import AnsibleRunner

testinfra_hosts = AnsibleRunner(os.environ["MOLECULE_INVENTORY_FILE"]).get_hosts("appservers")


def test_app_servers_can_build_virtualenvs(host):
    assert host.run("python3 -m venv /tmp/probe && /tmp/probe/bin/python -c 'import sys'").rc == 0
