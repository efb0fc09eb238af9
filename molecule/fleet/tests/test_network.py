"""Hosts of a scenario reach each other by name, as a proxy reaches its app servers."""

import pytest
import testinfra

# An SSH banner read over TCP proves name resolution, routing and a listening peer at once.
READ_BANNER = (
    'python3 -c "import socket,sys; s=socket.create_connection((sys.argv[1], 22), timeout=5); '
    'print(s.recv(64).decode().strip())" {}'
)


@pytest.mark.parametrize("peer", ["pyops-fleet-app1", "pyops-fleet-app2"])
def test_proxy_reaches_app_server_by_name(peer):
    web = testinfra.get_host("podman://pyops-fleet-web")
    assert web.check_output(READ_BANNER.format(peer)).startswith("SSH-2.0-OpenSSH")


def test_unknown_name_does_not_resolve():
    web = testinfra.get_host("podman://pyops-fleet-web")
    assert web.run(READ_BANNER.format("pyops-fleet-nosuchhost")).rc != 0
