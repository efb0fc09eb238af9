"""What operators and the deploy flow do to a running proxy: maintenance, drain, changes, bad values.

Each test leaves the proxies as converge left them.
"""

import json

import pytest
import testinfra
from conftest import PROXIES

CONVERGE = "molecule/proxy/converge.yml"
DRAIN = "molecule/proxy/drain.yml"
MAINTENANCE = "playbooks/maintenance.yml"
LIVE_VHOST = {
    "nginx": "/etc/nginx/pyops/vhost-shop.conf",
    "apache": "/etc/apache2/pyops/vhost-shop.conf",
}
MAIN_PID = {"nginx": "/run/nginx.pid", "apache": "/run/apache2/apache2.pid"}


def server_of(name):
    return "apache" if "apache" in name else "nginx"


def served_hosts(fetch, proxy, requests=10):
    hosts = set()
    for _ in range(requests):
        reply = fetch(proxy, "https://shop.test/healthz")
        assert reply.status == 200, reply
        hosts.add(json.loads(reply.body)["host"])
    return hosts


def assert_ran(result, changed=None):
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    if changed is not None:
        recaps = [line for line in result.stdout.splitlines() if "changed=" in line and "ok=" in line]
        assert recaps and all(("changed=0" in line) != changed for line in recaps), recaps


def test_maintenance_page_on_and_off_without_reload(ansible_playbook, fetch):
    pids = {p: testinfra.get_host("podman://" + p).file(MAIN_PID[server_of(p)]).content_string for p in PROXIES}
    on = ["-e", "reverse_proxy_maintenance_site=shop", "-e", "reverse_proxy_maintenance=true"]
    assert_ran(ansible_playbook(MAINTENANCE, *on), changed=True)
    try:
        for proxy in PROXIES:
            reply = fetch(proxy, "https://shop.test/healthz")
            assert reply.status == 503, (proxy, reply)
            assert "Down for maintenance" in reply.body
            assert reply.header("retry-after") == "120"
            assert reply.header("strict-transport-security"), reply.headers
            # Other sites on the proxy keep serving.
            assert fetch(proxy, "https://api.test/healthz").status == 200
    finally:
        off = ["-e", "reverse_proxy_maintenance_site=shop", "-e", "reverse_proxy_maintenance=false"]
        assert_ran(ansible_playbook(MAINTENANCE, *off), changed=True)
    for proxy in PROXIES:
        assert fetch(proxy, "https://shop.test/healthz").status == 200
        host = testinfra.get_host("podman://" + proxy)
        assert host.file(MAIN_PID[server_of(proxy)]).content_string == pids[proxy]


def test_drained_host_gets_no_requests_and_a_main_run_keeps_it_drained(ansible_playbook, fetch):
    assert_ran(ansible_playbook(DRAIN, "-e", '{"drain": ["pyops-proxy-app1"]}'), changed=True)
    try:
        for proxy in PROXIES:
            assert served_hosts(fetch, proxy) == {"pyops-proxy-app2"}, proxy
        # A run of the main entry point in the middle of a deploy must not put app1 back.
        assert_ran(ansible_playbook(CONVERGE, "--limit", "proxies"), changed=False)
        for proxy in PROXIES:
            assert served_hosts(fetch, proxy) == {"pyops-proxy-app2"}, proxy
    finally:
        assert_ran(ansible_playbook(DRAIN, "-e", '{"drain": []}'), changed=True)
    for proxy in PROXIES:
        assert served_hosts(fetch, proxy) == {"pyops-proxy-app1", "pyops-proxy-app2"}, proxy


def test_a_valid_change_is_applied_by_reload(ansible_playbook, fetch):
    pids = {p: testinfra.get_host("podman://" + p).file(MAIN_PID[server_of(p)]).content_string for p in PROXIES}
    marked = ["--limit", "proxies", "-e", "shop_extra_config='# pyops test marker'"]
    try:
        assert_ran(ansible_playbook(CONVERGE, *marked), changed=True)
        for proxy in PROXIES:
            host = testinfra.get_host("podman://" + proxy)
            assert "# pyops test marker" in host.file(LIVE_VHOST[server_of(proxy)]).content_string
            assert host.file(MAIN_PID[server_of(proxy)]).content_string == pids[proxy], "restarted, not reloaded"
            assert fetch(proxy, "https://shop.test/healthz").status == 200
    finally:
        assert_ran(ansible_playbook(CONVERGE, "--limit", "proxies"))


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param({"nginx": "no_such_directive on;", "apache": "NoSuchDirective On"}, id="unknown-directive"),
        pytest.param({"nginx": "location / {", "apache": "<Location />"}, id="unbalanced-block"),
    ],
)
def test_a_bad_value_fails_the_run_and_the_old_configuration_keeps_serving(ansible_playbook, fetch, bad):
    before = {}
    for proxy in PROXIES:
        host = testinfra.get_host("podman://" + proxy)
        before[proxy] = host.file(LIVE_VHOST[server_of(proxy)]).content_string
    for proxy in PROXIES:
        value = bad[server_of(proxy)]
        result = ansible_playbook(CONVERGE, "--limit", proxy, "-e", json.dumps({"shop_extra_config": value}))
        assert result.returncode != 0, result.stdout[-2000:]
        assert "Test the staged configuration" in result.stdout
        host = testinfra.get_host("podman://" + proxy)
        assert host.file(LIVE_VHOST[server_of(proxy)]).content_string == before[proxy]
        assert fetch(proxy, "https://shop.test/healthz").status == 200
    # The drain entry point starts from the live tree, so the bad change does not block it.
    assert_ran(ansible_playbook(DRAIN, "-e", '{"drain": []}'))
    assert_ran(ansible_playbook(CONVERGE, "--limit", "proxies"), changed=False)
