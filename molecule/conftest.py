"""Shared by every scenario's testinfra tests (pyproject.toml makes the repo root pytest's rootdir).

testinfra runs commands on an Ansible host through its own backend when it knows the host's
connection, and otherwise through one `ansible` call per command, which is ~20x slower. It does not
know containers.podman.podman, so such hosts are handed to its podman backend (`podman exec`), the
same transport the connection plugin uses.
"""

import json
from pathlib import Path

import pytest
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


_PROBE = Path(__file__).with_name("http_probe.py")
_PROBE_ON_HOST = "/usr/local/bin/pyops-http-probe"


@pytest.fixture(scope="module")
def http_probe():
    """Returns probe(host, target, path="/healthz", seconds=0) -> the probe's JSON report as a dict."""
    installed = set()

    def probe(host, target, path="/healthz", seconds=0):
        if host.backend.get_hostname() not in installed:
            script = f"cat > {_PROBE_ON_HOST} <<'PYEOF'\n{_PROBE.read_text()}\nPYEOF\nchmod 0755 {_PROBE_ON_HOST}"
            host.run_expect([0], script)
            installed.add(host.backend.get_hostname())
        return json.loads(host.run_expect([0], f"python3 {_PROBE_ON_HOST} {target} {path} {seconds}").stdout)

    probe.path = _PROBE_ON_HOST
    return probe
