"""Shared by every scenario's testinfra tests (pyproject.toml makes the repo root pytest's rootdir)."""

import json
import os
import subprocess
from pathlib import Path

import pytest

_PROBE = Path(__file__).with_name("http_probe.py")
_PROBE_ON_HOST = "/usr/local/bin/pyops-http-probe"


@pytest.fixture(scope="module")
def http_probe():
    """Returns probe(host, target, path="/healthz", seconds=0) -> the probe's JSON report as a dict."""
    installed = set()

    def probe(host, target, path="/healthz", seconds=0):
        if host.backend.get_hostname() not in installed:
            script = f"cat > {_PROBE_ON_HOST} <<'PYEOF'\n{_PROBE.read_text()}\nPYEOF\nchmod 0755 {_PROBE_ON_HOST}"
            host.run_expect([0], script)
            installed.add(host.backend.get_hostname())
        return json.loads(host.run_expect([0], f"python3 {_PROBE_ON_HOST} {target} {path} {seconds}").stdout)

    probe.path = _PROBE_ON_HOST
    return probe


@pytest.fixture(scope="session")
def ansible_playbook():
    """Returns run(playbook, *args) -> CompletedProcess of ansible-playbook against the scenario's hosts.

    `playbook` is a path relative to the project (playbooks/x.yml, molecule/<s>/converge.yml), so
    that tests run the same files an operator or molecule runs, with the same collection and config.
    """
    project = Path(os.environ["MOLECULE_PROJECT_DIRECTORY"])
    env = dict(
        os.environ,
        ANSIBLE_COLLECTIONS_PATH=str(project / "collections"),
        ANSIBLE_CONFIG=str(project / "ansible.cfg"),
        ANSIBLE_FORCE_COLOR="false",
    )
    inventory = str(Path(os.environ["MOLECULE_INVENTORY_FILE"]).parent)

    def run(playbook, *args, timeout=900, wait=True):
        """wait=False starts the run in its own session and returns the Popen (to kill it half-way)."""
        argv = ["ansible-playbook", "-i", inventory, str(project / playbook), *args]
        if not wait:
            return subprocess.Popen(
                argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
            )
        return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout)

    return run


@pytest.fixture(scope="module")
def broken_candidate():
    """Returns start(host, app, package) -> (`systemctl start` result, unit state after it, unit journal).

    Starts <app>-candidate@broken.service on a copy of /srv/<app>/releases/r1 whose `package` raises
    on import, then removes the copy and resets the failed unit.
    """

    def start(host, app, package):
        broken = f"/srv/{app}/releases/broken"
        unit = f"{app}-candidate@broken.service"
        host.run_expect(
            [0],
            f"rm -rf {broken} && cp -a /srv/{app}/releases/r1 {broken}"
            f" && echo 'raise RuntimeError(\"broken release\")' >> {broken}/{package}/__init__.py",
        )
        try:
            started = host.run(f"systemctl start {unit}")
            state = host.run(f"systemctl is-active {unit}").stdout.strip()
            return started, state, host.run(f"journalctl --no-pager -o cat -u {unit}").stdout
        finally:
            host.run(f"systemctl reset-failed {unit}; rm -rf {broken}")

    return start
