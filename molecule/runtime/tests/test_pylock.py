"""Debian 13 also gets a venv from a pylock.toml (PEP 751), exported from the same uv.lock."""

import os

from testinfra.utils.ansible_runner import AnsibleRunner

testinfra_hosts = AnsibleRunner(os.environ["MOLECULE_INVENTORY_FILE"]).get_hosts("pyops-runtime-debian13")


def test_pylock_venv_has_the_locked_versions(host):
    out = host.check_output(
        "/srv/pylock/venv/bin/python -c 'import importlib.metadata as m; print(m.version(\"flask\"))'"
    )
    assert out == "3.1.3"
    assert not host.file("/srv/pylock/venv/bin/pip").exists
