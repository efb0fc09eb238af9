"""The python role leaves each host with its distribution's interpreter, venv support and headers."""

import os

import pytest
from testinfra.utils.ansible_runner import AnsibleRunner

# The hosts that ran the python role with its defaults (the offline one has no role run).
testinfra_hosts = AnsibleRunner(os.environ["MOLECULE_INVENTORY_FILE"]).get_hosts("online")

EXPECTED = {"bookworm": "3.11", "trixie": "3.13"}


@pytest.fixture
def version(host):
    return EXPECTED[host.system_info.codename]


def test_interpreter_is_the_distributions(host, version):
    out = host.check_output(f"/usr/bin/python{version} -c 'import sys; print(sys.version)'")
    assert out.startswith(version + ".")


def test_a_venv_can_be_created_and_used(host, version):
    host.check_output("rm -rf /tmp/probe-venv")
    host.check_output(f"/usr/bin/python{version} -m venv /tmp/probe-venv")
    assert host.check_output("/tmp/probe-venv/bin/python -c 'import sys; print(sys.prefix)'") == "/tmp/probe-venv"
    assert host.run("/tmp/probe-venv/bin/pip --version").rc == 0


def test_headers_for_c_extensions_are_installed(host, version):
    assert host.file(f"/usr/include/python{version}/Python.h").is_file
    assert host.package("build-essential").is_installed


def test_system_interpreter_stays_externally_managed(host, version):
    # PEP 668: the role must never remove the marker that protects the system interpreter.
    assert host.file(f"/usr/lib/python{version}/EXTERNALLY-MANAGED").exists
