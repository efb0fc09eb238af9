"""Clients for the proxy scenario: every request is made by curl on the tester host (app1)."""

import os
import shlex
from dataclasses import dataclass, field

import pytest
from scenario_hosts import scenario_host
from testinfra.utils.ansible_runner import AnsibleRunner

RUNNER = AnsibleRunner(os.environ["MOLECULE_INVENTORY_FILE"])
PROXIES = RUNNER.get_hosts("proxies")
LOCAL_APPS = RUNNER.get_hosts("local_apps")
# Apache has no request rate limiter of its own: rate limits are tested on the nginx proxies.
NGINX = [h for h in PROXIES if RUNNER.get_variables(h).get("reverse_proxy_server", "nginx") == "nginx"]
TESTER = RUNNER.get_hosts("testers")[0]
# nginx12's certificate is the role's self-signed one, which nothing trusts.
SELF_SIGNED = {"pyops-proxy-nginx12"}


@dataclass
class Reply:
    status: int
    headers: dict = field(default_factory=dict)  # lower-case name -> every value sent, in order
    body: str = ""
    http_version: str = ""

    def header(self, name):
        values = self.headers.get(name.lower())
        return ", ".join(values) if values else None


def parse(raw):
    """curl -i output (one response, no redirects followed) -> Reply."""
    head, _, body = raw.replace("\r\n", "\n").partition("\n\n")
    lines = head.splitlines()
    version, status = lines[0].split()[:2]
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers.setdefault(name.strip().lower(), []).append(value.strip())
    return Reply(int(status), headers, body, version)


@pytest.fixture(scope="session")
def tester():
    return scenario_host(TESTER)


@pytest.fixture(scope="session")
def fetch(tester):
    """fetch(proxy, url, *curl_args) -> Reply: `url` requested through `proxy` (SNI and Host from the URL)."""

    def run(proxy, url, *args):
        argv = ["curl", "-sS", "-i", "--max-time", "15", "--connect-to", f"::{proxy}:", *args, url]
        if proxy in SELF_SIGNED:
            argv.insert(1, "--insecure")
        result = tester.run_expect([0], shlex.join(argv))
        return parse(result.stdout)

    return run
