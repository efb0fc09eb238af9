"""Debian 12 also gets a venv from the pip fallback and one whose requirements grew after prepare."""

import os

from testinfra.utils.ansible_runner import AnsibleRunner

testinfra_hosts = AnsibleRunner(os.environ["MOLECULE_INVENTORY_FILE"]).get_hosts("pyops-runtime-debian12")


def test_pip_fallback_venv_has_the_app_and_pip(host):
    assert host.run("/srv/pip/venv/bin/python -c 'import flask, pyops_sample_flask'").rc == 0
    assert host.run("/srv/pip/venv/bin/pip --version").rc == 0
    assert host.file("/srv/pip/venv/.pyops-venv.json").contains('"installer": "pip"')


def test_changed_requirements_are_synced_into_the_same_venv(host):
    # prepare.yml left the sentinel in a one-package venv; a rebuild would have removed it.
    assert host.file("/srv/sync/venv/sentinel").content_string == "prepared"
    assert host.run("/srv/sync/venv/bin/python -c 'import flask, itsdangerous'").rc == 0
