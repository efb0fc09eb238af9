"""Venvs built by pyops.deploy.virtualenv: the right interpreter, the app importable, read-only for the app."""

import json
import os

import pytest
from testinfra.utils.ansible_runner import AnsibleRunner

testinfra_hosts = AnsibleRunner(os.environ["MOLECULE_INVENTORY_FILE"]).get_hosts("all")

VENV = "/srv/app/releases/r1/venv"
PYTHON = {"bookworm": "3.11", "trixie": "3.13"}
VERSION = "-c 'import platform; print(platform.python_version())'"


@pytest.fixture
def minor(host):
    return PYTHON[host.system_info.codename]


def site_packages(minor):
    return f"{VENV}/lib/python{minor}/site-packages"


def test_venv_runs_the_hosts_interpreter(host, minor):
    version = host.check_output(f"{VENV}/bin/python {VERSION}")
    assert version.startswith(minor + ".")
    assert host.check_output(f"/usr/bin/python{minor} {VERSION}") == version
    marker = json.loads(host.file(f"{VENV}/.pyops-venv.json").content_string)
    assert marker["python"] == version
    assert marker["interpreter"] == f"/usr/bin/python{minor}"


def test_the_app_and_its_pinned_dependencies_import(host):
    out = host.check_output(
        f"{VENV}/bin/python -c 'import flask, gunicorn, pyops_sample_flask, importlib.metadata as m; "
        'print(m.version("flask"), pyops_sample_flask.create_app().name)\''
    )
    assert out == "3.1.3 pyops_sample_flask"


def test_the_runtime_user_can_run_the_app(host):
    assert host.run(f"runuser -u appuser -- {VENV}/bin/python -c 'import pyops_sample_flask'").rc == 0


def test_venv_is_owned_by_deploy_and_not_writable_by_the_group(host, minor):
    venv = host.file(VENV)
    assert (venv.user, venv.group) == ("deploy", "app")
    assert venv.mode == 0o755
    assert host.file(f"{VENV}/pyvenv.cfg").user == "deploy"
    # No file or directory in the venv is writable by group or others.
    assert host.check_output(f"find {VENV} ! -type l -perm /022 -print") == ""


@pytest.mark.parametrize(
    "attempt",
    [
        "touch {sp}/injected.py",
        "sh -c 'echo import os >> {sp}/flask/__init__.py'",
        "rm {sp}/pyops_sample_flask/__init__.py",
    ],
)
def test_the_runtime_user_cannot_change_the_code(host, minor, attempt):
    sp = site_packages(minor)
    before = host.file(f"{sp}/flask/__init__.py").sha256sum
    assert host.run("runuser -u appuser -- " + attempt.format(sp=sp)).rc != 0
    assert host.file(f"{sp}/flask/__init__.py").sha256sum == before
    assert not host.file(f"{sp}/injected.py").exists


def test_bytecode_was_compiled_at_install(host, minor):
    assert host.file(f"{site_packages(minor)}/flask/__pycache__").is_directory


def test_uv_is_the_pinned_version(host):
    assert host.check_output("/opt/pyops/uv/0.13.9/bin/uv --version").startswith("uv 0.13.9")
