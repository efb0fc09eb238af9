"""awx/configure_controller.yml's inventory source and SSH user against the prod inventory.

Checkout-only, like the inventories (they do not ship): tests/unit runs from the shipped tree too.
"""

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
CONTROLLER = yaml.safe_load((ROOT / "awx" / "vars" / "controller.yml").read_text())


def test_inventory_source_is_in_the_project():
    assert (ROOT / CONTROLLER["awx_inventory_source_path"]).is_file()


def test_machine_credential_user_is_the_inventory_user():
    inventory = (ROOT / CONTROLLER["awx_inventory_source_path"]).parent
    connection = yaml.safe_load((inventory / "group_vars" / "all" / "connection.yml").read_text())
    assert CONTROLLER["awx_ssh_user"] == connection["ansible_user"]
