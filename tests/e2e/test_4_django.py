"""The Django sample (examples/django_app) as the sandbox's second app, `shop`, beside the Flask sample on both
app hosts, on the PostgreSQL and Redis of the sandbox's database host (tools/sandbox_db_host.yml), deployed
with the settings of inventories/sandbox_shop.yml, as docs/django.md tells an operator to.

The releases, each deployed by `ansible-playbook pyops.deploy.deploy` from the operator's project:
- v1, by the commands of docs/django.md: the admin's login page renders through the proxy, a note written
  through one app host is read back through the other (one database) and its request reaches the e2e's
  OpenTelemetry collector as a server span, the hashed stylesheet comes from the proxy with a year's caching;
- v2, with a migration (a new table), under load through the proxy: no failed request, the migration applied;
  v1's stylesheet is still served (old and new assets side by side, as a rolling deploy needs);
- v3, with another migration and a lock line that cannot install on Debian 12's Python: its build fails on
  app1, no host switches, and v3's migration is in the database nowhere;
- a rollback to v1 is refused by the shop's before_rollback hook, naming v2's migration; forced, it serves v1.
Then beat's ticks: one row per interval across the fleet, each run once.
The Flask sample serves throughout.
"""

import datetime
import http.client
import json
import os
import shlex
import shutil
import ssl
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from sandbox_site import APPS, HTTPS, ROOT, otlp, podman_host, received_traces, run_documented, served

PROBE = ROOT / "molecule" / "http_probe.py"
SITE = "shop.sandbox.test"
SHOP_VARS = ROOT / "inventories" / "sandbox_shop.yml"
DJANGO_MD = ROOT / "docs" / "django.md"
DB = "pyops-sandbox-db"
APP_ROOT = "/srv/shop"
pytestmark = pytest.mark.usefixtures("sandbox")

sys.path.insert(0, str(ROOT / "tools"))
import runbook_blocks  # noqa: E402


def shop(method, path, body=None):
    """(status, headers, text) of one request to the shop's site through the proxy's published port."""
    port = int(HTTPS.rsplit(":", 1)[1])
    context = ssl._create_unverified_context()  # the sandbox's certificates are self-signed
    conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=20, context=context)
    try:
        headers = {"Host": SITE}
        if body is not None:
            headers["Content-Type"] = "application/json"
        conn.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
        reply = conn.getresponse()
        return reply.status, {k.lower(): v for k, v in reply.getheaders()}, reply.read().decode()
    finally:
        conn.close()


def shop_served(requests=20):
    """Releases and hosts that answered the shop's /healthz through the proxy."""
    seen = set()
    for _request in range(requests):
        status, _headers, text = shop("GET", "/healthz")
        assert status == 200, text
        reply = json.loads(text)
        seen.add((reply["release"], reply["host"]))
    return {release for release, _host in seen}, {host for _release, host in seen}


def applied_migrations():
    """The notes app's migrations the shop's database holds, read on the database host."""
    query = "SELECT name FROM django_migrations WHERE app = 'notes' ORDER BY name"
    return podman_host(DB).check_output(f'runuser -u postgres -- psql -d shop -tAc "{query}"').split()


def read_on(app, path):
    """The body of a GET of the shop on one app host's own port (its firewall admits the host itself)."""
    script = (
        "import sys, urllib.request as u; "
        f"r = u.Request('http://127.0.0.1:8001' + sys.argv[1], headers={{'Host': '{SITE}'}}); "
        "print(u.urlopen(r, timeout=10).read().decode())"
    )
    return podman_host(app).check_output(f"python3 -c {shlex.quote(script)} {shlex.quote(path)}")


def db_password():
    return (Path.home() / ".cache" / "pyops" / "sandbox" / "shop-db-password").read_text().strip()


def stylesheet(html):
    """The hashed stylesheet's URL a page links to."""
    start = html.index('href="/static/notes/style.') + len('href="')
    return html[start : html.index('"', start)]


def variant(tmp_path_factory, name, *, migrations=(), css="", requirements=""):
    """A copy of the sample with migrations added (each: (file name, model name, dependency)), the stylesheet
    changed and lines added to its lock."""
    path = tmp_path_factory.mktemp(name) / "app"
    ignore = shutil.ignore_patterns("__pycache__", "*.sqlite3", "staticfiles", "state")
    shutil.copytree(ROOT / "examples" / "django_app", path, ignore=ignore)
    models = path / "notes" / "models.py"
    for file_name, model, dependency in migrations:
        models.write_text(
            models.read_text() + f"\n\nclass {model}(models.Model):\n    name = models.CharField(max_length=40)\n"
        )
        (path / "notes" / "migrations" / f"{file_name}.py").write_text(
            "from django.db import migrations, models\n\n\n"
            "class Migration(migrations.Migration):\n"
            f"    dependencies = [('notes', '{dependency}')]\n"
            "    operations = [\n"
            "        migrations.CreateModel(\n"
            f"            name='{model}',\n"
            "            fields=[\n"
            "                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False,"
            " verbose_name='ID')),\n"
            "                ('name', models.CharField(max_length=40)),\n"
            "            ],\n"
            "        ),\n"
            "    ]\n"
        )
    style = path / "notes" / "static" / "notes" / "style.css"
    style.write_text(style.read_text() + css)
    lock = path / "requirements.txt"
    lock.write_text(lock.read_text() + requirements)
    return path


@pytest.fixture(scope="module")
def shop_vars(awx_project):
    """The project's copy of inventories/sandbox_shop.yml (the e2e's inventory is a copy too)."""
    copy = awx_project["data"] / "sandbox_shop.yml"
    shutil.copy(SHOP_VARS, copy)
    return copy


@pytest.fixture(scope="module")
def deploy_shop(run_playbook, shop_vars):
    """deploy(playbook, src, *args): a shop run, its code from `src` (the copy's default names the checkout)."""

    def deploy(playbook, src, *args, **kwargs):
        return run_playbook(playbook, "-e", f"@{shop_vars}", "-e", f"deploy_src_dir={src}", *args, **kwargs)

    return deploy


@pytest.fixture(scope="module")
def v1(tmp_path_factory):
    return variant(tmp_path_factory, "shop-v1")


V2_MIGRATIONS = [("0002_label", "Label", "0001_initial")]
V3_MIGRATIONS = [*V2_MIGRATIONS, ("0003_tag", "Tag", "0002_label")]
# A lock line that only Debian 12's Python 3.11 installs, for a package no index has: v3's build fails there.
UNINSTALLABLE = "pyops-e2e-absent==1.0 ; python_full_version < '3.12' \\\n    --hash=sha256:" + "0" * 64 + "\n"


DOC_BLOCKS = runbook_blocks.extract(DJANGO_MD.read_text(), DJANGO_MD.relative_to(ROOT))


def as_in_the_e2e(command, awx_project, shop_vars, src):
    """A docs/django.md command on the e2e's copies: its inventory, its shop settings, the sample's code."""
    mapped = command.replace(runbook_blocks.SANDBOX, f"-i {shlex.quote(str(awx_project['data'] / 'inventory'))}")
    settings = f"-e @{shlex.quote(str(shop_vars))} -e {shlex.quote(f'deploy_src_dir={src}')}"
    return mapped.replace(f"-e @{SHOP_VARS.relative_to(ROOT)}", settings)


def test_the_guides_commands_deploy_v1(awx_project, shop_vars, v1):
    """docs/django.md's runnable blocks, in order, from the operator's project: its deploy is the shop's v1.
    Its other commands are the lifecycle's below (deploys, the rollback refused and forced), and site.yml's
    first run is the e2e's (test_1_site.py)."""
    assert DOC_BLOCKS, "docs/django.md has no runnable block"
    flask_before = served()[0]
    outputs = []
    for block in DOC_BLOCKS:
        for command in block.commands:
            run = run_documented(as_in_the_e2e(command, awx_project, shop_vars, v1), awx_project)
            assert run.returncode == 0, f"{block.name}: $ {command}\n{run.stdout[-4000:]}\n{run.stderr[-2000:]}"
            outputs.append(run.stdout + run.stderr)
    # The database's password is in the env file on the hosts, and in no output.
    assert not [out for out in outputs if db_password() in out]
    assert shop_served() == ({"v1"}, set(APPS))
    assert served()[0] == flask_before


def test_v1_serves_the_admin_a_shared_database_and_static_files_from_the_proxy(otlp_collector):
    status, _headers, page = shop("GET", "/admin/login/")
    assert status == 200 and "Django administration" in page and 'name="password"' in page, page[:500]

    # A note written through the proxy, read back from the other app host: both share one database.
    status, _headers, text = shop("POST", "/notes", {"text": "e2e v1 note"})
    assert status == 201, text
    note = json.loads(text)
    (other,) = set(APPS) - {note["host"]}
    assert json.loads(read_on(other, f"/notes/{note['id']}")) == note

    # Traced (the e2e's inventory turns tracing on for the app hosts): the read is a server span of the shop.
    marker = uuid.uuid4().hex
    assert shop("GET", f"/notes/{note['id']}?trace={marker}")[0] == 200
    deadline = time.monotonic() + 60
    while not (found := otlp.marked(received_traces(), marker)) and time.monotonic() < deadline:
        time.sleep(1)
    assert len(found) == 1, f"{len(found)} spans of the request at the collector"
    span = found[0][0]
    assert span["kind"] == otlp.SERVER and span["resource"]["service.name"] == "shop", span
    assert span["attributes"]["http.route"] == "notes/<int:pk>", span["attributes"]

    # The stylesheet under its hashed name, from the proxy's disk, cached for a year.
    status, _headers, page = shop("GET", "/")
    assert status == 200, page[:500]
    css = stylesheet(page)
    status, headers, _text = shop("GET", css)
    assert status == 200, css
    assert "max-age=31536000" in headers["cache-control"] and "immutable" in headers["cache-control"], headers
    proxy_copy = podman_host("pyops-sandbox-proxy").file("/srv/shop/static/" + css.removeprefix("/static/"))
    assert proxy_copy.exists, css


def test_v2_with_a_migration_is_served_under_load_without_a_failed_request(deploy_shop, tmp_path_factory):
    old_css = stylesheet(shop("GET", "/")[2])
    v2 = variant(tmp_path_factory, "shop-v2", migrations=V2_MIGRATIONS, css="\n/* v2 */\n")
    load = subprocess.Popen(
        [sys.executable, str(PROBE), HTTPS, "/healthz", "3600"],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PROBE_HOST": SITE},
    )
    run = deploy_shop("pyops.deploy.deploy", v2, "-e", "deploy_release=v2")
    load.terminate()
    report = json.loads(load.communicate(timeout=60)[0])
    assert run.returncode == 0, run.stdout[-4000:]
    assert report["sent"] > 100 and report["failed"] == 0, report
    assert shop_served() == ({"v2"}, set(APPS))
    assert applied_migrations() == ["0001_initial", "0002_label"]
    new_css = stylesheet(shop("GET", "/")[2])
    assert new_css != old_css
    for css in (old_css, new_css):
        assert shop("GET", css)[0] == 200, css


def test_v3_that_fails_to_build_on_one_host_applies_no_migration(deploy_shop, tmp_path_factory, awx_project):
    v3 = variant(tmp_path_factory, "shop-v3", migrations=V3_MIGRATIONS, css="\n/* v3 */\n", requirements=UNINSTALLABLE)
    run = deploy_shop("pyops.deploy.deploy", v3, "-e", "deploy_release=v3")
    assert run.returncode != 0
    assert "pyops-e2e-absent" in run.stdout, run.stdout[-4000:]
    token = awx_project["planted"]["token"]
    assert token not in run.stdout + run.stderr
    assert shop_served() == ({"v2"}, set(APPS))
    assert applied_migrations() == ["0001_initial", "0002_label"]
    for app in APPS:
        assert not podman_host(app).file(f"{APP_ROOT}/.deploy.lock").exists


def test_a_rollback_across_a_migration_is_refused_then_forced(deploy_shop, v1):
    run = deploy_shop("pyops.deploy.rollback", v1)
    assert run.returncode != 0
    assert "The rollback to v1 is refused by its" in run.stdout, run.stdout[-4000:]
    assert "notes.0002_label" in run.stdout, run.stdout[-4000:]
    assert shop_served()[0] == {"v2"}
    forced = deploy_shop("pyops.deploy.rollback", v1, "-e", "deploy_rollback_force=true")
    assert forced.returncode == 0, forced.stdout[-4000:]
    assert shop_served() == ({"v1"}, set(APPS))
    # v1's code runs on the schema v2 left (a new table it does not know of).
    status, _headers, text = shop("POST", "/notes", {"text": "after the rollback"})
    assert status == 201, text


def test_beat_runs_each_tick_once_across_the_fleet():
    # Beat runs on the first app host only (hosts: one); workers on both. Every minute since v1 has its row.
    deadline = time.monotonic() + 150
    while True:
        status, _headers, text = shop("GET", "/ticks")
        assert status == 200, text
        ticks = json.loads(text)["ticks"]
        if len(ticks) >= 2 or time.monotonic() > deadline:
            break
        time.sleep(10)
    assert len(ticks) >= 2, ticks
    assert all(tick["runs"] == 1 for tick in ticks), ticks
    # No interval without its tick, through three switches and a rollback (newest first).
    slots = [datetime.datetime.fromisoformat(tick["slot"]) for tick in ticks]
    assert all(a - b == datetime.timedelta(minutes=1) for a, b in zip(slots, slots[1:])), ticks
    for app in APPS:
        beat = podman_host(app).run("systemctl is-active shop-beat.service").stdout.strip()
        assert beat == ("active" if app == sorted(APPS)[0] else "inactive"), (app, beat)
