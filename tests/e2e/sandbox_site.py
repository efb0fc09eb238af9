"""What the end-to-end tests share: the sandbox's hosts and addresses, and ways to look at them."""

import importlib.util
import json
import os
import re
import ssl
import subprocess
import time
import urllib.request
from pathlib import Path

import testinfra

ROOT = Path(__file__).resolve().parents[2]
HTTPS = f"https://127.0.0.1:{os.environ.get('PYOPS_SANDBOX_HTTPS_PORT', '8443')}"
HTTP = f"http://127.0.0.1:{os.environ.get('PYOPS_SANDBOX_HTTP_PORT', '8080')}"
PROXY, APPS, MONITOR = "pyops-sandbox-proxy", ("pyops-sandbox-app1", "pyops-sandbox-app2"), "pyops-sandbox-monitor"
RUN_TIMEOUT = 3600
# The oldest ansible-core meta/runtime.yml claims, with the collections of its Ansible release (`make venv-216`,
# requirements/core216.txt).
OLDEST_CORE_BIN = ROOT / "build" / "venv-216" / "bin"
# The test's own OTLP/HTTP collector (molecule/otlp_collector.py) on the monitoring host, a transient unit
# that keeps each export's body in OTLP_DIR and the sha256 of its OTLP_HEADER (the planted API key).
OTLP_PORT, OTLP_DIR, OTLP_HEADER, OTLP_UNIT = 4318, "/run/pyops-e2e-otlp", "x-pyops-otlp-key", "pyops-e2e-otlp"
OTLP_COLLECTOR = ROOT / "molecule" / "otlp_collector.py"


def mitogen_env():
    """The settings docs/mitogen.md gives for Mitogen's mitogen_linear strategy (mitogen from requirements/dev.txt)."""
    import ansible_mitogen

    return {
        "ANSIBLE_STRATEGY": "mitogen_linear",
        "ANSIBLE_STRATEGY_PLUGINS": str(Path(ansible_mitogen.__file__).parent / "plugins" / "strategy"),
        "ANSIBLE_PYTHON_INTERPRETER": "/usr/bin/python3",
        # The inventory turns host key checking off with ssh options, which Mitogen does not read.
        "ANSIBLE_HOST_KEY_CHECKING": "False",
    }


def oldest_core_env():
    """PATH that runs ansible-playbook and ansible-galaxy of build/venv-216, with its site-packages' collections."""
    assert (OLDEST_CORE_BIN / "ansible-playbook").is_file(), f"no {OLDEST_CORE_BIN}: run `make venv-216` first"
    return {"PATH": f"{OLDEST_CORE_BIN}{os.pathsep}{os.environ['PATH']}"}


def run_documented(command, awx_project):
    """One `$ ` line of a document (already mapped onto the e2e's copies), run by bash from the operator's
    project as an operator's shell would; its time is printed. The caller judges the return code."""
    started = time.monotonic()
    run = subprocess.run(
        ["bash", "-o", "pipefail", "-c", command],
        cwd=awx_project["project"],
        env=awx_project["env"],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )
    print(f"{time.monotonic() - started:.1f} s: $ {command}")
    return run


def podman_host(name):
    return testinfra.get_host("podman://" + name)


def recap_changed(output):
    output = re.sub(r"\x1b\[[0-9;]*m", "", output)
    # Only the recap's lines: at -vvv a result may say changed= too.
    output = output.rsplit("PLAY RECAP", 1)[-1]
    return {
        line.split()[0]: int(line.split("changed=")[1].split()[0]) for line in output.splitlines() if "changed=" in line
    }


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def get(url):
    """(status, headers, body) of one GET through the published port, redirects not followed."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the sandbox's certificate is self-signed
    opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=context), _NoRedirect)
    try:
        with opener.open(url, timeout=10) as reply:
            return reply.status, dict(reply.headers), reply.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read().decode()


def served(requests=20):
    """Releases and hosts that answered `requests` health checks through the proxy."""
    seen = set()
    for _request in range(requests):
        status, _headers, body = get(HTTPS + "/healthz")
        assert status == 200, body
        reply = json.loads(body)
        seen.add((reply["release"], reply["host"]))
    return {release for release, _host in seen}, {host for _release, host in seen}


def _otlp_collector():
    spec = importlib.util.spec_from_file_location("otlp_collector", OTLP_COLLECTOR)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


otlp = _otlp_collector()


def received_traces():
    """[(spans, sha256 of the OTLP_HEADER it came with)] of every export the monitoring host's collector kept."""
    return otlp.received(podman_host(MONITOR).check_output(otlp.listing_command(OTLP_DIR)))
