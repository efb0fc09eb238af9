"""docs/django.md stays true to what the e2e runs (tests/e2e/test_4_django.py runs its runnable blocks on the
sandbox, with inventories/sandbox_shop.yml): its blocks parse, its YAML names only role options, and every
setting its example inventory shows is one the sandbox's shop deploys with (so the e2e exercises it).
"""

import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))
import runbook_blocks  # noqa: E402

GUIDE = ROOT / "docs" / "django.md"
SHOP = ROOT / "inventories" / "sandbox_shop.yml"
# Set in the sandbox's inventory (group_vars/*/shop.yml), or named differently there (the code from a directory).
IN_THE_SANDBOX_INVENTORY = {"hardening_firewall_app_ports_shop", "reverse_proxy_sites_shop", "deploy_git_repo"}


def options():
    names = set()
    for spec in ROOT.glob("roles/*/meta/argument_specs.yml"):
        for entry in yaml.safe_load(spec.read_text())["argument_specs"].values():
            names.update(entry.get("options", {}))
    return names


def yaml_blocks():
    return [yaml.safe_load(b) for b in re.findall(r"^```yaml\n(.*?)^```", GUIDE.read_text(), re.M | re.S)]


def test_the_runnable_blocks_parse_and_deploy_the_sandboxs_shop():
    blocks = runbook_blocks.extract(GUIDE.read_text(), GUIDE.relative_to(ROOT))
    commands = [command for block in blocks for command in block.commands]
    assert any(c.startswith("ansible-playbook pyops.deploy.deploy ") for c in commands), commands
    for command in commands:
        if command.startswith("ansible"):
            assert runbook_blocks.SANDBOX in command, command
            playbook = re.search(r"pyops\.deploy\.(\w+)", command)
            assert playbook is None or (ROOT / "playbooks" / f"{playbook[1]}.yml").is_file(), command


def test_the_lock_command_is_the_one_the_samples_test_runs():
    def commands(path):
        return re.findall(r"^\s*(uv pip compile .*)$", path.read_text(), re.M)

    (readme,) = commands(ROOT / "examples" / "django_app" / "README.md")
    assert commands(GUIDE) == [readme]


def test_the_examples_name_only_role_options():
    known = options() | {"reverse_proxy_sites_shop", "hardening_firewall_app_ports_shop"}
    for block in yaml_blocks():
        assert set(block) <= known, set(block) - known


def test_every_setting_of_the_example_is_one_the_sandboxs_shop_deploys_with():
    shop = yaml.safe_load(SHOP.read_text())
    assert set(shop) - {"sandbox_shop_db_password"} <= options()
    (appservers,) = [block for block in yaml_blocks() if "app_server_name" in block]
    assert set(appservers) - IN_THE_SANDBOX_INVENTORY <= set(shop), set(appservers) - set(shop)
    assert [hook["command"] for hook in appservers["deploy_hooks"]] == [
        hook["command"] for hook in shop["deploy_hooks"]
    ]
    assert appservers["app_server_jobs"] == shop["app_server_jobs"]
    assert set(appservers["app_server_env"]) <= set(shop["app_server_env"])
