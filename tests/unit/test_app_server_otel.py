"""app_server's gunicorn.conf.py with tracing (app_server_otel_enabled): rendered as the template module
renders it (trim_blocks), then run as gunicorn runs a config file, with a stand-in OpenTelemetry."""

import importlib.machinery
import sys
import types
from pathlib import Path

import jinja2
import pytest

TEMPLATES = Path(__file__).resolve().parents[2] / "roles" / "app_server" / "templates"
SETTINGS = {
    "ansible_managed": "Ansible managed",
    "app_server_name": "sample",
    "app_server_kind": "gunicorn",
    "app_server_workers": 2,
    "app_server_threads": 1,
    "app_server_timeout": 30,
    "app_server_graceful_timeout": 30,
    "app_server_keepalive": 5,
    "app_server_max_requests": 0,
}


def render(**settings):
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES), trim_blocks=True, undefined=jinja2.StrictUndefined
    )
    env.filters["comment"] = lambda text: "#\n# " + text + "\n#"
    return env.get_template("gunicorn.conf.py.j2").render(**SETTINGS, **settings)


@pytest.fixture
def otel(monkeypatch):
    """A stand-in for the distro: initialize() sets a tracer provider, as the SDK's configurator does."""

    class ProxyTracerProvider:
        pass

    trace = types.ModuleType("opentelemetry.trace")
    trace.ProxyTracerProvider = ProxyTracerProvider
    trace.provider = ProxyTracerProvider()
    trace.get_tracer_provider = lambda: trace.provider
    auto = types.ModuleType("opentelemetry.instrumentation.auto_instrumentation")
    auto.calls = 0

    def initialize():
        auto.calls += 1
        trace.provider = object()

    auto.initialize = initialize
    package = types.ModuleType("opentelemetry")
    package.trace = trace
    for name, module in {
        "opentelemetry": package,
        "opentelemetry.trace": trace,
        "opentelemetry.instrumentation": types.ModuleType("opentelemetry.instrumentation"),
        "opentelemetry.instrumentation.auto_instrumentation": auto,
    }.items():
        monkeypatch.setitem(sys.modules, name, module)
    return auto


def test_tracing_off_leaves_the_config_as_it_was():
    config = render(app_server_otel_enabled=False)
    assert "opentelemetry" not in config and "import sys" not in config and "importlib" not in config
    assert config.endswith('"gunicorn.ctl")\n')


@pytest.fixture(autouse=True)
def no_django(monkeypatch):
    """No Django in the test's environment unless a test installs its stand-in (find_spec then finds none)."""
    monkeypatch.setitem(sys.modules, "django", None)
    monkeypatch.delenv("DJANGO_SETTINGS_MODULE", raising=False)


def django(monkeypatch):
    module = types.ModuleType("django")
    module.__spec__ = importlib.machinery.ModuleSpec("django", None)
    monkeypatch.setitem(sys.modules, "django", module)


def test_a_django_app_without_its_settings_module_is_refused_before_anything_is_instrumented(otel, monkeypatch):
    django(monkeypatch)
    with pytest.raises(SystemExit) as refused:
        exec(compile(render(app_server_otel_enabled=True), "gunicorn.conf.py", "exec"), {})
    assert "needs DJANGO_SETTINGS_MODULE in app_server_env" in str(refused.value.code)
    assert otel.calls == 0


def test_a_django_app_that_names_its_settings_module_is_traced(otel, monkeypatch):
    django(monkeypatch)
    monkeypatch.setenv("DJANGO_SETTINGS_MODULE", "shop.settings")
    exec(compile(render(app_server_otel_enabled=True), "gunicorn.conf.py", "exec"), {})
    assert otel.calls == 1


def test_tracing_on_initializes_once_per_arbiter_even_when_gunicorn_reads_the_file_again(otel):
    config = render(app_server_otel_enabled=True)
    for _read in range(2):  # gunicorn reads its config at start and again on SIGHUP
        exec(compile(config, "gunicorn.conf.py", "exec"), {})
    assert otel.calls == 1


def test_a_release_without_the_packages_serves_untraced_and_says_why(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "opentelemetry", None)  # import opentelemetry raises ImportError
    namespace = {}
    exec(compile(render(app_server_otel_enabled=True), "gunicorn.conf.py", "exec"), namespace)
    assert namespace["preload_app"] is True and namespace["workers"] == 2
    assert "lacks opentelemetry-distro: serving without traces" in capsys.readouterr().err
