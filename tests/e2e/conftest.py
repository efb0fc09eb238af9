"""Fixtures of the end-to-end tests: the sandbox, an operator's project that installs the collection
from its tarball as AWX would, and ways to run playbooks from it and look at the hosts.

The test files are numbered: they run in that order and each builds on the state the one before left.
"""

import json
import os
import shutil
import subprocess

import pytest
import yaml
from planted_secrets import plant, podman
from sandbox_site import MONITOR, OTLP_COLLECTOR, OTLP_DIR, OTLP_HEADER, OTLP_PORT, OTLP_UNIT, ROOT, RUN_TIMEOUT


@pytest.fixture(scope="session")
def sandbox():
    # The tests need fresh hosts (the first site run must change every one): a sandbox left by a
    # killed run or by `make demo` still holds releases, locks and drained upstreams.
    # PYOPS_REUSE_SANDBOX=1 keeps the running one, to rerun later test files against the state a
    # kept sandbox (PYOPS_KEEP_SANDBOX=1) was left in.
    if not os.environ.get("PYOPS_REUSE_SANDBOX"):
        subprocess.run([ROOT / "tools" / "sandbox.sh", "down"], check=True)
        subprocess.run([ROOT / "tools" / "sandbox.sh", "up"], check=True)
    yield
    if not os.environ.get("PYOPS_KEEP_SANDBOX"):
        subprocess.run([ROOT / "tools" / "sandbox.sh", "down"], check=True)


def trace_to_the_monitoring_host(inventory):
    """Tracing on in the e2e's copy of the inventory (its API key is planted: planted_secrets.py), sent to the
    test's collector on the monitoring host, whose firewall admits the app hosts on its port (a group rule,
    as the log collector's)."""
    (inventory / "group_vars" / "appservers" / "tracing.yml").write_text(
        "---\n# Written by tests/e2e/conftest.py: traces to the test's collector on the monitoring host.\n"
        "app_server_otel_enabled: true\n"
        f"app_server_otel_endpoint: \"http://{{{{ hostvars['{MONITOR}'].ansible_host }}}}:{OTLP_PORT}\"\n"
        "app_server_otel_resource_attributes: {deployment.environment.name: e2e}\n"
    )
    firewall = inventory / "group_vars" / "monitoring" / "firewall.yml"
    rules = yaml.safe_load(firewall.read_text())
    rules["hardening_firewall_group_rules"].append(
        {"group": "appservers", "ports": [OTLP_PORT], "comment": "OTLP traces (the e2e's collector)"}
    )
    firewall.write_text("---\n" + yaml.safe_dump(rules, sort_keys=False))


@pytest.fixture(scope="session")
def otlp_collector(sandbox):
    """The test's OTLP/HTTP collector (molecule/otlp_collector.py) on the monitoring host, started afresh
    before the first site run: a transient unit keeping each export in OTLP_DIR."""
    podman(MONITOR, "cat > /usr/local/bin/pyops-otlp-collector", stdin=OTLP_COLLECTOR.read_text())
    podman(MONITOR, f"systemctl stop {OTLP_UNIT}; systemctl reset-failed {OTLP_UNIT}; rm -rf {OTLP_DIR}")
    rc, out = podman(
        MONITOR,
        f"systemd-run --unit={OTLP_UNIT} --collect python3 /usr/local/bin/pyops-otlp-collector"
        f" {OTLP_DIR} {OTLP_PORT} {OTLP_HEADER} 2>&1",
    )
    assert rc == 0, out


@pytest.fixture(scope="session")
def awx_project(tmp_path_factory, sandbox):
    """An ansible-runner private data dir: project/ (the operator's repo), inventory/, env/.

    The inventory is the sandbox's with secrets planted in it (planted_secrets.plant): "planted" holds
    them. The first site run gets the vault password as AWX gives it (env/passwords, the prompt); the
    other runs from "env" read it from ANSIBLE_VAULT_PASSWORD_FILE, as an operator's shell would.
    """
    data = tmp_path_factory.mktemp("runner")
    project = data / "project"
    (project / "collections").mkdir(parents=True)
    tarball = subprocess.run(
        [ROOT / "tools" / "build-collection.sh", str(data)], check=True, capture_output=True, text=True
    ).stdout.strip()
    (project / "collections" / "requirements.yml").write_text(
        f"---\ncollections:\n  - name: {tarball}\n    type: file\n"
    )
    (project / "site.yml").write_text(
        "---\n- name: The whole stack\n  ansible.builtin.import_playbook: pyops.deploy.site\n"
    )
    shutil.copytree(ROOT / "examples" / "flask_app", project / "app")
    shutil.copytree(ROOT / "inventories" / "sandbox", data / "inventory")
    trace_to_the_monitoring_host(data / "inventory")
    # Only what the project installed: not the checkout's ansible.cfg or its collections/ link.
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(ANSIBLE_COLLECTIONS_PATH=str(project / "collections"), ANSIBLE_FORCE_COLOR="false")
    # What an AWX project update does with collections/requirements.yml.
    subprocess.run(
        ["ansible-galaxy", "collection", "install", "-r", "collections/requirements.yml", "-p", "collections"],
        cwd=project,
        env=env,
        check=True,
    )
    (data / "env").mkdir()
    (data / "env" / "envvars").write_text(
        json.dumps({"ANSIBLE_COLLECTIONS_PATH": env["ANSIBLE_COLLECTIONS_PATH"], "ANSIBLE_NOCOLOR": "1"})
    )
    (data / "env" / "extravars").write_text(json.dumps({"deploy_src_dir": str(project / "app")}))
    planted = plant(data)
    env["ANSIBLE_VAULT_PASSWORD_FILE"] = str(planted["vault_password_file"])
    return {"data": data, "project": project, "env": env, "planted": planted}


@pytest.fixture(scope="session")
def run_playbook(awx_project):
    """run(playbook, *args, wait=True, env=None): ansible-playbook from the operator's project, by FQCN.

    env adds to the project's environment (e.g. sandbox_site.mitogen_env()).

    wait=False starts it in its own session and returns the Popen, so that a test can kill it.
    """

    def run(playbook, *args, wait=True, env=None):
        argv = ["ansible-playbook", "-i", str(awx_project["data"] / "inventory"), playbook]
        argv += ["-e", f"deploy_src_dir={awx_project['project'] / 'app'}", *args]
        options = {"cwd": awx_project["project"], "env": {**awx_project["env"], **(env or {})}}
        if not wait:
            return subprocess.Popen(
                argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True, **options
            )
        # The tests judge the return code themselves (some runs must fail).
        return subprocess.run(argv, capture_output=True, text=True, timeout=RUN_TIMEOUT, check=False, **options)

    return run
