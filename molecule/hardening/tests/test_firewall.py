"""The nftables rules seen from the network: only what the inventory groups allow answers."""

import pytest
from probes import APP, APP_SERVICE_ADDRESS, AUDITOR, AUDITOR_SERVICE_ADDRESS, HARDENED, PROXY, on, reachable


@pytest.mark.parametrize("target", HARDENED)
def test_own_table_is_loaded_with_a_default_drop(target):
    table = on(target).check_output("nft list table inet pyops_filter")
    assert "hook input priority filter; policy drop;" in table


@pytest.mark.parametrize("target", HARDENED)
def test_other_tools_tables_survive(target):
    assert "table inet other_tool" in on(target).check_output("nft list tables")


@pytest.mark.parametrize("target", HARDENED)
def test_ssh_answers_the_scenario_network(target):
    assert reachable(AUDITOR, target, 22)


def test_app_port_answers_the_proxy_only(listener):
    listener(APP, 8000)
    assert reachable(PROXY, APP, 8000)
    assert not reachable(AUDITOR, APP, 8000)


def test_monitoring_port_answers_the_address_the_inventory_names_for_the_monitoring_server(listener):
    # The auditor's hardening_firewall_host_addresses is its address on its second interface: that
    # address is admitted, its default one (the first network, by name) is not, nor the proxy.
    listener(APP, 10050)
    assert reachable(AUDITOR, APP_SERVICE_ADDRESS, 10050)
    assert not reachable(AUDITOR, APP, 10050)
    assert not reachable(PROXY, APP, 10050)


def test_group_rule_opens_its_port_to_that_group_only(listener):
    listener(APP, 9100)
    assert reachable(PROXY, APP, 9100)
    assert not reachable(AUDITOR, APP, 9100)


@pytest.mark.parametrize("target", HARDENED)
def test_udp_group_rule_names_the_groups_addresses(target):
    table = on(target).check_output("nft list table inet pyops_filter")
    rule = next(line for line in table.splitlines() if "dport 514" in line)
    expected = f"ip saddr {AUDITOR_SERVICE_ADDRESS} udp dport 514 accept"
    assert expected in rule and 'comment "udp from monitoring"' in rule, rule


def test_web_ports_are_open_on_the_proxy_only(listener):
    listener(PROXY, 80)
    listener(APP, 80)
    assert reachable(AUDITOR, PROXY, 80)
    assert not reachable(AUDITOR, APP, 80)


def test_unlisted_port_is_closed(listener):
    listener(PROXY, 9999)
    assert not reachable(AUDITOR, PROXY, 9999)
