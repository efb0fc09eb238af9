"""The release flow as an operator sees it: through the proxy, the hosts' release records, its lock
and the playbooks' own words. Converge left v1 serving on both app hosts; each test builds on the
one before (the releases they leave are the next one's history):

v2 under load -> v3 while a v4 is refused by its lock -> v5 killed, seen, refused, recovered ->
v6 broken, a plain rollback does nothing -> a named rollback to v2 refused by a before_rollback hook,
then forced, a plain one does nothing ->
v7 fails a hook, v8 prunes to 3 -> v9 in check mode changes nothing -> v10 refused by the dependency
gate (a vulnerable pin, then an expired allowlist entry), deployed with it allowlisted, its SBOM
matching the virtualenv and answering the status playbook's package question -> v11 for a newer
Python, refused on every host before either builds -> v12 without gunicorn in its lock, refused before
its candidate -> v13 answering 400 to Host: localhost, refused naming ALLOWED_HOSTS -> ... -> v19's static
files shipped to the proxy, v20's refused for a link to /etc/shadow, then shipped beside v19's, again with no
change -> tracing turned on with v21: v20 serves on untraced, v21 gets the OpenTelemetry packages and a request
through the proxy reaches the test's collector as a SERVER span -> v14 checked with deploy_health_host, its
collectstatic hook writing to a shared directory (last: the proxy's Host is refused).

The end-to-end suite (tests/e2e) runs the same flow on hardened hosts through the galaxy tarball.
"""

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from otlp_collector import SERVER, listing_command, marked, received
from scenario_hosts import scenario_host

PROJECT = Path(os.environ["MOLECULE_PROJECT_DIRECTORY"])
DEPLOY = "playbooks/deploy.yml"
ROLLBACK = "playbooks/rollback.yml"
STATUS = "playbooks/status.yml"
PROXY = "pyops-deploy-proxy"
APPS = ["pyops-deploy-app1", "pyops-deploy-app2"]
ROOT = "/srv/sample"
LOCK = f"{ROOT}/.deploy.lock"
# Code-only deploys after converge (the app server is configured already): what a pipeline that
# runs site.yml separately does, and a quicker run.
CODE_ONLY = ["-e", "deploy_configure_server=false"]


def host(name):
    return scenario_host(name)


def recap_changed(stdout):
    return {
        line.split()[0]: int(line.split("changed=")[1].split()[0])
        for line in stdout.splitlines()
        if "changed=" in line and "ok=" in line
    }


def said(run):
    """The run's output with its line wrapping undone (the YAML callback folds long messages)."""
    return " ".join(run.stdout.split())


def records(app):
    return json.loads(host(app).file(f"{ROOT}/.releases.json").content_string)["releases"]


def lock(app):
    found = host(app).file(LOCK)
    return json.loads(found.content_string) if found.exists else None


def release_dirs(app):
    return set(host(app).check_output(f"ls {ROOT}/releases").split())


def current(app):
    return host(app).check_output(f"readlink {ROOT}/current").rsplit("/", 1)[-1]


def audit(app):
    return host(app).file(f"{ROOT}/deploy-audit.jsonl").content_string.splitlines()


def state(app):
    """What a refused deploy must leave as it was on a host."""
    return current(app), records(app), audit(app), release_dirs(app), lock(app)


def hook_waiting_for(release):
    """A before_switch hook that holds the run (and its locks) until the test lets it go."""
    go = f"{ROOT}/shared/log/go-{release}"
    command = f"for i in $(seq 1200); do test -e {go} && exit 0; sleep 0.5; done; exit 1"
    return ["-e", json.dumps({"deploy_hooks": [{"name": "wait for the test", "command": command}]})], go


def hooks_running(app):
    """The app's hook units active on the host (their names end with the run's id)."""
    listed = host(app).run("systemctl list-units --plain --no-legend --state=active 'sample-hook-*'").stdout
    return [line.split()[0] for line in listed.splitlines() if line.strip()]


def recovery_hook_only(app, dead_run):
    """Whether the one hook running on the host is another run's than ``dead_run``."""
    running = hooks_running(app)
    return len(running) == 1 and dead_run not in running[0]


def wait_for(what, predicate, seconds=300):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    pytest.fail(f"timed out waiting for {what}")


@pytest.fixture(scope="module")
def variant(tmp_path_factory):
    """variant(release, patch="") -> a copy of the Flask sample whose package gets `patch` appended."""

    def make(release, patch=""):
        path = tmp_path_factory.mktemp(release) / "app"
        shutil.copytree(PROJECT / "examples" / "flask_app", path, ignore=shutil.ignore_patterns("__pycache__"))
        init = path / "pyops_sample_flask" / "__init__.py"
        init.write_text(init.read_text() + f"\nVERSION_MARK = {release!r}\n{patch}")
        return path

    return make


@pytest.fixture(scope="module")
def deploy(ansible_playbook, variant):
    """deploy(release, *args, patch="", wait=True): the deploy playbook on a variant named `release`."""

    def run(release, *args, patch="", wait=True):
        src = variant(release, patch)
        source = ["-e", f"deploy_src_dir={src}", "-e", f"deploy_release={release}"]
        return ansible_playbook(DEPLOY, *source, *args, wait=wait)

    return run


@pytest.fixture(scope="module")
def served(http_probe):
    """served() -> ({release}, {app host}) answering through the proxy, after each app host was asked itself."""
    proxy = host(PROXY)

    def read():
        for app in APPS:
            direct = http_probe(host(app), "127.0.0.1:8000")
            assert direct["failed"] == 0, (app, direct)
        http_probe(proxy, "https://localhost")
        probe = f"python3 {http_probe.path} https://localhost /healthz"
        out = proxy.check_output(f"for i in 1 2 3 4 5 6 7 8; do {probe}; done")
        bodies = [json.loads(json.loads(line)["body"]) for line in out.splitlines()]
        return {b["release"] for b in bodies}, {b["host"] for b in bodies}

    return read


def test_converge_serves_v1_through_the_proxy(served):
    assert served() == ({"v1"}, set(APPS))
    for app in APPS:
        assert records(app)["v1"]["status"] == "good"
        assert lock(app) is None


def test_v2_under_load_without_a_failed_request(deploy, served, http_probe):
    proxy = host(PROXY)
    http_probe(proxy, "https://localhost")
    started = proxy.check_output(
        f"setsid python3 {http_probe.path} https://localhost /healthz 900 > /tmp/load.json 2>&1 < /dev/null & echo $!"
    )
    try:
        run = deploy("v2")
    finally:
        proxy.run(f"kill -TERM {started}")
    wait_for("the load's report", lambda: proxy.file("/tmp/load.json").content_string.strip(), 60)
    report = json.loads(proxy.file("/tmp/load.json").content_string)
    assert run.returncode == 0, run.stdout[-3000:]
    assert report["sent"] > 50, report
    assert report["failed"] == 0, report
    assert served() == ({"v2"}, set(APPS))
    for app in APPS:
        assert current(app) == "v2"
        assert records(app)["v2"]["served_from"] == "v1"


def test_a_second_run_of_the_same_owner_is_refused_by_the_first_runs_lock(deploy, served):
    hold, go = hook_waiting_for("v3")
    first = deploy("v3", *CODE_ONLY, *hold, wait=False)
    try:
        wait_for("v3's locks", lambda: all(lock(app) for app in APPS))
        held = lock(APPS[0])
        assert held["run_id"] and all(lock(app)["run_id"] == held["run_id"] for app in APPS)
        before = {app: records(app) for app in APPS}
        second = deploy("v4", *CODE_ONLY)
        assert second.returncode != 0
        holder = f"deploy lock on {ROOT} is held by {held['owner']} (run {held['run_id']}"
        assert holder in said(second), second.stdout[-3000:]
        for app in APPS:
            assert lock(app)["run_id"] == held["run_id"]
            assert "v4" not in release_dirs(app)
            assert "v4" not in records(app)
            assert records(app)["v3"] == before[app]["v3"]
            assert not [line for line in audit(app) if '"v4"' in line]
        assert served()[0] == {"v2"}
    finally:
        for app in APPS:
            host(app).run(f"touch {go}")
    assert first.wait(timeout=600) == 0
    assert served() == ({"v3"}, set(APPS))
    for app in APPS:
        assert lock(app) is None


def test_a_killed_run_keeps_its_lock_until_it_is_broken(deploy, ansible_playbook, served):
    hold, go = hook_waiting_for("v5")
    run = deploy("v5", *CODE_ONLY, *hold, wait=False)
    # Killed while every host holds its lock and runs the hook: the release is built, not live. The
    # hook's unit outlives the controller, still waiting: only breaking the lock stops it.
    wait_for("v5's hook", lambda: all(hooks_running(app) for app in APPS))
    os.killpg(run.pid, signal.SIGKILL)
    run.wait()
    left = {app: lock(app) for app in APPS}
    run_id = left[APPS[0]]["run_id"]
    assert run_id and all(held["run_id"] == run_id for held in left.values()), left
    assert served()[0] == {"v3"}

    status = ansible_playbook(STATUS)
    assert status.returncode == 0, status.stdout[-3000:]
    table = said(status)
    for app in APPS:
        row = table[table.index(f"- {app} ") :][:300]
        assert f"run {run_id}" in row and "v5" in row, row

    refused = ansible_playbook(ROLLBACK)
    assert refused.returncode != 0
    assert f"is held by {left[APPS[0]]['owner']} (run {run_id}" in said(refused), refused.stdout[-3000:]
    assert {app: lock(app) for app in APPS} == left
    assert served()[0] == {"v3"}

    assert all(hooks_running(app) for app in APPS)
    recovered = deploy("v5", *CODE_ONLY, *hold, "-e", "deploy_break_lock=true", wait=False)
    try:
        # The recovery's own hook waits too; when it runs, the dead run's hook is gone on every host.
        wait_for("the recovery's hook", lambda: all(recovery_hook_only(app, run_id) for app in APPS))
    finally:
        for app in APPS:
            host(app).run(f"touch {go}")
    assert recovered.wait(timeout=600) == 0
    assert served() == ({"v5"}, set(APPS))
    for app in APPS:
        assert lock(app) is None
        assert records(app)["v5"]["status"] == "good"
        assert not hooks_running(app)


def test_a_broken_release_never_takes_traffic_and_a_rollback_then_does_nothing(deploy, ansible_playbook, served):
    run = deploy("v6", *CODE_ONLY, patch="raise RuntimeError('v6 is broken')\n")
    assert run.returncode != 0
    assert "failed its health check" in said(run), run.stdout[-3000:]
    assert "v6 is broken" in said(run)
    assert served() == ({"v5"}, set(APPS))
    for app in APPS:
        assert lock(app) is None
        assert records(app)["v6"]["status"] == "failed"
        assert not records(app)["v6"].get("served")

    before = {app: records(app) for app in APPS}
    rollback = ansible_playbook(ROLLBACK)
    assert rollback.returncode == 0, rollback.stdout[-3000:]
    assert "failed before it took traffic" in said(rollback), rollback.stdout[-3000:]
    assert {app: recap_changed(rollback.stdout)[app] for app in APPS} == dict.fromkeys(APPS, 0)
    assert served() == ({"v5"}, set(APPS))
    for app in APPS:
        assert records(app) == before[app]
        assert lock(app) is None


def test_a_named_rollback_then_a_plain_one_that_does_nothing(ansible_playbook, served):
    # A before_rollback hook runs in the release the rollback goes to (its RELEASE file says which); when
    # it fails, as a database ahead of that release would make it, nothing moves on any host.
    check = {"name": "db-ahead", "stage": "before_rollback", "command": 'echo "$(cat RELEASE) lacks 0002" >&2; exit 3'}
    hooks = json.dumps({"deploy_hooks": [check]})
    before = {app: (records(app), current(app)) for app in APPS}
    refused = ansible_playbook(ROLLBACK, "-e", "deploy_rollback_to=v2", "-e", hooks)
    assert refused.returncode != 0, refused.stdout[-3000:]
    reason = "The rollback to v2 is refused by its before_rollback hook db-ahead (exit 3): v2 lacks 0002"
    assert reason in said(refused), refused.stdout[-3000:]
    assert served() == ({"v5"}, set(APPS))
    for app in APPS:
        assert (records(app), current(app)) == before[app]
        assert lock(app) is None

    # Forced, the same rollback goes ahead without running it.
    named = ansible_playbook(ROLLBACK, "-e", "deploy_rollback_to=v2", "-e", hooks, "-e", "deploy_rollback_force=true")
    assert "db-ahead" not in named.stdout
    assert named.returncode == 0, named.stdout[-3000:]
    assert served() == ({"v2"}, set(APPS))
    for app in APPS:
        assert records(app)["v5"]["status"] == "failed"
        assert lock(app) is None

    before = {app: records(app) for app in APPS}
    plain = ansible_playbook(ROLLBACK)
    assert plain.returncode == 0, plain.stdout[-3000:]
    assert "v2 is current because of a rollback from v5; repeating the rollback does nothing" in said(plain), (
        plain.stdout[-3000:]
    )
    assert {app: recap_changed(plain.stdout)[app] for app in APPS} == dict.fromkeys(APPS, 0)
    assert served() == ({"v2"}, set(APPS))
    for app in APPS:
        assert records(app) == before[app]


def test_prune_keeps_what_served_and_removes_what_never_did_first(deploy, served):
    # v7 fails a hook: built on every host, never checked, never live, not marked failed.
    failing = json.dumps({"deploy_hooks": [{"name": "fails", "command": "echo v7 cannot build >&2; exit 4"}]})
    run = deploy("v7", *CODE_ONLY, "-e", failing)
    assert run.returncode != 0
    assert "hook fails failed (exit 4)" in said(run), run.stdout[-3000:]
    for app in APPS:
        assert "v7" in release_dirs(app)
        assert lock(app) is None
    assert served()[0] == {"v2"}

    run = deploy("v8", *CODE_ONLY, "-e", "deploy_keep=3")
    assert run.returncode == 0, run.stdout[-3000:]
    assert served() == ({"v8"}, set(APPS))
    for app in APPS:
        # v8 and its rollback target v2, then the release that served most recently (v3, not v1);
        # v7 (never live, the newest of all) and the failed v5 and v6 go.
        assert release_dirs(app) == {"v8", "v2", "v3"}, app
        assert set(records(app)) == {"v8", "v2", "v3"}, app


def test_check_mode_of_a_new_release_changes_nothing(deploy, served):
    before = {app: (records(app), audit(app), release_dirs(app)) for app in APPS}
    run = deploy("v9", *CODE_ONLY, "--check", "--diff")
    assert run.returncode == 0, run.stdout[-3000:]
    assert "current at v9 (now v8)" in said(run), run.stdout[-3000:]
    assert all(changed > 0 for changed in (recap_changed(run.stdout)[app] for app in APPS))
    assert served() == ({"v8"}, set(APPS))
    for app in APPS:
        assert (records(app), audit(app), release_dirs(app)) == before[app]
        assert lock(app) is None
        assert current(app) == "v8"


# ---- the dependency gate and the SBOM (pyops.deploy.dependency_audit, pyops.deploy.release_sbom) ----

# The sample's werkzeug pin, with an advisory only the test's own OSV service knows.
ADVISORY = {
    "id": "PYSEC-2099-7",
    "aliases": ["CVE-2099-7007"],
    "summary": "test advisory: werkzeug's debugger runs code from the request",
    "schema_version": "1.6.0",
    "modified": "2026-01-01T00:00:00Z",
    "published": "2026-01-01T00:00:00Z",
    "database_specific": {"severity": "HIGH"},
    "affected": [
        {
            "package": {"ecosystem": "PyPI", "name": "werkzeug"},
            "versions": ["3.1.9"],
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "3.1.10"}]}],
        }
    ],
}


OSV_USER, OSV_SECRET = "audit-bot", "planted-osv-secret-5f1c"


@pytest.fixture(scope="module")
def osv(tmp_path_factory):
    """An OSV-compatible service on the controller (molecule/deploy/osv_server.py) serving ADVISORY to
    requests with OSV_USER:OSV_SECRET only; yields the deploy's arguments that turn the gate on against it
    (the credentials in the URL, as an internal mirror would need), and its query log."""
    work = tmp_path_factory.mktemp("osv")
    (work / "advisories.json").write_text(json.dumps([ADVISORY]))
    log = open(work / "queries.log", "w")  # noqa: SIM115 - open while the server runs
    server = subprocess.Popen(
        [
            sys.executable,
            str(Path(__file__).parents[1] / "osv_server.py"),
            str(work / "advisories.json"),
            str(work / "port"),
        ],
        stderr=log,
        env=dict(os.environ, OSV_BASIC_AUTH=f"{OSV_USER}:{OSV_SECRET}"),
    )
    try:
        wait_for("the OSV service", lambda: (work / "port").exists(), 30)
        url = f"http://{OSV_USER}:{OSV_SECRET}@127.0.0.1:{(work / 'port').read_text()}/v1/query"
        gate = ["-e", "deploy_audit=true", "-e", f"deploy_audit_osv_url={url}", "-e", "deploy_audit_fail_on=high"]
        yield gate, work / "queries.log"
    finally:
        server.terminate()
        server.wait(10)
        log.close()


def canonical(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def allow(expires):
    entry = {"id": "CVE-2099-7007", "reason": "the debugger is never enabled", "expires": expires}
    return ["-e", json.dumps({"deploy_audit_allow": [entry]})]


def test_a_vulnerable_pin_is_refused_once_before_any_host_changes(deploy, osv, served):
    gate, queries = osv
    before = {app: state(app) for app in APPS}
    # The whole deploy, app_server role included: the gate comes before any host is set up. At -vvv,
    # the mirror's password (in deploy_audit_osv_url) appears nowhere in the output.
    run = deploy("v10", *gate, "-vvv")
    assert run.returncode != 0
    assert OSV_SECRET not in run.stdout + run.stderr
    text = said(run)
    assert "1 known vulnerability at or above high; the deploy stops before any host is locked" in text, run.stdout[
        -3000:
    ]
    assert "werkzeug 3.1.9 PYSEC-2099-7 (CVE-2099-7007) 3.1.10 high BLOCKS" in text, run.stdout[-3000:]
    for app in APPS:
        assert state(app) == before[app]
        assert "v10" not in release_dirs(app)
    assert served()[0] == {"v8"}
    # Audited once for the run, not once per host: one query per pinned package.
    assert queries.read_text().count("POST /v1/query") == 9, queries.read_text()
    assert '" 401 ' not in queries.read_text()


def test_an_expired_allowlist_entry_stops_the_deploy_and_says_so(deploy, osv):
    gate, _ = osv
    before = {app: state(app) for app in APPS}
    run = deploy("v10", *CODE_ONLY, *gate, *allow("2026-01-31"))
    assert run.returncode != 0
    assert "allowlist entry CVE-2099-7007 expired on 2026-01-31" in said(run), run.stdout[-3000:]
    for app in APPS:
        assert state(app) == before[app]


def test_an_allowlisted_advisory_passes_and_the_release_has_its_sbom(deploy, osv, served):
    gate, _ = osv
    run = deploy("v10", *CODE_ONLY, *gate, *allow("2999-12-31"))
    assert run.returncode == 0, run.stdout[-3000:]
    assert "allowed: the debugger is never enabled" in said(run)
    assert served() == ({"v10"}, set(APPS))
    for app in APPS:
        h = host(app)
        path = f"{ROOT}/releases/v10/.pyops-sbom.cdx.json"
        sbom = h.file(path)
        assert (sbom.user, sbom.group, sbom.mode) == ("root", "root", 0o644)
        assert h.run(f"runuser -u sample -- sh -c 'echo x >> {path}'").rc != 0
        document = json.loads(sbom.content_string)
        assert document["bomFormat"] == "CycloneDX"
        listed = {canonical(c["name"]): c["version"] for c in document["components"]}
        venv = f"{ROOT}/releases/v10/venv"
        pip_list = h.run(f"{venv}/bin/python -m pip list --format json")
        if pip_list.rc != 0:  # a venv built by uv has no pip of its own: uv's pip list reads the same metadata
            pip_list = h.run(
                f"$(ls -d /opt/pyops/uv/*/bin/uv | head -1) pip list --python {venv}/bin/python --format json"
            )
        assert pip_list.rc == 0, pip_list.stderr
        installed = {canonical(p["name"]): p["version"] for p in json.loads(pip_list.stdout)}
        assert listed == installed
        assert listed["werkzeug"] == "3.1.9" and listed["flask"] == "3.1.3"
        digest = h.check_output(f"sha256sum {path}").split()[0]
        line = [json.loads(entry) for entry in audit(app) if '"sbom"' in entry and '"v10"' in entry]
        assert [entry["details"]["sbom_sha256"] for entry in line] == [digest]


def test_status_names_the_hosts_that_run_a_package_version(ansible_playbook):
    status = ansible_playbook(STATUS, "-e", "status_package=Werkzeug", "-e", "status_package_version=3.1.9")
    assert status.returncode == 0, status.stdout[-3000:]
    text = said(status)
    for app in APPS:
        assert f"{app} v10 Werkzeug 3.1.9" in text, status.stdout[-3000:]
    assert "2 of 2 hosts run Werkzeug 3.1.9" in text
    other = ansible_playbook(STATUS, "-e", "status_package=werkzeug", "-e", "status_package_version=3.1.10")
    assert "0 of 2 hosts run werkzeug 3.1.10" in said(other), other.stdout[-3000:]


# ---- a Django operator's mistakes, stopped before traffic moves (issue 23) ----


def deploy_variant(ansible_playbook, src, release, *args):
    return ansible_playbook(DEPLOY, "-e", f"deploy_src_dir={src}", "-e", f"deploy_release={release}", *args)


def test_a_release_for_a_newer_python_is_refused_on_every_host_before_any_builds(variant, ansible_playbook, served):
    src = variant("v11")
    pyproject = src / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('requires-python = ">=3.11"', 'requires-python = ">=3.12"'))
    old, new = APPS  # Debian 12 has Python 3.11, Debian 13 has 3.13
    node = host(old).check_output("python3 -c 'import platform; print(platform.node())'")
    live = current(old)
    before = {app: (current(app), lock(app)) for app in APPS}
    run = deploy_variant(ansible_playbook, src, "v11", *CODE_ONLY)
    assert run.returncode != 0
    text = said(run)
    assert f"{old}: release needs Python >=3.12, host {node} has 3.11." in text, run.stdout[-3000:]
    assert f"{new}: Not built: {old} cannot run this release" in text, run.stdout[-3000:]
    for app in APPS:
        assert (current(app), lock(app)) == before[app]
        # Refused on both hosts before either unpacked anything: the Debian 13 host could have built it.
        assert not host(app).file(f"{ROOT}/releases/v11").exists, app
    assert served() == ({live}, set(APPS))


def test_a_release_whose_lock_lacks_the_server_is_refused_before_its_candidate(variant, ansible_playbook, served):
    src = variant("v12")
    requirements = src / "requirements.txt"
    text = requirements.read_text()
    requirements.write_text(text[: text.index("gunicorn==")] + text[text.index("itsdangerous==") :])
    live = current(APPS[0])
    run = deploy_variant(ansible_playbook, src, "v12", *CODE_ONLY)
    assert run.returncode != 0
    said_ = said(run)
    refused = (
        "Release v12 cannot run gunicorn: its virtualenv lacks venv/bin/gunicorn (missing). Add gunicorn to the"
        " requirements lock of the release (requirements.txt"
    )
    for app in APPS:
        assert f"{app}: {refused}" in said_, run.stdout[-3000:]
    assert "203/EXEC" not in said_
    for app in APPS:
        h = host(app)
        assert h.file(f"{ROOT}/releases/v12/venv/bin/flask").exists  # built, without gunicorn
        assert h.run("journalctl -q --no-pager -u sample-candidate@v12.service").stdout.strip() == "", app
        assert current(app) == live and lock(app) is None
    assert served() == ({live}, set(APPS))


# The sample as a Django app with ALLOWED_HOSTS = ["sample.test", "127.0.0.1"] sees it: a 400 otherwise.
ALLOWED_HOSTS = """
from flask import abort as _abort, request as _request


@app.before_request
def _allowed_hosts():
    if _request.host.split(":")[0] not in ("sample.test", "127.0.0.1"):
        _abort(400)
"""


def test_a_400_from_the_candidate_says_to_check_allowed_hosts(deploy, served):
    live = current(APPS[0])
    run = deploy("v13", *CODE_ONLY, patch=ALLOWED_HOSTS)
    assert run.returncode != 0
    text = said(run)
    assert "failed its health check" in text, run.stdout[-3000:]
    assert "It answered 400 (Bad Request) to Host: localhost" in text, run.stdout[-3000:]
    assert "check ALLOWED_HOSTS / deploy_health_host" in text
    for app in APPS:
        assert records(app)["v13"]["status"] == "failed"
        assert current(app) == live and lock(app) is None
    assert served() == ({live}, set(APPS))


def test_status_shows_the_host_a_killed_run_left_drained_until_a_recovery_puts_it_back(
    deploy, ansible_playbook, served
):
    go = f"{ROOT}/shared/log/go-v15"
    command = f"for i in $(seq 1200); do test -e {go} && exit 0; sleep 0.5; done; exit 1"
    hook = {"name": "wait after the switch", "command": command, "stage": "after_switch"}
    hold = ["-e", json.dumps({"deploy_hooks": [hook]})]
    run = deploy("v15", *CODE_ONLY, *hold, wait=False)
    # Killed while the first batch (one of two hosts) is out of the upstream, switched, in its after_switch hook.
    wait_for("v15's after_switch hook", lambda: any(hooks_running(app) for app in APPS))
    os.killpg(run.pid, signal.SIGKILL)
    run.wait()
    drained = [app for app in APPS if hooks_running(app)]
    assert len(drained) == 1, drained
    run_id = lock(drained[0])["run_id"]
    # The proxy holds the host out: only the other one answers.
    assert served()[1] == set(APPS) - set(drained)

    status = ansible_playbook(STATUS)
    assert status.returncode == 0, status.stdout[-3000:]
    table = said(status)
    for app in APPS:
        row = table[table.index(f"- {app} ") :][:300]
        assert (f"run {run_id} yes " in row) == (app in drained), row

    try:
        recovered = deploy("v15", *CODE_ONLY, "-e", "deploy_break_lock=true")
        assert recovered.returncode == 0, recovered.stdout[-3000:]
    finally:
        for app in APPS:
            host(app).run(f"touch {go}")
    assert served() == ({"v15"}, set(APPS))
    table = said(ansible_playbook(STATUS))
    for app in APPS:
        assert lock(app) is None
        assert f"run {run_id}" not in table and " yes " not in table[table.index(f"- {app} ") :][:300]


def test_a_failed_after_switch_hook_sends_its_host_back_to_the_release_before(deploy, served):
    hook = {"name": "fail after the switch", "command": "echo after-switch-broke; exit 3", "stage": "after_switch"}
    run = deploy("v16", *CODE_ONLY, "-e", json.dumps({"deploy_hooks": [hook]}))
    assert run.returncode != 0
    text = said(run)
    assert "hook fail after the switch failed (exit 3): after-switch-broke" in text, run.stdout[-3000:]
    assert "This host went back to v15." in text, run.stdout[-3000:]
    # The first batch switched, ran the hook and went back; the second never switched.
    assert served() == ({"v15"}, set(APPS))
    statuses = sorted(records(app)["v16"]["status"] for app in APPS)
    assert statuses[0] == "failed" and "good" not in statuses, statuses
    for app in APPS:
        assert current(app) == "v15"
        assert lock(app) is None


def test_breaking_the_lock_frees_a_host_that_already_serves_the_release(deploy, served):
    hold, go = hook_waiting_for("v17")
    run = deploy("v17", *CODE_ONLY, *hold, wait=False)
    wait_for("v17's hook", lambda: all(hooks_running(app) for app in APPS))
    os.killpg(run.pid, signal.SIGKILL)
    run.wait()
    assert all(lock(app) for app in APPS)
    # The operator goes on with the release every host serves: nothing to deploy, but the dead run's
    # locks (and its hooks) go on every host.
    try:
        again = deploy("v15", *CODE_ONLY, "-e", "deploy_break_lock=true")
    finally:
        for app in APPS:
            host(app).run(f"touch {go}")
    assert again.returncode == 0, again.stdout[-3000:]
    assert served() == ({"v15"}, set(APPS))
    for app in APPS:
        assert lock(app) is None
        assert not hooks_running(app)


def test_the_drain_playbook_takes_a_host_out_and_puts_every_host_back(ansible_playbook, served):
    site = ["-e", "reverse_proxy_drain_site=sample"]
    out = ansible_playbook("playbooks/drain.yml", *site, "-e", f"drain_hosts={APPS[0]}")
    assert out.returncode == 0, out.stdout[-3000:]
    assert served() == ({"v15"}, {APPS[1]})
    refused = ansible_playbook("playbooks/drain.yml", *site, "-e", f"drain_hosts={APPS[0]},{APPS[1]}")
    assert refused.returncode != 0
    assert "no member of its upstream" in said(refused), refused.stdout[-3000:]
    back = ansible_playbook("playbooks/drain.yml", *site, "-e", "drain_hosts=")
    assert back.returncode == 0, back.stdout[-3000:]
    assert served() == ({"v15"}, set(APPS))


# A page whose view imports a module the release lacks: the app starts and /healthz answers.
BROKEN_VIEW = """

@app.route("/report")
def report():
    import pyops_report_engine  # noqa: F401 - only this page needs it, and the release forgot it

    return "report"
"""


def test_a_page_that_fails_only_when_asked_stops_the_release_before_it_takes_traffic(deploy, served):
    live = current(APPS[0])
    smoke = {"deploy_smoke_paths": ["/missing-page", "/report"]}
    run = deploy("v18", *CODE_ONLY, "-e", json.dumps(smoke), patch=BROKEN_VIEW)
    assert run.returncode != 0
    text = said(run)
    assert "Release v18 failed a smoke path (deploy_smoke_paths) before taking traffic" in text, run.stdout[-3000:]
    assert "passed its health check /healthz, but its smoke path /report answered 500" in text, run.stdout[-3000:]
    assert "pyops_report_engine" in text  # the candidate's journal: the traceback
    for app in APPS:
        assert records(app)["v18"]["status"] == "failed"
        assert current(app) == live and lock(app) is None
    assert served() == ({live}, set(APPS))


# ---- the release's collected static files, served by the proxy (issue 23) ----

STATIC = "/var/www/sample-static"  # the proxy site's `static` location (molecule.yml)


def collecting(release, planted=""):
    """-e settings whose hook does what collectstatic with ManifestStaticFilesStorage does: hashed names, a manifest."""
    command = (
        f"mkdir -p staticfiles/css && echo 'body{{}} /* {release} */' > staticfiles/css/app.{release}.css"
        f' && echo \'{{"paths": {{"css/app.css": "css/app.{release}.css"}} }}\' > staticfiles/staticfiles.json'
        f"{planted}"
    )
    settings = {"deploy_static_dir": "staticfiles", "deploy_hooks": [{"name": "collectstatic", "command": command}]}
    return ["-e", json.dumps(settings)]


def static_get(path):
    """[status, Cache-Control, body] of GET `path` through the proxy's nginx."""
    code = (
        "import http.client, json, ssl, sys;"
        " c = http.client.HTTPSConnection('localhost', 443, context=ssl._create_unverified_context());"
        " c.request('GET', sys.argv[1]); r = c.getresponse();"
        " print(json.dumps([r.status, r.getheader('Cache-Control'), r.read().decode(errors='replace')]))"
    )
    return json.loads(host(PROXY).check_output(f'python3 -c "{code}" {path}'))


def shipped():
    """The proxy's static files with their inode and mtime (a rewrite changes them)."""
    out = host(PROXY).run(f"cd {STATIC} && find . -type f -printf '%P %i %T@\\n'").stdout
    return {line.split()[0]: line.split()[1:] for line in out.splitlines()}


def test_a_link_in_the_collected_files_is_refused_and_never_followed(deploy, served):
    old = "v19"
    first = deploy(old, *CODE_ONLY, *collecting(old))
    assert first.returncode == 0, first.stdout[-3000:]
    assert static_get(f"/static/css/app.{old}.css")[0] == 200
    # v20's collectstatic leaves a link to /etc/shadow among the files (what a compromised app may write).
    shadow = host(APPS[0]).check_output("getent shadow root")
    planted = " && ln -sfn /etc/shadow staticfiles/css/shadow.css"
    try:
        run = deploy("v20", *CODE_ONLY, *collecting("v20", planted))
        assert run.returncode != 0
        text = said(run)
        assert "refused css/shadow.css: it is a symbolic link" in text, run.stdout[-3000:]
        assert "was not shipped with its static files" in text, run.stdout[-3000:]
        assert shadow not in run.stdout + run.stderr
        assert host(PROXY).run(f"grep -rqF '{shadow}' {STATIC}").rc == 1
        assert not host(PROXY).file(f"{STATIC}/css/shadow.css").exists
        assert static_get("/static/css/app.v20.css")[0] == 404  # nothing of v20 shipped
        assert served() == ({old}, set(APPS))
        for app in APPS:
            assert current(app) == old and lock(app) is None
            assert records(app).get("v20", {}).get("status") != "good"
    finally:
        for app in APPS:
            host(app).run(f"rm -f {ROOT}/shared/staticfiles/css/shadow.css")


def test_the_proxy_serves_the_old_and_the_new_releases_hashed_files(deploy, served):
    run = deploy("v20", *CODE_ONLY, *collecting("v20"))
    assert run.returncode == 0, run.stdout[-3000:]
    assert served() == ({"v20"}, set(APPS))
    # Merged before any host switched, never removed: the previous release's pages still find their files.
    for release in ["v19", "v20"]:
        status, cache, body = static_get(f"/static/css/app.{release}.css")
        assert (status, cache) == (200, "public, max-age=2592000"), (release, status, cache)
        assert f"/* {release} */" in body
    assert "css/app.v20.css" in static_get("/static/staticfiles.json")[2]
    assert set(shipped()) == {"css/app.v19.css", "css/app.v20.css", "staticfiles.json"}

    before = shipped()
    again = deploy("v20", *CODE_ONLY, *collecting("v20"))
    assert again.returncode == 0, again.stdout[-3000:]
    # The proxy's tasks run delegated from the first app host: no change there, and no file rewritten.
    assert {app: recap_changed(again.stdout)[app] for app in APPS} == dict.fromkeys(APPS, 0), again.stdout[-3000:]
    assert shipped() == before


# ---- OpenTelemetry traces (issue 25 item 2) ----

COLLECTOR = "/usr/local/bin/pyops-otlp-collector"  # molecule/otlp_collector.py, on the proxy host
TRACES = "/run/pyops-otlp"
OTLP_HEADER = "x-pyops-otlp-key"


def received_traces():
    """[(spans, sha256 of the OTLP_HEADER it came with)] of every export the collector stored."""
    return received(host(PROXY).check_output(listing_command(TRACES)))


def test_tracing_turned_on_sends_a_server_span_of_a_request_through_the_proxy(deploy, served, http_probe):
    proxy = host(PROXY)
    script = (PROJECT / "molecule" / "otlp_collector.py").read_text()
    proxy.run_expect([0], f"cat > {COLLECTOR} <<'PYEOF'\n{script}\nPYEOF")
    proxy.run(f"systemctl stop pyops-otlp-collector; systemctl reset-failed pyops-otlp-collector; rm -rf {TRACES}")
    proxy.run_expect(
        [0], f"systemd-run --unit=pyops-otlp-collector --collect python3 {COLLECTOR} {TRACES} 4318 {OTLP_HEADER}"
    )
    address = proxy.check_output("hostname -I").split()[0]
    key = f"otlp-key-{uuid.uuid4().hex}"
    settings = {
        "app_server_otel_enabled": True,
        "app_server_otel_endpoint": f"http://{address}:4318",
        "app_server_otel_headers": {OTLP_HEADER: key},
        "app_server_otel_resource_attributes": {"deployment.environment.name": "molecule"},
    }
    live = current(APPS[0])
    # Not code-only: the deploy's app_server run writes the settings and restarts the live release first.
    run = deploy("v21", "-e", json.dumps(settings))
    assert run.returncode == 0, run.stdout[-3000:]
    assert key not in run.stdout + run.stderr
    assert served() == ({"v21"}, set(APPS))
    for app in APPS:
        h = host(app)
        # The live release, built without the packages, served on untraced after that restart, and said why.
        journal = h.run("journalctl -q --no-pager -o cat -u sample.service").stdout
        assert "lacks opentelemetry-distro: serving without traces" in journal, app
        assert not h.file(f"{ROOT}/releases/{live}/venv/bin/opentelemetry-instrument").exists
        assert h.file(f"{ROOT}/releases/v21/venv/bin/opentelemetry-instrument").exists, app
        sbom = json.loads(h.file(f"{ROOT}/releases/v21/.pyops-sbom.cdx.json").content_string)
        listed = {canonical(c["name"]): c["version"] for c in sbom["components"]}
        assert listed.get("opentelemetry-distro") == "0.66b1", app  # the release's SBOM names what it runs
        # The key is in the root-owned environment file only: not in a unit, not in the server's config.
        assert h.run(f"grep -rlF {key} /etc/systemd/system /etc/sample/gunicorn.conf.py").rc == 1, app

    marker = uuid.uuid4().hex
    assert http_probe(proxy, "https://localhost", f"/healthz?trace={marker}")["failed"] == 0

    def requested():
        return marked(received_traces(), marker)

    wait_for("the request's span at the collector", requested, 60)
    [(span, digest)] = requested()
    attributes = span["attributes"]
    assert span["kind"] == SERVER, span
    assert attributes["http.route"] == "/healthz", attributes
    assert attributes.get("http.status_code", attributes.get("http.response.status_code")) == 200, attributes
    assert span["resource"]["service.name"] == "sample", span["resource"]
    assert span["resource"]["deployment.environment.name"] == "molecule", span["resource"]
    # The header came with the export (compared by digest: the collector never writes it).
    assert digest == hashlib.sha256(key.encode()).hexdigest()
    proxy.run("systemctl stop pyops-otlp-collector")


# Last: the proxy asks with Host: localhost, which this release refuses.
def test_deploy_health_host_and_collectstatic_into_a_shared_app_writable_dir(deploy, http_probe):
    # The README's Django example: STATIC_ROOT = BASE_DIR / "staticfiles", a shared directory the app may
    # write (molecule.yml), linked into each root-owned release; the hook copies what collectstatic would.
    collect = (
        "python -c \"import shutil; shutil.copytree('pyops_sample_flask/static', 'staticfiles', dirs_exist_ok=True)\""
    )
    settings = {"deploy_health_host": "sample.test", "deploy_hooks": [{"name": "collectstatic", "command": collect}]}
    run = deploy("v14", *CODE_ONLY, "-e", json.dumps(settings), patch=ALLOWED_HOSTS)
    assert run.returncode == 0, run.stdout[-3000:]
    for app in APPS:
        h = host(app)
        # Both health checks (the candidate's, then the restarted app's) asked with Host: sample.test.
        assert current(app) == "v14" and records(app)["v14"]["status"] == "good"
        assert json.loads(http_probe(h, "127.0.0.1:8000")["body"])["release"] == "v14"
        assert h.file(f"{ROOT}/releases/v14/staticfiles").is_symlink
        collected = h.file(f"{ROOT}/shared/staticfiles/style.css")
        assert collected.exists and collected.user == "sample", app
        assert h.file(f"{ROOT}/releases/v14").user == "root"
