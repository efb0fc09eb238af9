"""examples/django_app: its lock installs, and the project works the way a deploy runs it.

A virtualenv is built from the hash-pinned lock (cached under build/examples/, keyed by the lock and
this Python; a lock that does not install fails the tests). The code is laid out like a release:
a copy with a RELEASE file, `staticfiles` and `state` linked to a shared directory. manage.py then
runs as the deploy's hooks do, with a production environment (no DJANGO_DEBUG) and SQLite.
"""

import hashlib
import importlib.util
import json
import os
import pwd
import re
import shlex
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

import pytest

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "examples" / "django_app"
LOCK = APP / "requirements.txt"
CACHE = ROOT / "build" / "examples"
RELEASE_ID = "r2026-test"
HOST = "shop.example.com"
# Debian 12 and 13: CPython 3.11 and 3.13 on glibc 2.36 and 2.41.
TARGETS = [("3.11", "x86_64-manylinux_2_36"), ("3.13", "x86_64-manylinux_2_36"), ("3.13", "aarch64-manylinux_2_36")]

# Run by the virtualenv's Python in the release: what a client and the worker would observe.
PROBE = r"""
import json, os, sys
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pyops_sample_django.settings")
import django
django.setup()
from wsgiref.util import setup_testing_defaults
from django.conf import settings
from django.test import Client, override_settings
from pyops_sample_django import celery_app
from pyops_sample_django.wsgi import application
from notes.models import Tick
from notes.tasks import tick

host = sys.argv[1]
client = Client(HTTP_HOST=host)
out = {}

def page(response):
    return {"status": response.status_code, "location": response.get("Location", ""),
            "type": response.get("Content-Type", ""), "body": response.content.decode()}

out["healthz_http"] = page(client.get("/healthz"))
out["healthz_hsts"] = {
    "plain": client.get("/healthz").get("Strict-Transport-Security", ""),
    "proxied_https": client.get("/healthz", HTTP_X_FORWARDED_PROTO="https").get("Strict-Transport-Security", ""),
}
out["index_http"] = page(client.get("/"))
out["index_head"] = client.head("/").status_code
out["admin_login_http"] = page(client.get("/admin/login/"))
with override_settings(SECURE_SSL_REDIRECT=True):
    redirecting = Client(HTTP_HOST=host)
    out["redirect"] = {"index": page(redirecting.get("/")), "healthz": page(redirecting.get("/healthz"))}
out["index"] = page(client.get("/", secure=True))
out["admin_login"] = page(client.get("/admin/login/", secure=True))
out["admin_anonymous"] = page(client.get("/admin/", secure=True))
out["other_host"] = page(Client(HTTP_HOST="evil.example.net").get("/healthz"))
created = client.post("/notes", json.dumps({"text": "round trip"}), content_type="application/json", secure=True)
out["note_created"] = page(created)
if created.status_code == 201:
    out["note_read"] = page(Client(HTTP_HOST=host).get(f"/notes/{created.json()['id']}", secure=True))
out["note_bad"] = page(client.post("/notes", "not json", content_type="application/json", secure=True))
out["note_missing"] = page(client.get("/notes/999999", secure=True))

environ = {"PATH_INFO": "/healthz", "HTTP_HOST": host}
setup_testing_defaults(environ)
started = []
body = b"".join(application(environ, lambda status, headers: started.append(status)))
out["wsgi"] = {"status": started[0], "body": body.decode()}

celery_app.conf.task_always_eager = True
out["ticks_before"] = Tick.objects.count()
out["tick_first"] = tick.delay().get()
out["tick_second"] = tick.delay().get()
out["ticks"] = page(client.get("/ticks", secure=True))
out["beat"] = {name: {"task": entry["task"], "registered": entry["task"] in celery_app.tasks}
               for name, entry in celery_app.conf.beat_schedule.items()}
out["beat_schedule_filename"] = celery_app.conf.beat_schedule_filename
out["broker"] = celery_app.conf.broker_url
out["transport"] = type(celery_app.connection_for_write().transport).__module__
from django.db import connection
out["vendor"] = connection.vendor
print(json.dumps(out))
"""


def uv():
    beside = Path(sys.executable).with_name("uv")  # `make venv` installs uv into .venv
    found = str(beside) if beside.exists() else shutil.which("uv")
    if not found:
        pytest.fail("uv is needed to build the Django sample's virtualenv: `make venv` installs it")
    return found


def run(argv, **kwargs):
    return subprocess.run(argv, capture_output=True, text=True, check=False, **kwargs)


def must(result):
    command = " ".join(arg if len(arg) < 200 else "<probe>" for arg in result.args)
    assert result.returncode == 0, f"{command} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def venv():
    key = hashlib.sha256(LOCK.read_bytes() + sys.version.encode()).hexdigest()[:12]
    path = CACHE / f"django-venv-{key}"
    if not (path / ".complete").exists():
        for stale in CACHE.glob("django-venv-*"):  # an older lock's or a half-built one
            shutil.rmtree(stale, ignore_errors=True)
        must(run([uv(), "venv", "-q", "--python", sys.executable, str(path)]))
        must(run([uv(), "pip", "sync", "-q", "--require-hashes", "--python", str(path / "bin" / "python"), str(LOCK)]))
        (path / ".complete").write_text(LOCK.name, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    """The code as the deploy lays it out: releases/<id> with RELEASE, shared dirs linked in."""
    root = tmp_path_factory.mktemp("app")
    code = root / "releases" / RELEASE_ID
    shutil.copytree(APP, code, ignore=shutil.ignore_patterns("__pycache__", "*.sqlite3", "RELEASE", "staticfiles"))
    (code / "RELEASE").write_text(RELEASE_ID + "\n", encoding="utf-8")
    for name in ("log", "staticfiles", "state"):
        (root / "shared" / name).mkdir(parents=True)
        (code / name).symlink_to(root / "shared" / name)
    return code


def production_env(venv, release, **changes):
    """What the app's environment file would hold, the venv first on PATH; nothing inherited, as under systemd."""
    env = {
        "PATH": f"{venv}/bin:/usr/bin:/bin",
        "HOME": str(release.parent.parent),
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "SECRET_KEY": hashlib.sha256(b"pyops-example").hexdigest(),
        "ALLOWED_HOSTS": f"{HOST},localhost",
        "CSRF_TRUSTED_ORIGINS": f"https://{HOST}",
        "DATABASE_URL": f"sqlite:///{release.parent.parent / 'shared' / 'db.sqlite3'}",
        "REDIS_URL": "redis://db.example.com:6379/0",
    }
    env.update(changes)
    return {name: value for name, value in env.items() if value is not None}


def manage(venv, release, *args, **env_changes):
    python = str(venv / "bin" / "python")
    return run([python, "manage.py", *args], cwd=release, env=production_env(venv, release, **env_changes))


@pytest.fixture(scope="module")
def deployed(venv, release):
    """The deploy's hooks: migrate (once) and collectstatic (per host), as the app's user would run them."""
    must(manage(venv, release, "migrate", "--noinput"))
    must(manage(venv, release, "collectstatic", "--noinput"))
    return release


def probe(venv, release, **env_changes):
    python = str(venv / "bin" / "python")
    result = must(run([python, "-c", PROBE, HOST], cwd=release, env=production_env(venv, release, **env_changes)))
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def observed(venv, deployed):
    return probe(venv, deployed)


def postgres_programs():
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    if not versions:
        pytest.fail("PostgreSQL's server programs (initdb, pg_ctl) are missing: apt-get install postgresql")
    return versions[-1].parent


@pytest.fixture(scope="module")
def postgres():
    """A throwaway PostgreSQL on a unix socket only, as an unprivileged user; yields its DATABASE_URL."""
    programs = postgres_programs()
    home = Path(tempfile.mkdtemp(prefix="pyops-django-pg-"))
    as_user = {}
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        os.chown(home, pwd.getpwnam("nobody").pw_uid, -1)
        as_user = {"user": "nobody"}
    data = home / "data"
    initdb = [str(programs / "initdb"), "-D", str(data), "-U", "app", "-A", "trust", "-E", "UTF8", "--no-sync"]
    must(run(initdb, **as_user))
    options = f"-k {home} -c listen_addresses='' -c fsync=off"
    pg_ctl = [str(programs / "pg_ctl"), "-D", str(data), "-l", str(home / "log")]
    must(run([*pg_ctl, "-o", options, "-w", "-t", "60", "start"], **as_user))
    try:
        yield f"postgres://app@{quote(str(home), safe='')}/postgres"
    finally:
        run([*pg_ctl, "-m", "immediate", "stop"], **as_user)
        shutil.rmtree(home, ignore_errors=True)


@pytest.mark.parametrize(("python", "platform"), TARGETS)
def test_lock_resolves_for_debian_12_and_13(python, platform, tmp_path):
    result = run(
        [uv(), "pip", "install", "--dry-run", "--no-deps", "--require-hashes", "--python-version", python,
         "--python-platform", platform, "--target", str(tmp_path / "target"), "-r", str(LOCK)]
    )  # fmt: skip
    must(result)
    assert "psycopg-binary" in result.stderr + result.stdout


def pins(lock):
    return re.findall(r"^([a-z0-9._-]+==[^ ;\\]+)", lock.read_text(), re.M)


def test_the_readmes_lock_command_gives_the_same_lock(tmp_path):
    """The re-pinning command of the README (docs/django.md gives the same), run in a copy of the project
    whose lock is the committed one (uv keeps the pins it finds there): the lock is what pyproject.toml says."""
    (command,) = re.findall(r"^(uv pip compile .*)$", (APP / "README.md").read_text(), re.M)
    shutil.copy(APP / "pyproject.toml", tmp_path)
    shutil.copy(LOCK, tmp_path / "requirements.txt")
    must(run([uv(), *shlex.split(command)[1:]], cwd=tmp_path))
    assert pins(tmp_path / "requirements.txt") == pins(LOCK)
    assert len(pins(LOCK)) > 20


def test_lock_holds_the_server_and_a_working_libpq(venv):
    for program in ("gunicorn", "celery"):
        assert (venv / "bin" / program).exists(), f"{program} is not in the lock"
    code = "import django, psycopg; print(django.__version__, psycopg.pq.__impl__)"
    versions = must(run([str(venv / "bin" / "python"), "-c", code]))
    django_version, libpq = versions.stdout.split()
    assert django_version.startswith("5.2."), "Django 5.2 LTS"
    assert libpq == "binary"


def test_check_deploy_passes_with_a_production_environment(venv, release):
    result = must(manage(venv, release, "check", "--deploy", "--fail-level", "WARNING"))
    assert "System check identified no issues" in result.stdout


def test_check_deploy_fails_without_https(venv, release):
    result = manage(venv, release, "check", "--deploy", "--fail-level", "WARNING", DJANGO_HTTPS="false")
    assert result.returncode != 0
    for warning in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert warning in result.stderr


@pytest.mark.parametrize("missing", ["SECRET_KEY", "DATABASE_URL"])
def test_settings_refuse_to_start_without(missing, venv, release):
    result = manage(venv, release, "check", **{missing: None})
    assert result.returncode != 0
    assert f"{missing} is not set" in result.stderr


def test_database_url_password_is_not_echoed(venv, release):
    result = manage(venv, release, "check", DATABASE_URL="mysql://app:s3cret-pw@db/app")
    assert result.returncode != 0
    assert "unsupported scheme 'mysql'" in result.stderr
    assert "s3cret-pw" not in result.stderr + result.stdout


def test_migrations_match_the_models(venv, release):
    must(manage(venv, release, "makemigrations", "--check", "--dry-run"))


def test_migrate_creates_the_tables_and_runs_again_without_change(venv, deployed):
    database = deployed.parent.parent / "shared" / "db.sqlite3"
    with sqlite3.connect(database) as connection:
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"notes_note", "notes_tick", "auth_user", "django_session"} <= tables
    assert "No migrations to apply." in must(manage(venv, deployed, "migrate", "--noinput")).stdout


def test_collectstatic_writes_hashed_names_to_the_shared_directory(deployed):
    static = deployed.parent.parent / "shared" / "staticfiles"
    paths = json.loads((static / "staticfiles.json").read_text(encoding="utf-8"))["paths"]
    assert re.fullmatch(r"notes/style\.[0-9a-f]{12}\.css", paths["notes/style.css"])
    assert re.fullmatch(r"admin/css/base\.[0-9a-f]{12}\.css", paths["admin/css/base.css"])
    css = (static / paths["notes/style.css"]).read_text(encoding="utf-8")
    # The reference inside the stylesheet names the hashed logo too.
    assert f'url("{Path(paths["notes/logo.svg"]).name}")' in css
    assert (static / paths["notes/logo.svg"]).is_file()


def test_healthz_names_the_release_over_plain_http(observed):
    page = observed["healthz_http"]
    assert page["status"] == 200, page
    assert page["type"] == "application/json"
    assert '"status":"ok"' in page["body"]
    assert json.loads(page["body"])["release"] == RELEASE_ID
    assert observed["wsgi"]["status"] == "200 OK"
    assert json.loads(observed["wsgi"]["body"])["release"] == RELEASE_ID


def test_pages_answer_the_deploys_plain_http_checks_and_refuse_other_hosts(observed):
    # deploy_smoke_paths ask the candidate's socket in plain HTTP: the pages, not a redirect.
    assert observed["index_http"]["status"] == 200, observed["index_http"]
    assert observed["index_head"] == 200
    assert observed["admin_login_http"]["status"] == 200
    assert observed["other_host"]["status"] == 400
    # Behind the proxy (X-Forwarded-Proto: https) the request is secure, and HSTS is sent.
    assert observed["healthz_hsts"] == {"plain": "", "proxied_https": "max-age=3600"}


def test_with_ssl_redirect_healthz_is_still_answered(observed):
    assert observed["redirect"]["index"]["status"] == 301
    assert observed["redirect"]["index"]["location"] == f"https://{HOST}/"
    assert observed["redirect"]["healthz"]["status"] == 200


def test_index_links_the_hashed_stylesheet(observed, deployed):
    page = observed["index"]
    assert page["status"] == 200, page["body"][:2000]
    paths = json.loads((deployed / "staticfiles" / "staticfiles.json").read_text(encoding="utf-8"))["paths"]
    assert f'href="/static/{paths["notes/style.css"]}"' in page["body"]
    assert f"release {RELEASE_ID}" in page["body"]


def test_admin_login_page_renders(observed):
    login = observed["admin_login"]
    assert login["status"] == 200, login["body"][:2000]
    assert 'name="csrfmiddlewaretoken"' in login["body"]
    assert re.search(r"/static/admin/css/base\.[0-9a-f]{12}\.css", login["body"])
    assert observed["admin_anonymous"]["status"] == 302
    assert observed["admin_anonymous"]["location"].startswith("/admin/login/")


def test_a_note_round_trips_through_the_database(observed):
    created = observed["note_created"]
    assert created["status"] == 201, created
    assert observed["note_read"]["status"] == 200
    assert json.loads(observed["note_read"]["body"]) == json.loads(created["body"])
    assert json.loads(created["body"])["text"] == "round trip"
    assert observed["note_bad"]["status"] == 400
    assert observed["note_missing"]["status"] == 404


def test_the_beat_task_writes_one_row_per_interval(observed, deployed):
    assert observed["beat"] == {"tick": {"task": "notes.tasks.tick", "registered": True}}
    assert observed["ticks_before"] == 0
    assert observed["tick_first"]["first"] is True
    assert observed["tick_second"]["first"] is False
    ticks = json.loads(observed["ticks"]["body"])
    # Two runs in one interval (two beats would do this): one row, runs 2, seen from outside.
    assert ticks["interval_minutes"] == 1
    assert [t["runs"] for t in ticks["ticks"]] == [2]
    assert ticks["ticks"][0]["slot"] == observed["tick_first"]["slot"]
    assert observed["beat_schedule_filename"] == str(deployed / "state" / "celerybeat-schedule")
    assert observed["broker"] == "redis://db.example.com:6379/0"
    assert observed["transport"] == "kombu.transport.redis"


def test_the_celery_command_finds_the_app_and_its_schedule(venv, deployed):
    """What the worker and beat jobs run (`celery -A pyops_sample_django ...`) from the release."""
    result = must(run([str(venv / "bin" / "celery"), "-A", "pyops_sample_django", "report"], cwd=deployed,
                      env=production_env(venv, deployed)))  # fmt: skip
    assert "'task': 'notes.tasks.tick'" in result.stdout
    assert hashlib.sha256(b"pyops-example").hexdigest() not in result.stdout, "report masks SECRET_KEY"


def test_gunicorn_serves_the_wsgi_application(venv, deployed, tmp_path):
    """What the app_server role runs: gunicorn with preload on a unix socket, asked like the deploy's check."""
    sock = tmp_path / "app.sock"
    argv = [str(venv / "bin" / "gunicorn"), "--bind", f"unix:{sock}", "--workers", "1", "--preload"]
    server = subprocess.Popen(  # pylint: disable=consider-using-with
        [*argv, "pyops_sample_django.wsgi:application"],
        cwd=deployed,
        env=production_env(venv, deployed),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not sock.exists() and server.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert sock.exists(), f"gunicorn did not listen (exit {server.poll()})"
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.settimeout(30)
            client.connect(str(sock))
            client.sendall(f"GET /healthz HTTP/1.0\r\nHost: {HOST}\r\n\r\n".encode())
            answer = b"".join(iter(lambda: client.recv(65536), b""))
    finally:
        server.terminate()
        errors = server.communicate(timeout=30)[1]
    head, body = answer.decode().split("\r\n\r\n", 1)
    assert head.startswith("HTTP/1.0 200"), f"{head}\n{errors}"
    assert json.loads(body)["release"] == RELEASE_ID


def test_postgresql_through_a_unix_socket_url(venv, deployed, postgres):
    """The lock's psycopg (binary) against PostgreSQL: the migrations, a note's round trip, the task."""
    must(manage(venv, deployed, "migrate", "--noinput", DATABASE_URL=postgres))
    seen = probe(venv, deployed, DATABASE_URL=postgres)
    assert seen["vendor"] == "postgresql"
    assert seen["note_created"]["status"] == 201, seen["note_created"]
    assert json.loads(seen["note_read"]["body"]) == json.loads(seen["note_created"]["body"])
    assert [t["runs"] for t in json.loads(seen["ticks"]["body"])["ticks"]] == [2]
    assert seen["healthz_http"]["status"] == 200


def database_url_module():
    spec = importlib.util.spec_from_file_location("database_url", APP / "pyops_sample_django" / "database_url.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "postgres://shop:p%40ss%3Aw%2Frd@db.example.com:5433/shop?sslmode=require&connect_timeout=5",
            {"NAME": "shop", "USER": "shop", "PASSWORD": "p@ss:w/rd", "HOST": "db.example.com", "PORT": "5433",
             "OPTIONS": {"sslmode": "require", "connect_timeout": "5"}},
        ),
        (
            "postgresql://app@%2Frun%2Fpostgresql/app",
            {"NAME": "app", "USER": "app", "PASSWORD": "", "HOST": "/run/postgresql", "PORT": "", "OPTIONS": {}},
        ),
        (
            "postgres://app:secret@[::1]:5432/app",
            {"NAME": "app", "USER": "app", "PASSWORD": "secret", "HOST": "::1", "PORT": "5432", "OPTIONS": {}},
        ),
    ],
)  # fmt: skip
def test_database_url_postgres(url, expected):
    assert database_url_module().parse_database_url(url) == {"ENGINE": "django.db.backends.postgresql", **expected}


@pytest.mark.parametrize(
    ("url", "name"),
    [("sqlite:////srv/shop/shared/db.sqlite3", "/srv/shop/shared/db.sqlite3"), ("sqlite:///db.sqlite3", "db.sqlite3"),
     ("sqlite://:memory:", ":memory:")],
)  # fmt: skip
def test_database_url_sqlite(url, name):
    assert database_url_module().parse_database_url(url) == {"ENGINE": "django.db.backends.sqlite3", "NAME": name}


@pytest.mark.parametrize(
    ("url", "message"),
    [("mysql://app:s3cret@db/app", "unsupported scheme 'mysql'"), ("postgres://app:s3cret@db/", "no database name"),
     ("postgres://app:s3cret@db:port/app", "port is not a number")],
)  # fmt: skip
def test_database_url_errors_do_not_repeat_the_password(url, message):
    with pytest.raises(ValueError, match=message) as error:
        database_url_module().parse_database_url(url)
    assert "s3cret" not in str(error.value)


def test_migrations_ahead_names_what_a_newer_release_applied(venv, deployed, postgres, tmp_path):
    """The before_rollback check: a newer release's migration in the database stops a rollback to this one."""
    newer = tmp_path / "releases" / "r2026-newer"
    shutil.copytree(deployed, newer, symlinks=True)
    (newer / "notes" / "migrations" / "0002_note_pinned.py").write_text(
        "from django.db import migrations, models\n\n\n"
        "class Migration(migrations.Migration):\n"
        "    dependencies = [('notes', '0001_initial')]\n"
        "    operations = [migrations.AddField('note', 'pinned', models.BooleanField(default=False))]\n",
        encoding="utf-8",
    )
    must(manage(venv, deployed, "migrate", "--noinput", DATABASE_URL=postgres))
    before = must(manage(venv, deployed, "migrations_ahead", DATABASE_URL=postgres))
    assert "no migration this code lacks" in before.stdout
    must(manage(venv, newer, "migrate", "--noinput", DATABASE_URL=postgres))
    refused = manage(venv, deployed, "migrations_ahead", DATABASE_URL=postgres)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "the database has migrations this code does not have: notes.0002_note_pinned" in refused.stderr
    # The newer release itself has them all.
    must(manage(venv, newer, "migrations_ahead", DATABASE_URL=postgres))
