"""The example inventories load, and every variable they set is one a role or playbook reads.

A misspelt variable in group_vars is silently ignored by Ansible; here it fails instead.
"""

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
INVENTORIES = sorted(p.name for p in (ROOT / "inventories").iterdir() if (p / "hosts.yml").exists())
EXAMPLE_VAULT_PASSWORD = "pyops-example"
# Read by the playbooks themselves rather than by a role.
PLAYBOOK_VARIABLES = {"deploy_hosts", "deploy_serial", "deploy_rollback_serial", "pyops_proxy_hosts", "status_history"}


def role_variables():
    names = set()
    for spec in ROOT.glob("roles/*/meta/argument_specs.yml"):
        for entry in yaml.safe_load(spec.read_text())["argument_specs"].values():
            names.update(entry.get("options", {}))
    return names


def with_inventory(argv, name, tmp_path):
    """stdout of an Ansible command run against inventories/<name>, its vault opened."""
    password = tmp_path / "vault-password"
    password.write_text(EXAMPLE_VAULT_PASSWORD)
    inventory_args = ["-i", str(ROOT / "inventories" / name), "--vault-password-file", str(password)]
    return subprocess.run([*argv, *inventory_args], capture_output=True, text=True, check=True).stdout


def per_app_prefixes():
    """The prefixes of the per-app variables roles merge (`hardening_firewall_app_ports_<app>`: the varnames
    lookups of their defaults)."""
    found = set()
    for defaults in ROOT.glob("roles/*/defaults/main.yml"):
        found.update(re.findall(r"varnames', '\^(\w+?)_\.\+\$'", defaults.read_text()))
    return found


def inventory(name, tmp_path):
    return json.loads(with_inventory(["ansible-inventory", "--list"], name, tmp_path))


@pytest.mark.parametrize("name", INVENTORIES)
def test_every_play_group_has_hosts(name, tmp_path):
    listed = inventory(name, tmp_path)
    for group in ("proxies", "appservers", "monitoring"):
        assert listed[group]["hosts"], f"{name}: group {group} is empty"


@pytest.mark.parametrize("name", INVENTORIES)
def test_every_variable_is_read_by_a_role_or_playbook(name, tmp_path):
    known = role_variables() | PLAYBOOK_VARIABLES
    per_app = per_app_prefixes()
    assert per_app == {"hardening_firewall_app_ports", "reverse_proxy_sites"}
    listed = inventory(name, tmp_path)
    unknown = set()
    for hostvars in listed["_meta"]["hostvars"].values():
        unknown |= {
            v
            for v in hostvars
            if not re.match(r"^(ansible_|vault_)", v)
            and v not in known
            and not any(v.startswith(p + "_") for p in per_app)
        }
    assert not unknown, f"{name}: variables no role or playbook reads: {sorted(unknown)}"


@pytest.mark.parametrize("name", INVENTORIES)
def test_controller_tasks_do_not_become(name, tmp_path):
    """group_vars/all reaches the implicit localhost too, and a become variable overrides a task's
    `become: false`: the controller-side tasks (artifact build, certificates) would sudo on the
    controller, which an AWX execution environment cannot. The playbooks say `become: true`."""
    debug = ["-m", "ansible.builtin.debug", "-a", "msg=become={{ ansible_become | default(false) }}"]
    shown = with_inventory(["ansible", "localhost", *debug], name, tmp_path)
    assert "become=False" in shown, shown


@pytest.mark.parametrize("name", ["prod", "staging"])
def test_the_files_the_inventory_names_beside_it_are_not_read_as_inventory(name, tmp_path):
    """Every controller file a group_vars value names under {{ inventory_dir }} (the PKI), made where it says:
    Ansible must not try them as inventory sources (a parse warning per file, a failure under
    INVENTORY_ANY_UNPARSED_IS_FAILED)."""
    copy = tmp_path / name
    shutil.copytree(ROOT / "inventories" / name, copy)
    hosts = inventory(name, tmp_path)["_meta"]["hostvars"]
    made = set()
    for path in (copy / "group_vars").rglob("*.yml"):
        for relative in re.findall(r"\{\{ inventory_dir \}\}/(?!\.\./)([^\"'\s]+)", path.read_text()):
            for host in hosts:
                made.add(relative.replace("{{ inventory_hostname }}", host))
    for relative in made:
        (copy / relative).parent.mkdir(parents=True, exist_ok=True)
        (copy / relative).write_text("-----BEGIN CERTIFICATE-----\nnot an inventory\n-----END CERTIFICATE-----\n")
    password = tmp_path / "vault-password"
    password.write_text(EXAMPLE_VAULT_PASSWORD)
    argv = ["ansible-inventory", "--list", "-i", str(copy), "--vault-password-file", str(password)]
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert made, "the example names its certificates under {{ inventory_dir }}"
    assert "as an inventory source" not in result.stderr, result.stderr
