"""The shipped Zabbix template follows the documented export format (6.0) and fits the real agent.

test_zabbix_server.py imports it into Debian 13's Zabbix 7.0; Debian 12's Zabbix 6.0 server is not
run here, so these checks hold it to the 6.0 format's documented fields and values, and match every
key and low-level discovery macro against what the agents really answer.
"""

import json
import os
import re
from pathlib import Path

import pytest
import yaml
from monitoring_helpers import APP_HOSTS, zabbix_get
from scenario_hosts import scenario_host

TEMPLATE = Path(os.environ["MOLECULE_PROJECT_DIRECTORY"]) / "roles/zabbix_agent/files/pyops_app_template.yaml"
UUID4 = re.compile(r"^[0-9a-f]{12}4[0-9a-f]{3}[89ab][0-9a-f]{15}$")
DELAY = re.compile(r"^[0-9]+[smhdw]?$")
VALUE_TYPES = {"FLOAT", "CHAR", "LOG", "UNSIGNED", "TEXT"}
PRIORITIES = {"NOT_CLASSIFIED", "INFO", "WARNING", "AVERAGE", "HIGH", "DISASTER"}
# Fields the 6.0 export format documents for each element (a subset of them is used here).
FIELDS = {
    "template": {"uuid", "template", "name", "description", "groups", "items", "discovery_rules", "macros",
                 "valuemaps", "tags", "templates", "httptests", "dashboards"},
    "item": {"uuid", "name", "type", "key", "delay", "history", "trends", "status", "value_type", "units",
             "description", "valuemap", "tags", "triggers", "trigger_prototypes", "preprocessing", "timeout"},
    "rule": {"uuid", "name", "type", "key", "delay", "status", "lifetime", "description", "filter",
             "item_prototypes", "trigger_prototypes", "graph_prototypes", "lld_macro_paths", "preprocessing"},
    "trigger": {"uuid", "expression", "recovery_mode", "recovery_expression", "name", "opdata", "url",
                "status", "priority", "description", "type", "manual_close", "dependencies", "tags"},
}  # fmt: skip


@pytest.fixture(scope="module")
def export():
    return yaml.safe_load(TEMPLATE.read_text(encoding="utf-8"))["zabbix_export"]


@pytest.fixture(scope="module")
def template(export):
    (only,) = export["templates"]
    return only


def walk_uuids(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "uuid":
                yield value
            else:
                yield from walk_uuids(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk_uuids(value)


def items_with_triggers(template):
    """(item, its triggers) for items and item prototypes."""
    for item in template.get("items", []):
        yield item, item.get("triggers", [])
    for rule in template.get("discovery_rules", []):
        for item in rule.get("item_prototypes", []):
            yield item, item.get("trigger_prototypes", [])


def test_format_version_and_groups(export, template):
    assert export["version"] == "6.0"
    group_names = {group["name"] for group in export["groups"]}
    assert {group["name"] for group in template["groups"]} <= group_names
    assert template["template"] and template["name"]


def test_uuids_are_unique_version_4(export):
    uuids = list(walk_uuids(export))
    assert len(uuids) == len(set(uuids)) > 10
    assert all(UUID4.match(uuid) for uuid in uuids), [u for u in uuids if not UUID4.match(u)]


def test_elements_use_documented_fields_and_values(template):
    assert set(template) <= FIELDS["template"]
    for rule in template["discovery_rules"]:
        assert set(rule) <= FIELDS["rule"] and DELAY.match(rule["delay"])
    for item, triggers in items_with_triggers(template):
        assert set(item) <= FIELDS["item"], item["key"]
        assert item["value_type"] in VALUE_TYPES and DELAY.match(item["delay"])
        for trigger in triggers:
            assert set(trigger) <= FIELDS["trigger"] and trigger["priority"] in PRIORITIES


def test_triggers_reference_their_own_item(template):
    for item, triggers in items_with_triggers(template):
        for trigger in triggers:
            refs = re.findall(r"\(/([^/]+)/([^,)]+(?:\[[^\]]*\])?)", trigger["expression"])
            assert refs and all(ref == (template["template"], item["key"]) for ref in refs), trigger["expression"]


def test_user_macros_are_defined(template):
    defined = {macro["macro"] for macro in template["macros"]}
    used = set(re.findall(r"\{\$[A-Z0-9_.]+\}", json.dumps(template)))
    assert used and used <= defined


def test_value_maps_exist(template):
    maps = {valuemap["name"] for valuemap in template["valuemaps"]}
    used = {item["valuemap"]["name"] for item, _ in items_with_triggers(template) if "valuemap" in item}
    assert used and used <= maps


@pytest.mark.parametrize("name", APP_HOSTS)
def test_keys_are_answered_by_the_agent(template, name):
    config = scenario_host(name).file("/etc/zabbix/zabbix_agent2.d/pyops-apps.conf").content_string
    user_keys = set(re.findall(r"^UserParameter=([^\[,]+)", config, re.M))
    keys = {item["key"].split("[")[0] for item, _ in items_with_triggers(template)}
    keys |= {rule["key"].split("[")[0] for rule in template["discovery_rules"]}
    assert keys - {"agent.ping"} <= user_keys


def test_discovery_macros_come_from_the_agent(mon, psk_files, template):
    name = APP_HOSTS[0]
    for rule in template["discovery_rules"]:
        rows = json.loads(zabbix_get(mon, name, rule["key"], psk_files[name]).stdout)
        offered = set().union(*rows)
        used = set(re.findall(r"\{#[A-Z_]+\}", json.dumps(rule["item_prototypes"])))
        assert used and used <= offered, rule["key"]
