"""What operators and the deploy flow do to a running proxy: maintenance, drain, changes, bad values.

Each test leaves the proxies as converge left them.
"""

import json

from conftest import PROXIES
from scenario_hosts import scenario_host

PROXIES_PLAY = "molecule/proxy/proxies.yml"
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
    pids = {p: scenario_host(p).file(MAIN_PID[server_of(p)]).content_string for p in PROXIES}
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
        host = scenario_host(proxy)
        assert host.file(MAIN_PID[server_of(proxy)]).content_string == pids[proxy]


def test_a_change_is_applied_by_reload_keeps_a_drained_host_out_and_a_bad_one_never_goes_live(ansible_playbook, fetch):
    hosts = {p: scenario_host(p) for p in PROXIES}
    pids = {p: h.file(MAIN_PID[server_of(p)]).content_string for p, h in hosts.items()}
    marked = ["-e", "shop_extra_config='# pyops test marker'"]
    bad = {"nginx": "no_such_directive on;", "apache": "NoSuchDirective On"}
    # One run breaks every proxy, each with a directive its own server refuses.
    bad_per_host = "{{ " + json.dumps(bad) + "[reverse_proxy_server | default('nginx')] }}"
    try:
        assert_ran(ansible_playbook(DRAIN, "-e", '{"drain": ["pyops-proxy-app1"]}'), changed=True)
        for proxy in PROXIES:
            assert served_hosts(fetch, proxy) == {"pyops-proxy-app2"}, proxy
        # A change through the main entry point in the middle of a deploy: applied by a reload,
        # and app1 stays out.
        assert_ran(ansible_playbook(PROXIES_PLAY, *marked), changed=True)
        for proxy, host in hosts.items():
            assert "# pyops test marker" in host.file(LIVE_VHOST[server_of(proxy)]).content_string
            assert host.file(MAIN_PID[server_of(proxy)]).content_string == pids[proxy], "restarted, not reloaded"
            assert served_hosts(fetch, proxy) == {"pyops-proxy-app2"}, proxy
        assert_ran(ansible_playbook(DRAIN, "-e", '{"drain": []}'), changed=True)
        for proxy in PROXIES:
            assert served_hosts(fetch, proxy) == {"pyops-proxy-app1", "pyops-proxy-app2"}, proxy

        result = ansible_playbook(PROXIES_PLAY, "-e", json.dumps({"shop_extra_config": bad_per_host}))
        assert result.returncode != 0, result.stdout[-2000:]
        failed = [line for line in result.stdout.splitlines() if "failed=1" in line]
        assert len(failed) == len(PROXIES) and "Test the staged configuration" in result.stdout, result.stdout[-3000:]
        for proxy, host in hosts.items():
            live = host.file(LIVE_VHOST[server_of(proxy)]).content_string
            assert "# pyops test marker" in live and bad[server_of(proxy)] not in live
            assert fetch(proxy, "https://shop.test/healthz").status == 200

        # The drain entry point starts from the live tree, so the refused change does not block it;
        # the upstream is already as asked, so nothing changes.
        assert_ran(ansible_playbook(DRAIN, "-e", '{"drain": []}'), changed=False)
    finally:
        assert_ran(ansible_playbook(PROXIES_PLAY), changed=True)
    for proxy, host in hosts.items():
        assert "# pyops test marker" not in host.file(LIVE_VHOST[server_of(proxy)]).content_string


def test_a_drain_that_would_empty_the_upstream_is_refused_and_changes_nothing(ansible_playbook, fetch):
    hosts = {p: scenario_host(p) for p in PROXIES}
    upstream = {p: LIVE_VHOST[server_of(p)].replace("vhost-shop", "upstream-shop") for p in PROXIES}
    before = {p: h.file(upstream[p]).content_string for p, h in hosts.items()}
    drained = {p: h.file("/var/lib/pyops-proxy/drain/shop.json") for p, h in hosts.items()}
    drained_before = {p: f.content_string if f.exists else None for p, f in drained.items()}

    result = ansible_playbook(DRAIN, "-e", '{"drain": ["pyops-proxy-app2", "pyops-proxy-app1"]}')

    assert result.returncode != 0, result.stdout[-2000:]
    message = (
        "Refusing to drain pyops-proxy-app1, pyops-proxy-app2 from site shop: no member of its upstream"
        " (pyops-proxy-app1, pyops-proxy-app2) would be left serving. Drain fewer hosts at a time."
    )
    assert message in " ".join(result.stdout.split()), result.stdout[-3000:]
    for proxy, host in hosts.items():
        assert host.file(upstream[proxy]).content_string == before[proxy]
        assert (drained[proxy].content_string if drained[proxy].exists else None) == drained_before[proxy]
        assert served_hosts(fetch, proxy) == {"pyops-proxy-app1", "pyops-proxy-app2"}, proxy
