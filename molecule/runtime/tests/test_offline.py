"""The host without any network built its venv, and uv itself, from the shipped wheelhouse."""

import os

from testinfra.utils.ansible_runner import AnsibleRunner

testinfra_hosts = AnsibleRunner(os.environ["MOLECULE_INVENTORY_FILE"]).get_hosts("offline")

PROBE = "python3 -c 'import socket; socket.create_connection((\"151.101.0.223\", 443), timeout=3)'"


def test_the_host_really_has_no_network(host):
    assert host.run(PROBE).rc != 0
    assert host.check_output("ip -o route show") == ""


def test_uv_came_from_the_wheelhouse_not_pip(host):
    assert host.file("/opt/pyops/uv/0.13.9/bin/uv").mode == 0o755
    assert not host.file("/opt/pyops/uv/0.13.9/bin/pip").exists


def test_the_wheelhouse_was_shipped(host):
    assert host.file("/srv/wheelhouse/flask-3.1.3-py3-none-any.whl").is_file
