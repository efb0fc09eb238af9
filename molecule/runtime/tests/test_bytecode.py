"""A release's venv built beside an earlier one of the same inputs takes its bytecode from there
(virtualenv_bytecode_from), and that bytecode is valid at the new path."""

import os

from testinfra.utils.ansible_runner import AnsibleRunner

testinfra_hosts = AnsibleRunner(os.environ["MOLECULE_INVENTORY_FILE"]).get_hosts("online")

EARLIER = "/srv/app/releases/r1/venv"
NEW = "/srv/app/releases/r2/venv"
FLASK_PYC = "lib/python3*/site-packages/flask/__pycache__/app.cpython-3*.pyc"


def test_unchanged_files_bytecode_is_the_earlier_venvs(host):
    inodes = host.check_output(f"stat -c %i {EARLIER}/{FLASK_PYC} {NEW}/{FLASK_PYC}").split()
    assert len(inodes) == 2 and inodes[0] == inodes[1]


def test_the_new_venv_imports_from_its_bytecode_with_its_own_paths(host):
    run = host.run(
        f"{NEW}/bin/python -B -v -c 'import flask.app, pyops_sample_flask as s; "
        "print(flask.app.Flask.__init__.__code__.co_filename); print(s.create_app.__code__.co_filename)'"
    )
    assert run.rc == 0, run.stderr
    flask_file, app_file = run.stdout.split()
    # The code objects name the new venv's files, although the bytecode was compiled for r1's.
    assert flask_file.startswith(NEW + "/") and flask_file.endswith("/flask/app.py")
    assert app_file.startswith(NEW + "/")
    assert "flask/__pycache__/app.cpython-3" in run.stderr and "matches " + NEW in run.stderr
    assert "bytecode is stale" not in run.stderr
    assert "site-packages/pyops_sample_flask/__pycache__/__init__.cpython-3" in run.stderr
