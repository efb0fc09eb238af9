"""Hosts that reach the index share one uv cache per host, linked into the venvs."""

import os

from testinfra.utils.ansible_runner import AnsibleRunner

testinfra_hosts = AnsibleRunner(os.environ["MOLECULE_INVENTORY_FILE"]).get_hosts("online")

CACHE = "/var/cache/pyops/uv"


def test_venv_files_are_hardlinks_into_the_shared_cache(host):
    minor = host.check_output("/usr/bin/python3 -c 'import sys; print(\"%d.%d\" % sys.version_info[:2])'")
    module = host.file(f"/srv/app/releases/r1/venv/lib/python{minor}/site-packages/flask/app.py")
    inode = host.check_output(f"stat -c %i {module.path}")
    # The same inode inside the cache: the files were linked, not downloaded or copied.
    assert host.check_output(f"find {CACHE} -inum {inode} -print | head -n1").startswith(CACHE)
    assert module.user == "root"


def test_the_cache_is_only_writable_by_root(host):
    cache = host.file(CACHE)
    assert (cache.user, cache.mode) == ("root", 0o755)
