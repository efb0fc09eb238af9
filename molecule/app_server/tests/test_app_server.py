"""The sample apps served by the app_server role, observed on the hosts."""

import base64
import hashlib
import json
import re
from pathlib import Path

import pytest
import yaml
from scenario_hosts import scenario_host

UNITS = ["flask.service", "fastapi.service", "flask-worker.service", "flask-heartbeat.service"]
SCENARIO = Path(__file__).resolve().parent.parent
# The awkward values serve.yml puts in the Flask app's env file.
AWKWARD = yaml.safe_load((SCENARIO / "env_values.yml").read_text())["app_env_awkward"]
# sha256 of named variables of a process, read from /proc/<pid>/environ: digests only, no value printed.
ENVIRON_DIGESTS = """
import hashlib, json, sys
pid, names = sys.argv[1], sys.argv[2:]
with open(f"/proc/{pid}/environ", "rb") as environ:
    pairs = [entry.split(b"=", 1) for entry in environ.read().split(b"\\0") if b"=" in entry]
found = {key.decode(): hashlib.sha256(value).hexdigest() for key, value in pairs}
print(json.dumps({name: found.get(name) for name in names}))
"""
# Run with a venv's python as the app's user: import every extension module (*.so) of its site-packages.
IMPORT_EXTENSIONS = """
import importlib, json, pathlib, sysconfig
site = pathlib.Path(sysconfig.get_paths()["purelib"])
loaded, failed = [], []
for path in sorted(site.rglob("*.so")):
    parts = path.relative_to(site).parts
    dotted = parts[:-1] + (parts[-1].split(".")[0],)
    if not all(part.isidentifier() for part in dotted):
        continue  # a shared library vendored beside the modules (such as pkg.libs/), not a module
    try:
        importlib.import_module(".".join(dotted))
        loaded.append(".".join(dotted))
    except Exception as exc:
        failed.append(f"{'.'.join(dotted)}: {type(exc).__name__}: {exc}")
print(json.dumps({"loaded": loaded, "failed": failed}))
"""


def python_on_host(host, script, argv="", user=None, python="python3"):
    """Run a script on the host (from stdin, so its file's mode does not matter), as `user` if given."""
    encoded = base64.b64encode(script.encode()).decode()
    runner = f"runuser -u {user} -- " if user else ""
    return host.check_output(f"echo {encoded} | base64 -d | {runner}{python} -I - {argv}")


def test_wsgi_app_answers_on_unix_socket_and_port(host, http_probe):
    for address in ("/run/flask.sock", "127.0.0.1:8001"):
        reply = http_probe(host, address)
        assert reply["failed"] == 0, reply
        assert json.loads(reply["body"])["release"] == "r1"


def test_asgi_app_answers_through_uvicorn_workers(host, http_probe):
    reply = http_probe(host, "127.0.0.1:8002")
    assert reply["failed"] == 0, reply
    assert json.loads(reply["body"])["release"] == "r1"
    assert "uvicorn_worker.UvicornWorker" in host.file("/etc/fastapi/gunicorn.conf.py").content_string


@pytest.mark.parametrize("unit", UNITS)
def test_units_are_sandboxed_to_exposure_2_5_or_less(host, unit):
    out = host.check_output(f"systemd-analyze security --no-pager {unit}")
    score = float(re.search(r"Overall exposure level for \S+: ([0-9.]+)", out).group(1))
    assert score <= 2.5, out.splitlines()[-1]


def test_server_runs_as_app_user_which_cannot_change_code(host):
    assert host.check_output("systemctl show -p User --value flask.service") == "flask"
    for path in ("/srv/flask/releases/r1/pyops_sample_flask/__init__.py", "/srv/flask/releases/r1/venv/bin"):
        denied = host.run(f"runuser -u flask -- sh -c 'touch {path}/x 2>/dev/null || touch {path}'")
        assert denied.rc != 0, path
    assert host.run("runuser -u flask -- touch /srv/flask/shared/log/probe").rc == 0


def test_environment_file_is_private_to_the_app(host):
    env = host.file("/etc/flask/env")
    assert env.user == "root"
    assert env.group == "flask"
    assert env.mode == 0o640
    assert 'APP_SECRET="not-a-real-secret"' in env.content_string


def test_env_file_values_reach_the_app_byte_exact(host):
    """A PEM key, $, quotes, #, backslashes and non-ASCII text arrive as given (to_json's file kept
    \\n and \\uXXXX literally: the digests differed)."""
    pid = host.check_output("systemctl show -p MainPID --value flask.service")
    assert pid not in ("", "0")
    # As the app's user: root in the container lacks CAP_SYS_PTRACE, which another user's environ needs.
    found = json.loads(python_on_host(host, ENVIRON_DIGESTS, f"{pid} {' '.join(AWKWARD)}", user="flask"))
    expected = {name: hashlib.sha256(value.encode()).hexdigest() for name, value in AWKWARD.items()}
    assert found == expected


@pytest.mark.parametrize(("app", "extension"), [("flask", "markupsafe._speedups"), ("fastapi", "pydantic_core")])
def test_every_extension_module_of_the_venv_loads_as_the_app_user(host, app, extension):
    """The venvs were built under umask 0027 (converge.yml): uv's cache files 0640 root:root, linked
    into the venv, made `import markupsafe._speedups` fail as the app's user on Debian 13."""
    python = f"/srv/{app}/current/venv/bin/python"
    found = json.loads(python_on_host(host, IMPORT_EXTENSIONS, user=app, python=python))
    assert found["failed"] == []
    assert [name for name in found["loaded"] if name.startswith(extension)], found["loaded"]


def test_markupsafe_escapes_with_its_c_speedups_as_the_app_user(host):
    check = "import markupsafe\nprint(markupsafe._escape_inner.__module__)\n"
    assert python_on_host(host, check, user="flask", python="/srv/flask/current/venv/bin/python") == (
        "markupsafe._speedups"
    )


def test_unix_socket_is_for_the_proxy_group_only(host):
    sock = host.file("/run/flask.sock")
    assert sock.is_socket
    assert sock.group == "www-data"
    assert sock.mode == 0o660


def test_background_worker_and_timer_run(host):
    assert host.service("flask-worker.service").is_running
    assert host.run("systemctl is-active flask-heartbeat.timer").stdout.strip() == "active"
    # The timer fires every 10 s; give it a chance if this test runs early.
    wait = "for i in $(seq 30); do test -s /srv/flask/shared/log/heartbeat && exit 0; sleep 1; done; exit 1"
    host.run_expect([0], wait)


def test_restarts_under_load_fail_no_request(host, http_probe):
    http_probe(host, "/run/flask.sock")
    host.run_expect([0], f"python3 {http_probe.path} /run/flask.sock /healthz 12 > /tmp/load.json 2>&1 &")
    for _ in range(3):
        host.run_expect([0], "sleep 2; systemctl restart flask.service")
    host.run_expect([0], "sleep 5; for i in $(seq 30); do test -s /tmp/load.json && exit 0; sleep 1; done; exit 1")
    reply = json.loads(host.file("/tmp/load.json").content_string)
    assert reply["sent"] > 100, reply
    assert reply["failed"] == 0, reply


def test_candidate_unit_runs_a_release_on_a_private_socket(host, http_probe):
    host.run_expect([0], "systemctl start flask-candidate@r1.service")
    try:
        reply = http_probe(host, "/run/flask-candidate-r1/app.sock")
        assert json.loads(reply["body"])["release"] == "r1"
    finally:
        host.run_expect([0], "systemctl stop flask-candidate@r1.service")


def test_candidate_of_code_that_cannot_import_fails_to_start(host, broken_candidate):
    started, state, _ = broken_candidate(host, "flask", "pyops_sample_flask")
    assert started.rc != 0 and state != "active", state


def test_a_release_without_its_server_and_an_incomplete_lock_are_refused_before_anything_runs(ansible_playbook):
    """refused.yml runs on the Debian 13 host only: one run serves both cases."""
    host = scenario_host("pyops-appsrv-debian13")
    run = ansible_playbook("molecule/app_server/refused.yml")
    # Whitespace-normalized (the YAML callback may fold); no substring holds a ' that YAML would double.
    words = " ".join((run.stdout + run.stderr).split())
    assert run.returncode == 0 and "rescued=2" in words, run.stdout[-3000:] + run.stderr[-2000:]
    # The server: refused by the role's check, before any file or unit of the app was written.
    assert re.search(r"refused at: (pyops\.deploy\.app_server : )?Check the release", words)
    assert "its venv lacks venv/bin/gunicorn (missing) and the module uvicorn_worker" in words
    assert "Add gunicorn and uvicorn-worker to the app" in words
    assert host.run("systemctl cat noserver.service").rc != 0
    assert not host.file("/etc/noserver").exists and not host.user("noserver").exists
    # The lock: refused by the venv module, naming the missing dependency and how to lock.
    assert re.search(r"refused at: (pyops\.deploy\.virtualenv : )?Build the venv, or leave it as it is", words)
    assert "/srv/incomplete/requirements.txt must be a complete lock" in words
    assert "The package `flask` requires" in words and "uv pip compile --generate-hashes" in words
